"""What a reader (the /metrics endpoint, the admin's metrics page) gathers: SQS's counts
for every task queue and its dead-letter queue, and every worker's latest report from the
metrics store. Nothing is kept between reads: any web process of any node answers the same.

Calls per read: one GetQueueAttributes per queue and per dead-letter queue, and one Select
(SimpleDB) or Scan (DynamoDB) per metrics store.

The age of the oldest message is not one of SQS's queue attributes: CloudWatch computes it
(AWS/SQS ApproximateAgeOfOldestMessage, which the deploy template's alarm watches). What a
reader has instead is `longest_wait`: the longest wait of a task started in the workers'
last report interval (from its enqueue time), the largest over the running workers.
"""

import time
from dataclasses import dataclass, field

from ... import resources
from ..worker.deliveries import SERVICE_ERRORS
from . import records
from .collector import BUCKETS


@dataclass
class QueueFigures:
    """One SQS queue: SQS's counts, and what the running workers polling it saw."""

    name: str
    dead_letter_name: str
    backend: str
    counts: dict | None = None     # visible, in_flight, delayed; None: SQS did not say
    dead_letters: int | None = None
    problems: list = field(default_factory=list)
    workers: int = 0
    longest_wait: float | None = None


@dataclass
class TaskFigures:
    """One queue and task, summed over the workers' reports."""

    queue: str
    task: str
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    run: list = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    run_sum: float = 0.0
    wait: list = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    wait_sum: float = 0.0

    def add(self, series):
        self.succeeded += series.succeeded
        self.retried += series.retried
        self.failed += series.failed
        self.run = [a + b for a, b in zip(self.run, series.run[0], strict=True)]
        self.run_sum += series.run[1]
        self.wait = [a + b for a, b in zip(self.wait, series.wait[0], strict=True)]
        self.wait_sum += series.wait[1]

    @property
    def runs(self):
        return sum(self.run)

    @property
    def waits(self):
        return sum(self.wait)


@dataclass
class Figures:
    """Everything one read gathered, at `now` (epoch seconds)."""

    now: float
    queues: list
    reports: list                  # records.Report, one per worker, of these queues
    unreadable: list               # why each record that was not used was refused
    sqs_unreachable: str = ""
    store_problems: list = field(default_factory=list)
    complete: bool = True          # False: a store held more records than are read

    def tasks(self):
        """TaskFigures per (queue, task), summed over every report, sorted."""
        found = {}
        for report in self.reports:
            for series in report.series:
                key = (series.queue, series.task)
                found.setdefault(key, TaskFigures(*key)).add(series)
        return [found[key] for key in sorted(found)]


def gather(now=None):
    """The Figures of every SQSBackend in TASKS."""
    from ..admin_views import count_queues

    now = time.time() if now is None else now
    queues = resources.queues()
    rows, unreachable = count_queues(queues)
    found = {}
    for row in rows:
        queue = row["queue"]
        counts, dead = row["counts"], row["dead_letter_counts"]
        found[queue.name] = QueueFigures(
            name=queue.name, dead_letter_name=queue.dead_letter_name,
            backend=queue.backend.alias, problems=row["problems"],
            counts=None if counts is None else {
                "visible": counts["ApproximateNumberOfMessages"],
                "in_flight": counts["ApproximateNumberOfMessagesNotVisible"],
                "delayed": counts["ApproximateNumberOfMessagesDelayed"]},
            dead_letters=None if dead is None else dead["ApproximateNumberOfMessages"])
    figures = Figures(now=now, queues=list(found.values()), reports=[], unreadable=[],
                      sqs_unreachable=unreachable)
    _read_reports(figures, set(found))
    for report in figures.reports:
        if report.state(now) != "running":
            continue
        for name in report.queues:
            if name in found:
                found[name].workers += 1
        for name, seconds in report.longest_wait.items():
            queue = found.get(name)
            if queue is not None and (queue.longest_wait is None or seconds > queue.longest_wait):
                queue.longest_wait = seconds
    return figures


def _read_reports(figures, queue_names):
    """Every report naming one of `queue_names` (workers of other backends, or of another
    site sharing the store, are left out), newest worker first."""
    stores = {}
    for backend in resources.task_backends():
        if backend.config.metrics_interval:
            store = backend.metrics
            stores.setdefault(store.location, store)
    for store in stores.values():
        try:
            reading = store.read(figures.now)
        except SERVICE_ERRORS as error:
            figures.store_problems.append(f"{store.location}: {type(error).__name__}: {error}")
            continue
        figures.complete &= reading.complete
        figures.unreadable += [f"{store.location}, record {name}: {reason}"
                               for name, reason in reading.unreadable.items()]
        for name, data in reading:
            try:
                report = records.read(data)
            except ValueError as error:
                figures.unreadable.append(f"{store.location}, record {name}: {error}")
                continue
            if queue_names & set(report.queues):
                figures.reports.append(report)
    figures.reports.sort(key=lambda report: (-report.started, report.worker))


def quantile(fraction, counts):
    """The `fraction` quantile (0-1) of a histogram's counts, interpolated within its
    bucket as Prometheus's histogram_quantile does; None if it is empty. A quantile in the
    bucket above the last bound is that bound (the true value is at least that)."""
    total = sum(counts)
    if not total:
        return None
    rank = fraction * total
    below = 0
    for index, count in enumerate(counts):
        if count and below + count >= rank:
            if index == len(BUCKETS):
                return BUCKETS[-1]
            lower = BUCKETS[index - 1] if index else 0.0
            return lower + (BUCKETS[index] - lower) * (rank - below) / count
        below += count
    return BUCKETS[-1]
