"""Keeping running tasks' messages and results current while they run.

- The **heartbeat** extends the visibility of the messages of deliveries handed to the task
  pool (queued, running, or with an outcome to write) and the lease in their result, so a
  task longer than the visibility timeout runs once. Nothing else is extended: a message
  the worker is not going to run comes back (or goes to SQS's dead-letter queue) by itself.
  Leases are written under the mark lock, and not for a task whose outcome is being
  written: where a write replaces the whole item (DynamoDB), a lease written after the
  outcome would make the task RUNNING again.
- The **marker** marks a task still running after RUNNING_MARK_AFTER as RUNNING (with its
  lease), in batches; a quicker one goes from READY to its outcome in one write.
"""

import logging
import time

from ..results import epoch
from .deliveries import SERVICE_ERRORS
from .settling import by_url

logger = logging.getLogger("storage_backends.tasks.worker")

#: A task still running after this many seconds is marked RUNNING in the result store
#: (with its lease); a quicker one goes from READY to its outcome in one write.
RUNNING_MARK_AFTER = 0.25


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

    def loop(self):
        while not self.control.stop_now.wait(min(1.0, self.every / 2)):
            self.beat(time.time())

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
                results.put_many({
                    d.payload.id: results.revised(d.mark, {"lease": epoch(now + self.visibility)})
                    for d in due if d.marked and not d.finished})
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
