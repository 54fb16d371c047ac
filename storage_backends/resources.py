"""The AWS resources the settings name: what `provision_aws` creates and `--check` verifies."""

from dataclasses import dataclass, field

from django.conf import settings

#: SQS keeps dead letters for its maximum, 14 days, so operators have time to look.
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class Queue:
    name: str
    dead_letter_name: str
    max_receive_count: int
    visibility_timeout: int
    wait_seconds: int
    #: The SQSBackend that sends to it (the first, if several share it).
    backend: object = field(default=None, compare=False, repr=False)

    def attributes(self):
        """The SQS attributes provision_aws sets and --check compares (but the redrive)."""
        return {"VisibilityTimeout": str(self.visibility_timeout),
                "ReceiveMessageWaitTimeSeconds": str(self.wait_seconds)}


def buckets():
    """Every bucket named in STORAGES, in order, without repeats."""
    names = []
    for storage in settings.STORAGES.values():
        name = storage.get("OPTIONS", {}).get("bucket_name")
        if name and name not in names:
            names.append(name)
    return names


def task_backends():
    """The SQSBackend instances of TASKS."""
    from django.tasks import task_backends as backends

    from .tasks import SQSBackend

    return [backends[alias] for alias in settings.TASKS
            if isinstance(backends[alias], SQSBackend)]


def queues():
    """Each SQS queue of the task backends (one per queue and priority band), with its
    dead-letter queue."""
    found = {}
    for backend in task_backends():
        config = backend.config
        for name in config.sqs_names():
            found.setdefault(name, Queue(name, name + "-dlq", config.max_receive_count,
                                         config.visibility_timeout, config.wait_seconds,
                                         backend))
    return list(found.values())


def domains():
    """The SimpleDB domains of the session engine, every SimpleDB cache and the task
    results."""
    names = [settings.SIMPLEDB_SESSIONS_DOMAIN, settings.SIMPLEDB_CACHE_DOMAIN]
    for cache in settings.CACHES.values():
        if cache.get("BACKEND", "").endswith("SimpleDBCache") and \
                cache.get("LOCATION") and cache["LOCATION"] not in names:
            names.append(cache["LOCATION"])
    for backend in task_backends():
        if backend.config.results_domain not in names:
            names.append(backend.config.results_domain)
    return names


#: Days after which S3 removes a spilled value the cache itself did not delete.
SPILL_EXPIRY_DAYS = 30


def spill_prefixes(bucket):
    """Prefixes in `bucket` where SimpleDB and DynamoDB caches spill large values and task
    backends keep large payloads and results (for lifecycle rules)."""
    prefixes = {
        cache.get("OPTIONS", {}).get("SPILL_PREFIX", "cache-spill/")
        for cache in settings.CACHES.values()
        if cache.get("BACKEND", "").endswith(("SimpleDBCache", "DynamoDBCache"))
        and cache.get("OPTIONS", {}).get("SPILL_BUCKET") == bucket
    }
    prefixes |= {backend.config.payload_prefix for backend in task_backends()
                 if backend.config.payload_bucket == bucket}
    return sorted(prefixes)


def cors_origins():
    """Browsers upload from (and download to) the site's own origin."""
    return [settings.SITE_URL]
