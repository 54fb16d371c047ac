"""The AWS resources the settings name: what `provision_aws` creates and `--check` verifies."""

from dataclasses import dataclass

from django.conf import settings

#: SQS keeps dead letters for its maximum, 14 days, so operators have time to look.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class Queue:
    name: str
    dead_letter_name: str
    max_receive_count: int


def buckets():
    """Every bucket named in STORAGES, in order, without repeats."""
    names = []
    for storage in settings.STORAGES.values():
        name = storage.get("OPTIONS", {}).get("bucket_name")
        if name and name not in names:
            names.append(name)
    return names


def queues():
    """Each Stratus queue with its dead-letter queue."""
    prefix = settings.STRATUS_SQS_QUEUE_PREFIX
    return [
        Queue(prefix + name, prefix + name + "-dlq", settings.STRATUS_SQS_MAX_RECEIVE_COUNT)
        for name in settings.STRATUS_SQS_QUEUES
    ]


def domains():
    """The SimpleDB domains of the session engine and the cache."""
    return [settings.SIMPLEDB_SESSIONS_DOMAIN, settings.SIMPLEDB_CACHE_DOMAIN]


#: Days after which S3 removes a spilled value the cache itself did not delete.
SPILL_EXPIRY_DAYS = 30


def spill_prefixes(bucket):
    """Prefixes in `bucket` where SimpleDB caches spill large values (for lifecycle rules)."""
    return sorted({
        cache.get("OPTIONS", {}).get("SPILL_PREFIX", "cache-spill/")
        for cache in settings.CACHES.values()
        if cache.get("BACKEND", "").endswith("SimpleDBCache")
        and cache.get("OPTIONS", {}).get("SPILL_BUCKET") == bucket
    })


def cors_origins():
    """Browsers upload from (and download to) the site's own origin."""
    return [settings.SITE_URL]
