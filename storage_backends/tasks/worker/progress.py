"""Writing the progress tasks report, coalesced: at most one write per task per
PROGRESS_EVERY seconds, the tasks due written together in one batch write.

A task's `report_progress` only keeps the latest value in its run (context.Run). This loop
writes what is new for tasks already marked RUNNING; a quicker task's progress, and every
task's last one, goes with its outcome (running.py), so a task that reports nothing, or
finishes within RUNNING_MARK_AFTER, costs no call. Writes go under the mark lock and never
after the outcome is being written (heartbeat.py says why).
"""

import logging
import time

from .deliveries import SERVICE_ERRORS

logger = logging.getLogger("storage_backends.tasks.worker")

#: Seconds between two looks for progress to write.
LOOK_EVERY = 0.25


class ProgressWriter:
    """The progress loop (see the module docstring)."""

    def __init__(self, backend, ledger, control, mark_lock, worker_id):
        self.backend = backend
        self.ledger = ledger
        self.control = control
        self.mark_lock = mark_lock
        self.worker_id = worker_id

    def loop(self):
        while not self.control.stop_now.wait(LOOK_EVERY):
            self.write(time.monotonic())

    def write(self, now):
        due = [(d, text) for d in self.ledger.in_progress()
               if (text := d.run.to_write(now)) is not None]
        if not due:
            return
        results = self.backend.results
        with self.mark_lock:
            due = [(d, text) for d, text in due if not d.finished]
            try:
                results.put_many({d.payload.id: results.revised(d.mark, {"progress": text})
                                  for d, text in due})
            except SERVICE_ERRORS as error:
                logger.warning("worker=%s progress not written error=%r", self.worker_id,
                               error)
                return
            for delivery, text in due:
                # Later writes from the mark (leases) keep it; so does the outcome.
                delivery.mark = {**delivery.mark, "progress": text}
