"""The SQS task backend's OPTIONS: read once, validated, with their defaults."""

import re
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.tasks.base import TASK_MIN_PRIORITY

from ..dynamodb.client import TABLE_NAME
from ..simpledb.client import DOMAIN_NAME
from .results import STORES


#: SQS queue names: up to 80 characters of letters, digits, hyphens and underscores.
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
#: SQS's longest visibility timeout (12 hours) and longest long-poll wait.
MAX_VISIBILITY_SECONDS = 12 * 3600
MAX_WAIT_SECONDS = 20
#: The longest METRICS_INTERVAL: a report an hour apart is no liveness signal (and records
#: are kept an hour: storage_backends.tasks.metrics.store.RECORD_RETENTION).
MAX_METRICS_INTERVAL = 600
#: What CloudWatch accepts as a metric namespace.
NAMESPACE = re.compile(r"[A-Za-z0-9 ._/#:-]{1,255}")
#: SQS's longest per-message delay; longer deferrals are re-sent (docs/tasks.md, "Capabilities").
MAX_DELAY_SECONDS = 900

DEFAULTS = {
    "QUEUE_PREFIX": "stratus-",
    # Priority bands: suffix of the SQS queue -> lowest priority it takes. "" is the plain
    # queue. Workers poll the band with the highest floor first.
    "PRIORITY_BANDS": {"high": 1, "": TASK_MIN_PRIORITY},
    "VISIBILITY_TIMEOUT": 60,
    "WAIT_SECONDS": 20,
    "MAX_RECEIVE_COUNT": 10,
    "MAX_ATTEMPTS": 3,
    "RETRY_DELAY": 10,
    "RETRY_DELAY_MAX": 900,
    # Where results are kept: "simpledb" (RESULTS_DOMAIN) or "dynamodb" (RESULTS_TABLE).
    "RESULTS_STORE": "simpledb",
    "RESULTS_DOMAIN": "stratus-task-results",
    "RESULTS_TABLE": "stratus-task-results",
    "RESULT_RETENTION": 7 * 24 * 3600,
    "ENQUEUE_ON_COMMIT": True,
    "PAYLOAD_BUCKET": None,
    "PAYLOAD_PREFIX": "task-payloads/",
    "SHUTDOWN_GRACE": 30,
    # Workers' figures (storage_backends.tasks.metrics): each worker writes a report every
    # METRICS_INTERVAL seconds (0: none) to the results store, in a domain or table of its own.
    "METRICS_INTERVAL": 15,
    "METRICS_DOMAIN": "stratus-task-metrics",
    "METRICS_TABLE": "stratus-task-metrics",
    # Also log one CloudWatch embedded metric format line per interval, in this namespace.
    "METRICS_EMF": False,
    "METRICS_NAMESPACE": "Stratus/Tasks",
    # Periodic tasks (storage_backends.tasks.schedules): name -> entry, and where the
    # claims of their slots are kept, in the results' store.
    "SCHEDULES": {},
    "SCHEDULES_DOMAIN": "stratus-task-schedules",
    "SCHEDULES_TABLE": "stratus-task-schedules",
    # Seconds an attempt may run unless its task sets its own (`@task(time_limit=...)`);
    # None: no limit.
    "TIME_LIMIT": None,
    # Seconds per task module path, before TIME_LIMIT and after the task's own: a limit set
    # in settings leaves the task's declaration portable to other backends.
    "TIME_LIMITS": {},
}


@dataclass(frozen=True)
class Options:
    """Validated OPTIONS of one SQSBackend (docs/tasks.md, "Options")."""

    queue_prefix: str
    priority_bands: tuple  # ((suffix, lowest priority), ...), highest floor first
    visibility_timeout: int
    wait_seconds: int
    max_receive_count: int
    max_attempts: int
    retry_delay: int
    retry_delay_max: int
    results_store: str
    results_domain: str
    results_table: str
    result_retention: int
    enqueue_on_commit: bool
    payload_bucket: str | None
    payload_prefix: str
    shutdown_grace: float
    time_limit: float | None
    time_limits: dict = field(default_factory=dict)
    metrics_interval: int = 15
    metrics_domain: str = "stratus-task-metrics"
    metrics_table: str = "stratus-task-metrics"
    metrics_emf: bool = False
    metrics_namespace: str = "Stratus/Tasks"
    queue_names: tuple = field(default=())
    #: The SCHEDULES entries as given: read by storage_backends.tasks.schedules, once the
    #: task modules they name can be imported.
    schedules: dict = field(default_factory=dict)
    schedules_domain: str = "stratus-task-schedules"
    schedules_table: str = "stratus-task-schedules"

    def sqs_name(self, queue_name, band=""):
        """The SQS queue that holds `queue_name`'s tasks of one priority band."""
        return f"{self.queue_prefix}{queue_name}{'-' + band if band else ''}"

    def band_of(self, priority):
        for band, lowest in self.priority_bands:
            if priority >= lowest:
                return band
        raise ValueError(f"no priority band takes priority {priority}")

    def sqs_names(self, queue_names=None):
        """Every SQS queue of these Django queues, in the order workers poll them: band by
        band, highest first."""
        return [self.sqs_name(queue, band) for band, _lowest in self.priority_bands
                for queue in (queue_names or self.queue_names)]


def _integer(options, name, lowest, highest=None):
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest or (
            highest is not None and value > highest):
        limits = f"between {lowest} and {highest}" if highest is not None else f">= {lowest}"
        raise ImproperlyConfigured(f"SQSBackend OPTIONS[{name!r}] must be an integer {limits}, "
                                   f"not {value!r}")
    return value


def time_limit(value, where):
    """A time limit in seconds, checked: None, or a number above 0 and at most SQS's 12
    hours (a message cannot stay hidden longer). ValueError saying `where` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 < value <= MAX_VISIBILITY_SECONDS):
        raise ValueError(f"{where} must be None or a number of seconds above 0 and at most "
                         f"{MAX_VISIBILITY_SECONDS}, not {value!r}")
    return value


def _boolean(options, name):
    value = options[name]
    if not isinstance(value, bool):  # "false" would otherwise be true
        raise ImproperlyConfigured(f"SQSBackend OPTIONS[{name!r}] must be True or False, "
                                   f"not {value!r}")
    return value


def _bands(value):
    if not isinstance(value, dict) or not value:
        raise ImproperlyConfigured("SQSBackend OPTIONS['PRIORITY_BANDS'] must be a non-empty "
                                   "dict of queue suffix -> lowest priority")
    bands = sorted(value.items(), key=lambda item: item[1], reverse=True)
    for suffix, lowest in bands:
        if not isinstance(suffix, str) or (suffix and not QUEUE_NAME.fullmatch(suffix)):
            raise ImproperlyConfigured(f"priority band suffix {suffix!r} is not usable in an "
                                       "SQS queue name")
        if isinstance(lowest, bool) or not isinstance(lowest, int):
            raise ImproperlyConfigured(f"priority band {suffix!r}: {lowest!r} is not an integer")
    if bands[-1][1] > TASK_MIN_PRIORITY:
        raise ImproperlyConfigured(
            f"PRIORITY_BANDS must give every priority a queue: the lowest band starts at "
            f"{bands[-1][1]}, not {TASK_MIN_PRIORITY}"
        )
    return tuple(bands)


def _time_limit(value):
    try:
        return time_limit(value, "SQSBackend OPTIONS['TIME_LIMIT']")
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from None


def _time_limits(value):
    """TIME_LIMITS checked: a dict of task module path -> seconds (as TIME_LIMIT)."""
    if not isinstance(value, dict) or not all(isinstance(path, str) for path in value):
        raise ImproperlyConfigured("SQSBackend OPTIONS['TIME_LIMITS'] must be a dict of task "
                                   f"module path -> seconds, not {value!r}")
    try:
        return {path: time_limit(seconds, f"SQSBackend OPTIONS['TIME_LIMITS'][{path!r}]")
                for path, seconds in value.items()}
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from None


def parse(options, queue_names):
    """Options from a TASKS entry's OPTIONS and QUEUES; ImproperlyConfigured if invalid."""
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(f"unknown SQSBackend OPTIONS: {', '.join(sorted(unknown))} "
                                   f"(known: {', '.join(sorted(DEFAULTS))})")
    merged = {**DEFAULTS, **options}
    parsed = Options(
        queue_prefix=str(merged["QUEUE_PREFIX"]),
        priority_bands=_bands(merged["PRIORITY_BANDS"]),
        visibility_timeout=_integer(merged, "VISIBILITY_TIMEOUT", 1, MAX_VISIBILITY_SECONDS),
        wait_seconds=_integer(merged, "WAIT_SECONDS", 0, MAX_WAIT_SECONDS),
        max_receive_count=_integer(merged, "MAX_RECEIVE_COUNT", 1, 1000),
        max_attempts=_integer(merged, "MAX_ATTEMPTS", 1),
        retry_delay=_integer(merged, "RETRY_DELAY", 0, MAX_VISIBILITY_SECONDS),
        retry_delay_max=_integer(merged, "RETRY_DELAY_MAX", 0, MAX_VISIBILITY_SECONDS),
        results_store=merged["RESULTS_STORE"],
        results_domain=str(merged["RESULTS_DOMAIN"]),
        results_table=str(merged["RESULTS_TABLE"]),
        result_retention=_integer(merged, "RESULT_RETENTION", 60),
        enqueue_on_commit=_boolean(merged, "ENQUEUE_ON_COMMIT"),
        payload_bucket=merged["PAYLOAD_BUCKET"] or None,
        payload_prefix=str(merged["PAYLOAD_PREFIX"]),
        shutdown_grace=_integer(merged, "SHUTDOWN_GRACE", 0),
        metrics_interval=_integer(merged, "METRICS_INTERVAL", 0, MAX_METRICS_INTERVAL),
        metrics_domain=str(merged["METRICS_DOMAIN"]),
        metrics_table=str(merged["METRICS_TABLE"]),
        metrics_emf=_boolean(merged, "METRICS_EMF"),
        metrics_namespace=str(merged["METRICS_NAMESPACE"]),
        time_limit=_time_limit(merged["TIME_LIMIT"]),
        time_limits=_time_limits(merged["TIME_LIMITS"]),
        queue_names=tuple(queue_names),
        schedules=merged["SCHEDULES"],
        schedules_domain=str(merged["SCHEDULES_DOMAIN"]),
        schedules_table=str(merged["SCHEDULES_TABLE"]),
    )
    if not isinstance(parsed.schedules, dict):
        raise ImproperlyConfigured("SQSBackend OPTIONS['SCHEDULES'] must be a dict of "
                                   "schedule name -> entry (docs/tasks.md, \"Periodic tasks\")")
    if parsed.results_store not in STORES:
        raise ImproperlyConfigured(f"SQSBackend OPTIONS['RESULTS_STORE'] must be one of "
                                   f"{', '.join(map(repr, STORES))}, not "
                                   f"{parsed.results_store!r}")
    # Results, workers' reports and schedule claims each have a domain or a table, in the
    # results' store.
    for option in ("RESULTS", "METRICS", "SCHEDULES"):
        if parsed.results_store == "simpledb":
            name, pattern, kind = f"{option}_DOMAIN", DOMAIN_NAME, "SimpleDB domain"
        else:
            name, pattern, kind = f"{option}_TABLE", TABLE_NAME, "DynamoDB table"
        value = getattr(parsed, name.lower())
        if not pattern.fullmatch(value):
            raise ImproperlyConfigured(f"{name} {value!r} is not a valid {kind} name")
    if not NAMESPACE.fullmatch(parsed.metrics_namespace) \
            or parsed.metrics_namespace.startswith("AWS/"):
        raise ImproperlyConfigured(f"METRICS_NAMESPACE {parsed.metrics_namespace!r} is not a "
                                   "CloudWatch namespace of one's own")
    for name in parsed.sqs_names():
        if not QUEUE_NAME.fullmatch(name + "-dlq"):
            raise ImproperlyConfigured(
                f"SQS queue name {name!r} (and its dead-letter queue {name}-dlq) must be at "
                f"most 80 letters, digits, hyphens or underscores"
            )
    if parsed.max_attempts >= parsed.max_receive_count:
        raise ImproperlyConfigured(
            f"MAX_ATTEMPTS ({parsed.max_attempts}) must be below MAX_RECEIVE_COUNT "
            f"({parsed.max_receive_count}), or SQS dead-letters a task before its last retry"
        )
    return parsed
