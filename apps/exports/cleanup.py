"""Forgetting zip exports: what `manage.py clear_exports` and the `clear_exports` task do."""

from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from .models import ZipExport


def clear_expired(now=None):
    """Delete the exports whose download link expired (S3 object and row), and those never
    finished a day after they were asked for; how many went. Running it twice is harmless."""
    now = now or timezone.now()
    expired = ZipExport.objects.filter(
        ready_at__lte=now - timedelta(seconds=settings.STRATUS_EXPORT_EXPIRY))
    stale = ZipExport.objects.filter(ready_at__isnull=True,
                                     created_at__lte=now - timedelta(days=1))
    cleared = 0
    for export in [*expired, *stale]:
        if export.key:
            default_storage.delete(export.key)  # S3: no error if it is gone
        export.delete()
        cleared += 1
    return cleared
