"""`manage.py purge_cache [--alias ALIAS]`: delete the expired entries of SimpleDB and
DynamoDB caches.

Expired entries are already misses; this only reclaims their room (and any S3-spilled
values), so run it periodically, e.g. hourly from cron or a scheduled task. A DynamoDB
table's TTL deletes expired items too, free but up to days late, and leaves their spilled
objects to the bucket's lifecycle rule; a purge Scans the whole table (read units for
every item) and pays a write per deleted item.
"""

from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from storage_backends.dynamodb.cache import DynamoDBCache
from storage_backends.dynamodb.errors import DynamoDBError
from storage_backends.simpledb.cache import SimpleDBCache
from storage_backends.simpledb.client import SimpleDBError

#: The caches this command purges: what each calls its store, and the store's name.
STORES = {SimpleDBCache: ("SimpleDB domain", lambda cache: cache.domain),
          DynamoDBCache: ("DynamoDB table", lambda cache: cache.table)}


class Command(BaseCommand):
    help = ("Delete the expired entries of the caches that use SimpleDBCache or DynamoDBCache "
            "(every such alias in CACHES, or only --alias), in batches, and report how many "
            "went.")

    def add_arguments(self, parser):
        parser.add_argument("--alias", help="the CACHES alias to purge (default: every "
                                            "SimpleDBCache and DynamoDBCache alias)")

    def handle(self, *args, alias=None, **options):
        # Expired entries are purged store-wide, whatever their prefix: once per store.
        by_store = {}
        for name in self.aliases(alias):
            kind, store_name = _store(caches[name])
            by_store.setdefault((kind, store_name), []).append(name)
        for (kind, store_name), names in by_store.items():
            try:
                deleted = caches[names[0]].delete_expired()
            except (SimpleDBError, DynamoDBError) as error:
                raise CommandError(f"cache {', '.join(names)}: purge failed: {error}") from error
            self.stdout.write(f"cache {', '.join(names)}: deleted {deleted} expired "
                              f"entr{'y' if deleted == 1 else 'ies'} from {kind} {store_name}")

    @staticmethod
    def aliases(alias):
        if alias is not None:
            if alias not in settings.CACHES:
                raise CommandError(f"No cache alias {alias!r} in CACHES.")
            if not _purgeable(alias):
                raise CommandError(f"Cache {alias!r} does not use SimpleDBCache or "
                                   f"DynamoDBCache.")
            return [alias]
        found = [name for name in settings.CACHES if _purgeable(name)]
        if not found:
            raise CommandError("No cache in CACHES uses SimpleDBCache or DynamoDBCache.")
        return found


def _store(cache):
    """(what the store is, its name) of a purgeable cache."""
    for backend, (kind, name_of) in STORES.items():
        if isinstance(cache, backend):
            return kind, name_of(cache)
    raise TypeError(f"{type(cache).__name__} is not purgeable")


def _purgeable(alias):
    backend = import_string(settings.CACHES[alias]["BACKEND"])
    return isinstance(backend, type) and issubclass(backend, tuple(STORES))
