"""Email through Amazon SES (API v2), with the client every Stratus AWS call uses.

django-ses does the work (the raw MIME message, DKIM, configuration sets, its signals),
but makes its own boto3 client in ``open()`` from its own settings, and takes no client
or session from outside. So this subclass replaces ``open()`` alone: the client comes from
``storage_backends.aws`` (region, endpoint, credentials or the instance role, retry mode,
timeouts, the request's AWS time budget), in SES_REGION when SES runs in another region
than the rest. django-ses's ``close()`` only drops its reference, so the shared client is
never closed under another thread.

Settings: MAILERS = {"default": {"BACKEND": "storage_backends.ses.SESBackend"}}, and for
django-ses
USE_SES_V2 = True (SES v2's SendEmail) and AWS_SES_AUTO_THROTTLE = None (its throttle is
per process and asks for the quota on each send; SES's Throttling error is retried by
botocore's retry mode instead).
"""

import django_ses
from django.conf import settings

from . import aws


class SESBackend(django_ses.SESBackend):
    """django-ses's backend on the shared SES v2 client from storage_backends.aws."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("use_ses_v2", True)
        super().__init__(*args, **kwargs)
        region = settings.SES_REGION
        self._client_overrides = {"region_name": region} if region else {}

    def open(self):
        """Take the process's shared client; True when this call took it (as django-ses's)."""
        if self.connection:
            return False
        self.connection = aws.client("sesv2", **self._client_overrides)
        return True
