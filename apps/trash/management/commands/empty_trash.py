from django.core.management.base import BaseCommand

from apps.trash.purge import purge_due


class Command(BaseCommand):
    help = ("Delete for good (rows and S3 objects) the files that have been in the trash "
            "longer than STRATUS_TRASH_DAYS days. Run it daily; running it twice is harmless.")

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true",
                            help="Send the purge_trash task for a worker to run instead.")

    def handle(self, *args, enqueue=False, **options):
        if enqueue:
            from apps.trash.tasks import purge_trash

            result = purge_trash.enqueue()
            self.stdout.write(f"Sent purge_trash (task {result.id}).")
            return
        self.stdout.write(f"Purged {purge_due()} file(s) from the trash.")
