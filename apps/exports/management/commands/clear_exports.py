from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.exports.models import ZipExport


class Command(BaseCommand):
    help = ("Delete zip exports whose download link expired (their S3 object and row), and "
            "exports never finished after a day. Run it daily; running it twice is harmless.")

    def handle(self, *args, **options):
        now = timezone.now()
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
        self.stdout.write(f"Cleared {cleared} zip export(s).")
