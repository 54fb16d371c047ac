"""`manage.py purge_cache [--alias ALIAS]`: delete the expired entries of SimpleDB caches.

Expired entries are already misses; this only reclaims their room (and any S3-spilled
values), so run it periodically, e.g. hourly from cron or a scheduled task.
"""

from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from storage_backends.simpledb.cache import SimpleDBCache
from storage_backends.simpledb.client import SimpleDBError


class Command(BaseCommand):
    help = ("Delete the expired entries of the caches that use SimpleDBCache (every such "
            "alias in CACHES, or only --alias), in batches, and report how many went.")

    def add_arguments(self, parser):
        parser.add_argument("--alias", help="the CACHES alias to purge (default: every "
                                            "SimpleDBCache alias)")

    def handle(self, *args, alias=None, **options):
        # Expired entries are purged domain-wide, whatever their prefix: once per domain.
        by_domain = {}
        for name in self.aliases(alias):
            by_domain.setdefault(caches[name].domain, []).append(name)
        for domain, names in by_domain.items():
            try:
                deleted = caches[names[0]].delete_expired()
            except SimpleDBError as error:
                raise CommandError(f"cache {', '.join(names)}: purge failed: {error}") from error
            self.stdout.write(f"cache {', '.join(names)}: deleted {deleted} expired "
                              f"entr{'y' if deleted == 1 else 'ies'} from SimpleDB domain "
                              f"{domain}")

    @staticmethod
    def aliases(alias):
        if alias is not None:
            if alias not in settings.CACHES:
                raise CommandError(f"No cache alias {alias!r} in CACHES.")
            if not _is_simpledb(alias):
                raise CommandError(f"Cache {alias!r} does not use SimpleDBCache.")
            return [alias]
        found = [name for name in settings.CACHES if _is_simpledb(name)]
        if not found:
            raise CommandError("No cache in CACHES uses SimpleDBCache.")
        return found


def _is_simpledb(alias):
    backend = import_string(settings.CACHES[alias]["BACKEND"])
    return isinstance(backend, type) and issubclass(backend, SimpleDBCache)
