"""`manage.py copy_state --from simpledb --to dynamodb [--cache] [--threads N]`: copy live
sessions, task results and (with --cache) cache entries from SimpleDB to DynamoDB.

Nothing the destination holds is replaced (storage_backends/copying.py), so the command
can be run again, or resumed after an interruption: it copies what is still missing. Run
it while nothing writes to SimpleDB (docs/dynamodb.md, "Choosing a store").
"""

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from storage_backends import copying, resources
from storage_backends.tasks.results import STORE_ERRORS


def _threads(text):
    value = int(text)
    if not 1 <= value <= 64:
        raise ValueError("must be from 1 to 64")
    return value


class Command(BaseCommand):
    help = ("Copy live sessions, task results and (with --cache) cache entries from SimpleDB "
            "to DynamoDB, leaving whatever DynamoDB already holds; safe to run again.")

    def add_arguments(self, parser):
        # One direction for now: the way off SimpleDB.
        parser.add_argument("--from", dest="source", required=True, choices=["simpledb"])
        parser.add_argument("--to", dest="destination", required=True, choices=["dynamodb"])
        parser.add_argument("--cache", action="store_true",
                            help="also copy the cache entries of settings.COPY_STATE_CACHES")
        parser.add_argument("--threads", type=_threads, default=8,
                            help="conditional writes in flight at once (default 8)")

    def handle(self, *args, cache=False, threads=8, **options):
        try:
            pairs = copying.cache_pairs() if cache else {}
        except ValueError as error:
            raise CommandError(str(error)) from error
        if cache and not pairs:
            raise CommandError("--cache needs settings.COPY_STATE_CACHES: {alias: "
                               "(simpledb_domain, dynamodb_table)}")
        try:
            self._report(f"sessions {settings.SIMPLEDB_SESSIONS_DOMAIN} -> "
                         f"{settings.DYNAMODB_SESSIONS_TABLE}", copying.copy_sessions(threads))
            copied = set()
            for backend in resources.task_backends():
                config = backend.config
                pair = (config.results_domain, config.results_table)
                if pair not in copied:
                    copied.add(pair)
                    self._report(f"task results {pair[0]} -> {pair[1]}",
                                 copying.copy_results(backend, threads))
            for alias, (domain, table) in pairs.items():
                self._report(f"cache {alias} {domain} -> {table}",
                             copying.copy_cache(alias, domain, table, threads))
        except (*STORE_ERRORS, BotoCoreError, ClientError) as error:
            raise CommandError(f"copy failed (run it again to go on): {error}") from error

    def _report(self, what, counts):
        self.stdout.write(f"{what}: {counts}")
