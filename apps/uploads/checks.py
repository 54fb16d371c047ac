"""System checks: upload limits that S3 itself would refuse, found at start-up rather than by
the first user whose upload fails."""

from django.conf import settings
from django.core import checks
from django.template.defaultfilters import filesizeformat

#: S3's largest object sent in one POST or PUT, and largest object at all.
S3_MAX_SINGLE_UPLOAD_BYTES = 5 * 1000**3
S3_MAX_OBJECT_BYTES = 5 * 1024**4


@checks.register()
def check_upload_limits(app_configs, **kwargs):
    """The multipart threshold within one POST's maximum; the upload limit within S3's."""
    errors = []
    if settings.STRATUS_UPLOAD_MULTIPART_THRESHOLD > S3_MAX_SINGLE_UPLOAD_BYTES:
        errors.append(checks.Error(
            "STRATUS_UPLOAD_MULTIPART_THRESHOLD is over the "
            f"{filesizeformat(S3_MAX_SINGLE_UPLOAD_BYTES)} that S3 accepts in one POST.",
            hint="Files above the threshold go in parts; keep it at most 5 GB (16 MiB is "
                 "the default).", id="uploads.E001"))
    if settings.STRATUS_UPLOAD_MAX_BYTES > S3_MAX_OBJECT_BYTES:
        errors.append(checks.Error(
            f"STRATUS_UPLOAD_MAX_BYTES is over S3's largest object, "
            f"{filesizeformat(S3_MAX_OBJECT_BYTES)}.", id="uploads.E002"))
    return errors
