"""`manage.py prune_task_results`: delete task results past their retention, and the
claims of periodic tasks' slots past theirs.

Run it periodically (e.g. daily). On SimpleDB expired results are not otherwise removed; on
DynamoDB the table's TTL deletes them too, lazily, but not the S3 objects of large ones
(the bucket's lifecycle rule does, later).
"""

import time

from django.core.management.base import BaseCommand, CommandError

from storage_backends.tasks.commands import sqs_aliases, sqs_backend
from storage_backends.tasks.results import STORE_ERRORS
from storage_backends.tasks.schedules.claims import claim_store


class Command(BaseCommand):
    help = ("Delete the task results older than their backend's RESULT_RETENTION, from every "
            "SQSBackend in TASKS (or only --backend).")

    def add_arguments(self, parser):
        parser.add_argument("--backend", help="the TASKS alias (default: every SQSBackend)")

    def handle(self, *args, backend=None, **options):
        for alias in [backend] if backend else sqs_aliases():
            store = sqs_backend(alias).results
            try:
                deleted = store.prune()
            except STORE_ERRORS as error:
                raise CommandError(f"tasks {alias}: prune failed: {error}") from error
            self.stdout.write(f"tasks {alias}: deleted {deleted} expired result"
                              f"{'' if deleted == 1 else 's'} from {store.location}")
            if sqs_backend(alias).config.schedules:
                self.prune_claims(alias)

    def prune_claims(self, alias):
        """The claims of periodic tasks' slots past their time (docs/tasks.md)."""
        claims = claim_store(sqs_backend(alias))
        try:
            deleted = claims.prune(time.time())
        except STORE_ERRORS as error:
            raise CommandError(f"tasks {alias}: prune of schedule claims failed: "
                               f"{error}") from error
        self.stdout.write(f"tasks {alias}: deleted {deleted} expired schedule claim"
                          f"{'' if deleted == 1 else 's'} from {claims.location}")
