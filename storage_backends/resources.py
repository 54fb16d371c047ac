"""The AWS resources the settings name: what `provision_aws` creates and `--check` verifies.

Only what is in use: with every piece of state in DynamoDB, no SimpleDB domain is named (an
AWS account opened since SimpleDB closed to new customers cannot create one).
"""

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


#: The session engines of the two stores.
SIMPLEDB_SESSIONS = "storage_backends.simpledb.sessions"
DYNAMODB_SESSIONS = "storage_backends.dynamodb.sessions"


def _in_use(store, session_engine, session_setting, cache_backend):
    """The names a store's session engine, caches, task results, workers' reports and
    schedule claims use, in order, once each (none when nothing uses that store)."""
    names = []
    if settings.SESSION_ENGINE == session_engine and getattr(settings, session_setting, None):
        names.append(getattr(settings, session_setting))
    for cache in settings.CACHES.values():
        if cache.get("BACKEND", "").endswith(cache_backend) and cache.get("LOCATION"):
            names.append(cache["LOCATION"])
    for backend in task_backends():
        config = backend.config
        if config.results_store == store:
            names.append(config.results_domain if store == "simpledb" else config.results_table)
            if config.metrics_interval:  # workers' reports (tasks.metrics.store)
                names.append(config.metrics_domain if store == "simpledb"
                             else config.metrics_table)
            if config.schedules:  # the claims of periodic tasks' slots
                names.append(config.schedules_domain if store == "simpledb"
                             else config.schedules_table)
    return list(dict.fromkeys(names))


def domains():
    """The SimpleDB domains in use: the session engine's (if sessions are in SimpleDB), every
    SimpleDB cache's, and the task results', workers' reports' and (for backends with
    SCHEDULES) schedule claims' of backends that keep them in SimpleDB."""
    return _in_use("simpledb", SIMPLEDB_SESSIONS, "SIMPLEDB_SESSIONS_DOMAIN", "SimpleDBCache")


def tables():
    """The DynamoDB tables in use, as `domains()` for SimpleDB: the session engine's
    (DYNAMODB_SESSIONS_TABLE), every DynamoDBCache's, the task results', the workers'
    reports' and schedule claims'."""
    return _in_use("dynamodb", DYNAMODB_SESSIONS, "DYNAMODB_SESSIONS_TABLE", "DynamoDBCache")


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
