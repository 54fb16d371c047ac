"""Keeping running tasks' messages and results current while they run.

- The **heartbeat** extends the visibility of the messages of deliveries handed to the task
  pool (queued, running, or with an outcome to write) and the lease in their result, so a
  task longer than the visibility timeout runs once. Nothing else is extended: a message
  the worker is not going to run comes back (or goes to SQS's dead-letter queue) by itself.
  Leases are written under the mark lock, and not for a task whose outcome is being
  written: where a write replaces the whole item (DynamoDB), a lease written after the
  outcome would make the task RUNNING again.
- The heartbeat also reads, every CANCEL_CHECK_EVERY seconds (at most a third of the
  visibility timeout), whether the tasks marked RUNNING have been cancelled: one batch
  read of their `cancel-<id>` items (cancelling.py). A task found cancelled is asked to
  stop (`should_stop()`, `stop_reason()` "cancelled"). Tasks quicker than
  RUNNING_MARK_AFTER are never looked up: draining short tasks costs no read.
- The **marker** marks a task still running after RUNNING_MARK_AFTER as RUNNING (with its
  lease), in batches; a quicker one goes from READY to its outcome in one write.
"""

import logging
import time

from ..cancelling import flag_name
from ..context import CANCELLED
from ..results import epoch
from .deliveries import SERVICE_ERRORS
from .settling import by_url

logger = logging.getLogger("storage_backends.tasks.worker")

#: A task still running after this many seconds is marked RUNNING in the result store
#: (with its lease); a quicker one goes from READY to its outcome in one write.
RUNNING_MARK_AFTER = 0.25
#: Seconds between two reads of the cancel requests of running tasks, at most.
CANCEL_CHECK_EVERY = 5.0


class Heartbeat:
    """Extends the visibility (and lease) of the deliveries the worker runs."""

    def __init__(self, backend, ledger, control, mark_lock, visibility, worker_id):
        self.backend = backend
        self.ledger = ledger
        self.control = control
        self.mark_lock = mark_lock
        self.visibility = visibility
        self.every = max(0.2, visibility / 3)
        self.worker_id = worker_id
        self.cancel_every = min(CANCEL_CHECK_EVERY, self.every)
        self._cancels_read_at = 0.0

    def loop(self):
        while not self.control.stop_now.wait(min(1.0, self.every / 2)):
            self.beat(time.time())
            if time.monotonic() - self._cancels_read_at >= self.cancel_every:
                self._cancels_read_at = time.monotonic()
                self.read_cancels()

    def read_cancels(self):
        """Ask the running tasks that were cancelled to stop; one batch read, if any run."""
        running = {flag_name(d.payload.id): d for d in self.ledger.in_progress()
                   if not d.run.should_stop()}
        if not running:
            return
        try:
            cancelled = self.backend.results.existing(list(running))
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s cancel requests unreadable error=%r", self.worker_id,
                           error)
            return
        for name in cancelled:
            delivery = running[name]
            logger.info("worker=%s task=%s id=%s cancelled: asked to stop", self.worker_id,
                        delivery.payload.task_path, delivery.payload.id)
            delivery.run.request_stop(CANCELLED)

    def beat(self, now):
        due = self.ledger.to_extend(now, self.visibility)
        if not due:
            return
        try:
            for url, group in by_url(due):
                self.backend.sqs.set_visibility_many(
                    url, [(d.receipt, self.visibility) for d in group])
            with self.mark_lock:
                results = self.backend.results
                lease = {"lease": epoch(now + self.visibility)}
                leased = [d for d in due if d.marked and not d.finished]
                results.put_many({d.payload.id: results.revised(d.mark, lease)
                                  for d in leased})
                for delivery in leased:
                    # Whole-item writes from the mark (progress) keep the new lease.
                    delivery.mark = {**delivery.mark, **lease}
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s heartbeat failed error=%r", self.worker_id, error)
            return
        for delivery in due:
            delivery.visible_until = now + self.visibility


class Marker:
    """Writes RUNNING (and the lease) for tasks that run longer than RUNNING_MARK_AFTER."""

    def __init__(self, backend, ledger, control, mark_lock, worker_id):
        self.backend = backend
        self.ledger = ledger
        self.control = control
        self.mark_lock = mark_lock
        self.worker_id = worker_id

    def loop(self):
        while not self.control.stop_now.wait(RUNNING_MARK_AFTER / 2):
            with self.mark_lock:
                self.mark()

    def mark(self):
        due = self.ledger.to_mark(time.monotonic() - RUNNING_MARK_AFTER)
        if not due:
            return
        try:
            self.backend.results.put_many({d.payload.id: d.mark for d in due})
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s RUNNING marks failed error=%r", self.worker_id, error)
            return
        for delivery in due:
            delivery.marked = True
