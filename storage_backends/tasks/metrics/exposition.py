"""Figures (`figures.Figures`) in Prometheus's text exposition format, version 0.0.4.

Every series of what workers ran carries a `worker` label: each worker's counters are
cumulative since it started, and a worker's series ends when its record expires, so
Prometheus's rate() and increase() stay right across restarts and scale-in; sum them
without the label (`sum without (worker) (rate(stratus_tasks_total[5m]))`).
"""

import math

from .collector import BUCKETS, OUTCOMES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape(value):
    """A label value as the format quotes it."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Family:
    """One metric family: its HELP and TYPE lines, then its samples."""

    def __init__(self, name, kind, help_text):
        self.name, self.kind, self.help = name, kind, help_text
        self.samples = []

    def add(self, value, suffix="", **labels):
        self.samples.append((suffix, labels, value))

    def lines(self):
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for suffix, labels, value in self.samples:
            text = ",".join(f'{key}="{escape(labels[key])}"' for key in labels)
            yield f"{self.name}{suffix}{{{text}}} {number(value)}" if text \
                else f"{self.name}{suffix} {number(value)}"

    def histogram(self, counts, total, **labels):
        """The _bucket (cumulative, le), _sum and _count samples of one histogram."""
        cumulative = 0
        for bound, count in zip((*BUCKETS, math.inf), counts, strict=True):
            cumulative += count
            self.add(cumulative, "_bucket", **labels, le=number(bound))
        self.add(total, "_sum", **labels)
        self.add(cumulative, "_count", **labels)


def render(figures):
    """The exposition text of `figures`."""
    queue_messages = Family("stratus_queue_messages", "gauge",
                            "Messages in a task queue by state (SQS's approximate counts).")
    dead_letters = Family("stratus_dead_letter_messages", "gauge",
                          "Messages waiting in a task queue's dead-letter queue (SQS's "
                          "approximate count).")
    queue_workers = Family("stratus_queue_workers", "gauge",
                           "Running workers that poll the queue.")
    longest_wait = Family("stratus_queue_longest_wait_seconds", "gauge",
                          "Longest enqueue-to-start wait of a task started in the workers' "
                          "last report interval (the oldest message seen; CloudWatch's "
                          "ApproximateAgeOfOldestMessage is the queue's own).")
    for queue in figures.queues:
        if queue.counts is not None:
            for state, count in queue.counts.items():
                queue_messages.add(count, queue=queue.name, state=state)
        if queue.dead_letters is not None:
            dead_letters.add(queue.dead_letters, queue=queue.name)
        queue_workers.add(queue.workers, queue=queue.name)
        if queue.longest_wait is not None:
            longest_wait.add(queue.longest_wait, queue=queue.name)

    up = Family("stratus_worker_up", "gauge",
                "1 while a worker reports on time, 0 once it stopped or missed its reports.")
    last_report = Family("stratus_worker_last_report_timestamp_seconds", "gauge",
                         "When the worker last wrote its report (Unix time).")
    start = Family("stratus_worker_start_timestamp_seconds", "gauge",
                   "When the worker started (Unix time).")
    running = Family("stratus_worker_tasks_running", "gauge",
                     "Tasks running in the worker at its last report.")
    concurrency = Family("stratus_worker_concurrency", "gauge",
                         "Task threads of the worker.")
    processed = Family("stratus_worker_tasks_processed_total", "counter",
                       "Tasks whose outcome the worker wrote since it started.")
    tasks = Family("stratus_tasks_total", "counter",
                   "Task runs by outcome: succeeded, retried (failed with attempts left), "
                   "failed (its last attempt failed: FAILED and dead-lettered).")
    run_seconds = Family("stratus_task_run_seconds", "histogram",
                         "Seconds a task run took.")
    wait_seconds = Family("stratus_task_wait_seconds", "histogram",
                          "Seconds from a task's enqueue (or run_after) to its first start.")
    for report in figures.reports:
        worker = report.worker
        up.add(int(report.state(figures.now) == "running"), worker=worker)
        last_report.add(report.at, worker=worker)
        start.add(report.started, worker=worker)
        running.add(report.running, worker=worker)
        concurrency.add(report.concurrency, worker=worker)
        processed.add(report.processed, worker=worker)
        for series in report.series:
            labels = {"worker": worker, "queue": series.queue, "task": series.task}
            for outcome in OUTCOMES.values():
                tasks.add(getattr(series, outcome), **labels, outcome=outcome)
            run_seconds.histogram(*series.run, **labels)
            wait_seconds.histogram(*series.wait, **labels)

    sources = Family("stratus_metrics_source_up", "gauge",
                     "1 if this scrape could read the source (sqs: queue counts; store: "
                     "workers' reports), 0 if not.")
    sources.add(int(not figures.sqs_unreachable), source="sqs")
    sources.add(int(not figures.store_problems), source="store")
    unreadable = Family("stratus_metrics_unreadable_reports", "gauge",
                        "Worker report records that could not be read (corrupt or planted).")
    unreadable.add(len(figures.unreadable))

    families = (queue_messages, dead_letters, queue_workers, longest_wait, up, last_report,
                start, running, concurrency, processed, tasks, run_seconds, wait_seconds,
                sources, unreadable)
    return "".join(line + "\n" for family in families for line in family.lines())
