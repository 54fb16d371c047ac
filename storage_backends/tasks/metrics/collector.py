"""What one worker process has run, counted in memory: per SQS queue and task, the outcomes
and histograms of run time and of wait time (enqueue to start), cumulative since the worker
started, and for the current report interval the longest wait per queue and (for the EMF
log line) a sample of the raw times.

`Collector.task_ran` is on the hot path: a task thread calls it once per run. It takes one
lock, a dict lookup and two bisects, and makes no call to any service; the reporter
(`reporter.py`) reads the figures every interval.
"""

import bisect
import random
import threading
from dataclasses import dataclass, field

#: Upper bounds (seconds) of the histogram buckets of run and wait times; one more bucket
#: holds what lies above the last. From a no-op task (5 ms) to an hour (retry backoffs and
#: deferrals make waits long).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
           120.0, 300.0, 900.0, 3600.0)
#: What a run came to, by the worker's Outcome action.
OUTCOMES = {"delete": "succeeded", "retry": "retried", "dead-letter": "failed"}
#: Most (queue, task) series a worker keeps; runs of any further task count under OTHER.
#: Task paths only ever resolve to registered tasks, so this is a backstop.
MAX_SERIES = 200
OTHER = "(other)"
#: Raw times kept per series and interval for the EMF line: an EMF metric holds at most 100
#: values. Beyond that a uniform sample is kept (reservoir sampling).
MAX_SAMPLES = 100


class Histogram:
    """Counts per bucket of BUCKETS (the last: above them all) and the sum of the values."""

    __slots__ = ("counts", "total")

    def __init__(self, counts=None, total=0.0):
        self.counts = list(counts) if counts is not None else [0] * (len(BUCKETS) + 1)
        self.total = total

    def observe(self, seconds):
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le="bound").
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    @property
    def count(self):
        return sum(self.counts)


class Sample:
    """At most MAX_SAMPLES of the values seen in one interval, uniformly chosen."""

    __slots__ = ("values", "seen")

    def __init__(self):
        self.values = []
        self.seen = 0

    def add(self, value):
        self.seen += 1
        if len(self.values) < MAX_SAMPLES:
            self.values.append(value)
        else:
            slot = random.randrange(self.seen)  # noqa: S311 - sampling, not security
            if slot < MAX_SAMPLES:
                self.values[slot] = value


@dataclass
class Series:
    """One queue and task's figures."""

    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    run: Histogram = field(default_factory=Histogram)
    wait: Histogram = field(default_factory=Histogram)
    run_sample: Sample = field(default_factory=Sample)
    wait_sample: Sample = field(default_factory=Sample)


@dataclass(frozen=True)
class Interval:
    """What one report takes from the collector: every series as it stands (cumulative),
    and what the interval just ended saw."""

    series: dict          # (queue, task) -> Series (copies)
    longest_wait: dict    # queue -> the longest wait (s) of a task started in the interval
    samples: dict         # (queue, task) -> (run times, wait times) of the interval


class Collector:
    """A worker's figures, shared by its task threads (see the module docstring).

    `samples`: keep raw times for the EMF line (only a worker that writes it needs them)."""

    def __init__(self, samples=False):
        self.samples = samples
        self._lock = threading.Lock()
        self._series = {}
        self._longest_wait = {}

    def task_ran(self, delivery, action, run_seconds, now):
        """Count one run of a delivery's task that took `run_seconds` and ended at `now`
        (epoch seconds) in the Outcome `action`. The wait is counted on first attempts
        only (a retry waits its backoff by design): from the enqueue, or the run_after if
        later, to the start."""
        payload = delivery.payload
        wait = None
        if delivery.attempt == 1:
            due = payload.enqueued_at
            if payload.run_after is not None and payload.run_after > due:
                due = payload.run_after
            wait = max(0.0, now - run_seconds - due.timestamp())
        self.ran(delivery.sqs_name, payload.task_path, OUTCOMES.get(action, "failed"),
                 run_seconds, wait)

    def ran(self, queue, task, outcome, run_seconds, wait_seconds=None):
        """Count one run: its outcome ("succeeded", "retried", "failed"), its run time and,
        if known, how long it waited to start (seconds)."""
        with self._lock:
            series = self._series.get((queue, task))
            if series is None:
                if len(self._series) >= MAX_SERIES:
                    task = OTHER
                series = self._series.setdefault((queue, task), Series())
            setattr(series, outcome, getattr(series, outcome) + 1)
            series.run.observe(run_seconds)
            if self.samples:
                series.run_sample.add(run_seconds)
            if wait_seconds is not None:
                series.wait.observe(wait_seconds)
                if self.samples:
                    series.wait_sample.add(wait_seconds)
                if wait_seconds > self._longest_wait.get(queue, -1.0):
                    self._longest_wait[queue] = wait_seconds

    def take_interval(self):
        """Every series as it stands, and the interval's longest waits and samples; the
        interval's figures start again from nothing."""
        with self._lock:
            series, samples = {}, {}
            for key, found in self._series.items():
                series[key] = Series(found.succeeded, found.retried, found.failed,
                                     Histogram(found.run.counts, found.run.total),
                                     Histogram(found.wait.counts, found.wait.total))
                if found.run_sample.values or found.wait_sample.values:
                    samples[key] = (found.run_sample.values, found.wait_sample.values)
                    found.run_sample, found.wait_sample = Sample(), Sample()
            longest, self._longest_wait = self._longest_wait, {}
        return Interval(series, longest, samples)
