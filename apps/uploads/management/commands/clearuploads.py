from django.core.management.base import BaseCommand

from apps.uploads.cleanup import clear_abandoned


class Command(BaseCommand):
    help = ("Abort and forget direct uploads left unfinished for longer than "
            "STRATUS_UPLOAD_PENDING_EXPIRY seconds (run it daily, like clearsessions).")

    def handle(self, *args, **options):
        cleared = clear_abandoned()
        self.stdout.write(f"Cleared {cleared} abandoned upload(s).")
