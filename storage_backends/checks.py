"""System checks for storage_backends' configuration (`manage.py check`)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@checks.register(checks.Tags.compatibility, deploy=True)
def check_no_local_endpoint_in_production(app_configs, **kwargs):
    """A production deployment talking to a local emulator would lose everything it wrote."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    errors = []
    for service, url in getattr(settings, "AWS_ENDPOINT_URLS", {}).items():
        if url and urlsplit(url).hostname in LOOPBACK:
            errors.append(checks.Error(
                f"The {service} endpoint {url} is on this machine, in production.",
                hint="Unset the AWS_ENDPOINT_URL_* variables so AWS's own endpoints apply.",
                id="storage_backends.E001",
            ))
    return errors
