"""Django's cache contract, through SimpleDBCache on the local SimpleDB."""

from django.conf import settings

from .conformance import CacheConformance


class TestSimpleDBCache(CacheConformance):
    params = {"BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
              "LOCATION": settings.SIMPLEDB_CACHE_DOMAIN}
