"""What a running task may tell its worker, and ask of it: progress, and whether to stop.

A task calls these module functions (or the same methods of its context, with
`@task(takes_context=True)`):

- `report_progress(done, total=None, message="")`: how far it is. Cheap: it only keeps the
  latest value; the worker writes it to the result at most once a second
  (PROGRESS_EVERY), and the last value always with the outcome.
- `should_stop()`: whether the worker asks it to stop, because its time limit has passed
  or it was cancelled (`stop_reason()` says which); `raise_if_stopped()` raises `Stopped`
  then. A Python thread cannot be killed, so a long task that checks between steps ends
  soon after; one that does not runs on, abandoned (docs/tasks.md, "Time limits").

Outside a worker's run (a task called directly, by `ImmediateBackend`, in a test) they
do nothing: progress goes nowhere and nothing asks to stop.

The run's state is found through a context variable, so a coroutine task (run by
asgiref, which copies the context) sees it as well as a plain one.
"""

import json
import math
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.tasks import TaskContext
from django.utils import timezone

#: Seconds between two progress writes of one task, at least.
PROGRESS_EVERY = 1.0
#: Characters of a progress message kept.
MAX_MESSAGE = 200
#: The longest stored progress text read back (a stored one is at most ~500 bytes; a
#: longer one was not written by a worker).
MAX_STORED_PROGRESS = 2048
#: Why a run is asked to stop.
TIME_LIMIT, CANCELLED = "time limit", "cancelled"


class Stopped(Exception):
    """Raised by a task that stops because its worker asked it to (`raise_if_stopped`)."""


class TimeLimitExceeded(Exception):
    """Recorded as the error of an attempt that ran past its time limit."""


class Cancelled(Exception):
    """Recorded as the error of a cancelled task (storage_backends.tasks.cancel)."""


@dataclass(frozen=True)
class Progress:
    """How far a task is: `done` of `total` (None: unknown), a short message, and when it
    was reported."""

    done: float
    total: float | None
    message: str
    reported_at: datetime

    @property
    def percent(self):
        """Whole percent done (0-100), or None when there is no total."""
        if not self.total:
            return None
        return max(0, min(100, int(self.done * 100 // self.total)))

    def to_json(self):
        return json.dumps({"d": self.done, "t": self.total, "m": self.message,
                           "at": self.reported_at.isoformat()}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        """The Progress a stored text holds, or None if it holds none (or garbage)."""
        if not isinstance(text, str) or not text or len(text) > MAX_STORED_PROGRESS:
            return None
        try:
            data = json.loads(text)
            done, total, message = data["d"], data["t"], data["m"]
            reported_at = datetime.fromisoformat(data["at"])
            _number(done)
            if total is not None:
                _number(total)
            if not isinstance(message, str):
                raise TypeError("message is not text")
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
        return cls(done, total, message[:MAX_MESSAGE], reported_at)


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or value < 0:
        raise ValueError(f"progress must be a finite number >= 0, not {value!r}")
    return value


class Run:
    """One attempt's state, shared by its task thread and the worker's threads."""

    def __init__(self, time_limit=None):
        #: Seconds the attempt may run (None: no limit).
        self.time_limit = time_limit
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.stop_reason = ""
        self.progress = None       # the latest Progress reported
        self._unwritten = False    # reported since the last write
        self.written_at = None     # time.monotonic() of the last progress write

    # -- stopping -----------------------------------------------------------------------------
    def request_stop(self, reason):
        with self._lock:
            if not self.stop_reason:
                self.stop_reason = reason
        self._stop.set()

    def should_stop(self):
        return self._stop.is_set()

    # -- progress -----------------------------------------------------------------------------
    def report(self, done, total=None, message=""):
        _number(done)
        if total is not None:
            _number(total)
        progress = Progress(done, total, str(message)[:MAX_MESSAGE], timezone.now())
        with self._lock:
            self.progress = progress
            self._unwritten = True

    def to_write(self, now):
        """The progress text to write now, or None: nothing new, or written under
        PROGRESS_EVERY seconds ago (`now` is time.monotonic())."""
        with self._lock:
            if not self._unwritten or (self.written_at is not None
                                       and now - self.written_at < PROGRESS_EVERY):
                return None
            self._unwritten = False
            self.written_at = now
            return self.progress.to_json()

    def final_progress(self):
        """The latest progress text (for the outcome), or None if none was reported."""
        with self._lock:
            self._unwritten = False
            return self.progress.to_json() if self.progress else None


_current = ContextVar("storage_backends.tasks.run", default=None)


def enter(run):
    """Make `run` the current one (in the task's thread); returns the token for `leave`."""
    return _current.set(run)


def leave(token):
    _current.reset(token)


def report_progress(done, total=None, message=""):
    """Record how far the running task is: `done` of `total` (numbers >= 0; total None if
    unknown), and a short message (cut to 200 characters). ValueError for a bad number."""
    run = _current.get()
    if run is not None:
        run.report(done, total, message)
    else:  # the same errors outside a worker
        Run().report(done, total, message)


def should_stop():
    """Whether the worker asks the running task to stop (its time limit passed, or it was
    cancelled). Cheap: check it between steps of a long task."""
    run = _current.get()
    return run is not None and run.should_stop()


def stop_reason():
    """Why the worker asks the task to stop ("time limit" or "cancelled"), or ""."""
    run = _current.get()
    return run.stop_reason if run is not None else ""


def raise_if_stopped():
    """Raise `Stopped` if the worker asks the running task to stop."""
    if should_stop():
        raise Stopped(f"stopped by the worker: {stop_reason()}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSTaskContext(TaskContext):
    """The TaskContext the worker gives a `takes_context` task: Django's, plus progress and
    stopping (the module functions, as methods)."""

    def report_progress(self, done, total=None, message=""):
        report_progress(done, total, message)

    def should_stop(self):
        return should_stop()

    @property
    def stop_reason(self):
        return stop_reason()

    def raise_if_stopped(self):
        raise_if_stopped()
