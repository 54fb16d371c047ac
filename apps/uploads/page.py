"""What the upload page tells the browser's uploader: the API, the limits, and the uploads
left unfinished that choosing the same file again resumes."""

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from . import parts
from .models import PendingUpload


def describe(pending):
    """One unfinished upload as the uploader sees it (the API's list and the page's)."""
    described = {"upload": pending.token, "name": pending.original_name, "size": pending.size,
                 "fingerprint": pending.fingerprint, "key": pending.key,
                 "multipart": pending.multipart}
    if pending.multipart:
        described.update(uploadId=pending.upload_id,
                         parts=parts.part_count(pending.size, pending.part_size))
    return described


def uploader_context(user):
    """Template context for a page holding the uploader (the site's and the admin's)."""
    unfinished = list(PendingUpload.objects.filter(uploader=user).exclude(upload_id=""))
    return {
        "unfinished_uploads": unfinished,
        "unfinished_described": [describe(pending) for pending in unfinished],
        "uploader": {
            "api": reverse("uploads:uploads"),
            "max_bytes": settings.STRATUS_UPLOAD_MAX_BYTES,
            "multipart_threshold": settings.STRATUS_UPLOAD_MULTIPART_THRESHOLD,
            "url_expiry": settings.STRATUS_UPLOAD_URL_EXPIRY,
            "part_min": parts.MIN_PART_BYTES,
            "part_max": parts.MAX_PART_BYTES,
            "part_target": parts.TARGET_PARTS,
            "sign_batch": parts.SIGN_BATCH,
            "done_url": reverse("library:list"),
            "note": f"Files up to {filesizeformat(settings.STRATUS_UPLOAD_MAX_BYTES)}. An "
                    f"interrupted upload resumes when you choose the same file again.",
        },
    }
