"""A worker's report: the JSON document each worker writes to the metrics store every
interval, and its reading.

The document holds the worker's figures since it started (cumulative, so a lost write
loses nothing but freshness) and its state:

    {"v": 1, "worker": id, "started": epoch, "at": epoch, "interval": s, "stopped": bool,
     "queues": [SQS queue names it polls], "concurrency": n, "running": n, "processed": n,
     "buckets": BUCKETS,
     "series": [[queue, task, succeeded, retried, failed,
                 [run counts per bucket], run sum, [wait counts per bucket], wait sum], ...],
     "longest_wait": {queue: s}}

Whoever can write to the store could plant a document, so a read is bounded (the store's
codec stops at MAX_DOCUMENT_BYTES before parsing) and every field's type and range is
checked: a document that fails is not used, and counted as unreadable.
"""

import json
import math
from dataclasses import dataclass

from .collector import BUCKETS, MAX_SERIES

VERSION = 1
#: The longest document written or read (bytes of JSON): MAX_SERIES series take ~100 kB.
MAX_DOCUMENT_BYTES = 256 * 1024
#: Longest worker id, queue name or task path in a document.
MAX_NAME = 1000
#: Most queues one worker polls, as far as a reader believes.
MAX_QUEUES = 100


@dataclass(frozen=True)
class SeriesFigures:
    """One queue and task's figures in a report (histograms as (counts, sum))."""

    queue: str
    task: str
    succeeded: int
    retried: int
    failed: int
    run: tuple
    wait: tuple


@dataclass(frozen=True)
class Report:
    """One worker's report, as read from the store."""

    worker: str
    started: float
    at: float
    interval: float
    stopped: bool
    queues: tuple
    concurrency: int
    running: int
    processed: int
    series: tuple
    longest_wait: dict

    def state(self, now):
        """"running" (reported within two intervals and a margin), "stopped" (it said so)
        or "silent" (missed its reports: it died, or cannot reach the store)."""
        if self.stopped:
            return "stopped"
        return "running" if now - self.at <= silent_after(self.interval) else "silent"


def silent_after(interval):
    """Seconds without a report after which a worker counts as silent."""
    return 2 * interval + 5


def document(worker, started, at, interval, stopped, queues, concurrency, running,
             processed, series, longest_wait):
    """The bytes of a report (`series`: (queue, task) -> collector.Series)."""
    rows = [[queue, task, s.succeeded, s.retried, s.failed, s.run.counts, round(s.run.total, 6),
             s.wait.counts, round(s.wait.total, 6)] for (queue, task), s in series.items()]
    data = json.dumps({
        "v": VERSION, "worker": worker, "started": round(started, 3), "at": round(at, 3),
        "interval": interval, "stopped": stopped, "queues": list(queues),
        "concurrency": concurrency, "running": running, "processed": processed,
        "buckets": list(BUCKETS), "series": rows,
        "longest_wait": {queue: round(s, 3) for queue, s in longest_wait.items()},
    }, separators=(",", ":")).encode()
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"a report of {len(data)} bytes is over {MAX_DOCUMENT_BYTES}")
    return data


def read(data):
    """The Report in `data` (bytes); ValueError saying why it cannot be used."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{len(data)} bytes, over {MAX_DOCUMENT_BYTES}")
    try:
        found = json.loads(data)
    except (RecursionError, UnicodeDecodeError) as error:
        raise ValueError(f"not JSON: {type(error).__name__}") from error
    if not isinstance(found, dict):
        raise ValueError("not a JSON object")
    if found.get("v") != VERSION:
        raise ValueError(f"version {found.get('v')!r}, not {VERSION}")
    if found.get("buckets") != list(BUCKETS):
        raise ValueError("written with other histogram buckets")
    queues = _list(found, "queues", MAX_QUEUES)
    rows = _list(found, "series", MAX_SERIES + MAX_QUEUES)
    longest = found.get("longest_wait")
    if not isinstance(longest, dict) or len(longest) > MAX_QUEUES:
        raise ValueError("longest_wait is not an object of at most "
                         f"{MAX_QUEUES} queues")
    return Report(
        worker=_name(found.get("worker"), "worker"),
        started=_seconds(found.get("started"), "started"),
        at=_seconds(found.get("at"), "at"),
        interval=_seconds(found.get("interval"), "interval"),
        stopped=_flag(found.get("stopped"), "stopped"),
        queues=tuple(_name(queue, "queue") for queue in queues),
        concurrency=_count(found.get("concurrency"), "concurrency"),
        running=_count(found.get("running"), "running"),
        processed=_count(found.get("processed"), "processed"),
        series=tuple(_series(row) for row in rows),
        longest_wait={_name(queue, "queue"): _seconds(s, "longest_wait")
                      for queue, s in longest.items()},
    )


def _list(found, key, most):
    value = found.get(key)
    if not isinstance(value, list) or len(value) > most:
        raise ValueError(f"{key} is not a list of at most {most}")
    return value


def _series(row):
    if not isinstance(row, list) or len(row) != 9:
        raise ValueError("a series is not a list of 9 fields")
    queue, task, succeeded, retried, failed, run, run_sum, wait, wait_sum = row
    return SeriesFigures(
        queue=_name(queue, "queue"), task=_name(task, "task"),
        succeeded=_count(succeeded, "succeeded"), retried=_count(retried, "retried"),
        failed=_count(failed, "failed"),
        run=(_counts(run), _seconds(run_sum, "run sum")),
        wait=(_counts(wait), _seconds(wait_sum, "wait sum")),
    )


def _name(value, what):
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME or not value.isprintable():
        raise ValueError(f"{what} is not 1 to {MAX_NAME} printable characters")
    return value


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} is not a whole number >= 0")
    return value


def _seconds(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} is not a finite number >= 0")
    return float(value)


def _flag(value, what):
    if not isinstance(value, bool):
        raise ValueError(f"{what} is not true or false")
    return value


def _counts(value):
    if not isinstance(value, list) or len(value) != len(BUCKETS) + 1:
        raise ValueError(f"a histogram is not {len(BUCKETS) + 1} counts")
    return tuple(_count(count, "a bucket count") for count in value)
