"""`manage.py provision_aws [--check] [--wait S]`: the buckets, queues, SimpleDB domains and
DynamoDB tables the settings name."""

import time

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from django.core.management.base import BaseCommand, CommandError

from storage_backends.provisioning import Provisioner, Unfixable

#: How often --wait tries again while the endpoints refuse connections.
WAIT_INTERVAL_SECONDS = 0.5


def _seconds(text):
    value = float(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


class Command(BaseCommand):
    help = ("Create, idempotently, every S3 bucket (public access blocked, CORS for the site), "
            "SQS queue (with its dead-letter queue), SimpleDB domain and DynamoDB table (on "
            "demand, TTL on, point-in-time recovery in production) the settings use. With "
            "--check, change nothing and exit non-zero listing what is missing or wrong.")

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="only verify; exit 1 listing every problem found")
        parser.add_argument("--wait", type=_seconds, default=0, metavar="SECONDS",
                            help="keep trying this long while the endpoints refuse connections "
                                 "(for a stack that is still starting)")

    def handle(self, *args, check=False, wait=0, **options):
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.run(check)
            except CommandError as error:
                if not isinstance(error.__cause__, EndpointConnectionError) or \
                        time.monotonic() >= deadline:
                    raise
            time.sleep(WAIT_INTERVAL_SECONDS)

    def run(self, check):
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
        except Unfixable as error:
            raise CommandError(str(error)) from error
