"""Writing outcomes: flushers write them in batches, then settle their messages.

A batch (up to FLUSH_SIZE outcomes) is one batch write for the results (BatchPutAttributes
or BatchWriteItem) of what changed; then the messages of successful tasks are deleted, in
full DeleteMessageBatch calls gathered across batches (see `settling`); a failed attempt
with attempts left becomes READY again and its message comes back after an exponential
backoff (ChangeMessageVisibility); the last failed attempt is FAILED and its message is
dead-lettered.
"""

import logging
import queue
import threading
import time

from .deliveries import SERVICE_ERRORS
from .running import FAULT_BACKOFF
from .settling import DELETE_LINGER

logger = logging.getLogger("storage_backends.tasks.worker")

#: Outcomes written together: one batch write (they take 25 items) and two
#: DeleteMessageBatch calls (10 a call), so half a result write per received batch.
FLUSH_SIZE = 20
#: Seconds a flusher waits for more outcomes to join the first: tasks of one received batch
#: finish moments apart, and writing them one by one multiplies the calls.
FLUSH_GATHER = 0.05


def written(outcome):
    """The attributes an outcome writes: the RUNNING mark's (worker ids, times), for tasks
    too quick to have been marked, then the outcome's. The message id is only for a RUNNING
    record: a task never marked has none to record."""
    attributes = {**outcome.delivery.mark, **outcome.record}
    if not outcome.delivery.marked:
        attributes.pop("mid", None)
    return attributes


class Flusher:
    """Takes outcomes from the runners and writes them (see the module docstring)."""

    def __init__(self, backend, ledger, settler, outcomes, control, mark_lock, worker_id):
        self.backend = backend
        self.ledger = ledger
        self.settler = settler
        self.outcomes = outcomes
        self.control = control
        self.mark_lock = mark_lock
        self.worker_id = worker_id
        self._gathering = threading.Lock()

    def loop(self):
        """Write outcomes as they come, gathered into batches, until the worker stops."""
        while not self.control.stop_now.is_set():
            # One flusher gathers at a time, while the others write: flushers gathering
            # side by side would each take a share of the outcomes and write short batches.
            with self._gathering:
                try:
                    outcomes = self._gather(self.outcomes.get(timeout=DELETE_LINGER))
                except queue.Empty:
                    outcomes = []
            if outcomes:
                self.flush_safely(outcomes)
            self.settler.delete_lingering()

    def _gather(self, first):
        outcomes = [first]
        gather_until = time.monotonic() + FLUSH_GATHER
        while len(outcomes) < FLUSH_SIZE:
            # Wait only while other received messages are unsettled: no outcome comes
            # otherwise.
            unsettled = self.ledger.held() - len(outcomes)
            wait = gather_until - time.monotonic() if unsettled > 0 else 0
            try:
                outcomes.append(self.outcomes.get(timeout=max(0.0, wait)))
            except queue.Empty:
                break
        return outcomes

    def flush_safely(self, outcomes):
        """Write outcomes; if the worker's own code fails on the batch, write them one by
        one, so that only the outcome it fails on is handed back (and logged)."""
        try:
            self.flush(outcomes)
            return
        except Exception:  # noqa: BLE001 - one bad outcome must not stop the flusher
            if len(outcomes) == 1:
                logger.exception("worker=%s could not write the outcome of message=%s; "
                                 "handed back for %ds", self.worker_id,
                                 outcomes[0].delivery.message_id, FAULT_BACKOFF)
                self.settler.hand_back([outcomes[0].delivery], FAULT_BACKOFF)
                return
        for outcome in outcomes:
            if not outcome.delivery.settled:
                self.flush_safely([outcome])

    def flush(self, outcomes):
        outcomes = [o for o in outcomes if not o.delivery.settled]  # handed back meanwhile
        if not outcomes:
            return
        with self.mark_lock:  # waits for a RUNNING mark being written; none after this
            for outcome in outcomes:
                outcome.delivery.finished = True
        try:
            self.backend.results.put_many({o.delivery.payload.id: written(o) for o in outcomes})
        except SERVICE_ERRORS as error:
            # The messages come back when their visibility ends, and run again.
            logger.error("worker=%s results unwritable error=%r tasks=%d", self.worker_id,
                         error, len(outcomes))
            self.ledger.settle([o.delivery for o in outcomes])
            return
        self.settler.delete_finished([o.delivery for o in outcomes if o.action == "delete"])
        for outcome in outcomes:
            if outcome.action == "dead-letter":
                self.settler.dead_letter([outcome.delivery], outcome.reason)
        for outcome in outcomes:
            if outcome.action == "retry":
                self.settler.hand_back([outcome.delivery], outcome.delay)
        self.ledger.written(len(outcomes))
