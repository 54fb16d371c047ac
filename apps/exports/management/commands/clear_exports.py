from django.core.management.base import BaseCommand

from apps.exports.cleanup import clear_expired


class Command(BaseCommand):
    help = ("Delete zip exports whose download link expired (their S3 object and row), and "
            "exports never finished after a day. Run it daily; running it twice is harmless.")

    def handle(self, *args, **options):
        self.stdout.write(f"Cleared {clear_expired()} zip export(s).")
