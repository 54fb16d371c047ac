"""`manage.py provision_aws [--check]`: the buckets, queues and domains the settings name."""

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from storage_backends.provisioning import Provisioner


class Command(BaseCommand):
    help = ("Create, idempotently, every S3 bucket (public access blocked, CORS for the site), "
            "SQS queue (with its dead-letter queue) and SimpleDB domain the settings name. "
            "With --check, change nothing and exit non-zero listing what is missing or wrong.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="only verify; exit 1 listing every problem found")

    def handle(self, *args, check=False, **options):
        provisioner = Provisioner()
        try:
            if check:
                problems = provisioner.check_all()
                if problems:
                    raise CommandError("AWS resources are not as the settings need:\n  "
                                       + "\n  ".join(problems))
                self.stdout.write("All AWS resources are in place.")
                return
            for line in provisioner.ensure_all():
                self.stdout.write(line)
        except (BotoCoreError, ClientError) as error:
            raise CommandError(f"AWS call failed: {error}") from error
