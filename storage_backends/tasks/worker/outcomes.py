"""Writing outcomes: flushers write them in batches, then settle their messages.

A batch is one batch write for the results (BatchPutAttributes or BatchWriteItem), then
one DeleteMessageBatch for the messages of successful tasks; a failed attempt with attempts
left becomes READY again and its message comes back after an exponential backoff
(ChangeMessageVisibility); the last failed attempt is FAILED and its message is
dead-lettered.
"""

import logging
import queue
import time

from .. import messages
from .deliveries import SERVICE_ERRORS
from .running import FAULT_BACKOFF

logger = logging.getLogger("storage_backends.tasks.worker")

#: Outcomes written together: batch writes take 25 items, but deletes go 10 a call.
FLUSH_SIZE = 10
#: Seconds a flusher waits for more outcomes to join the first: tasks of one received batch
#: finish moments apart, and writing them one by one multiplies the calls.
FLUSH_GATHER = 0.05


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

    def loop(self):
        """Write outcomes as they come, gathered into batches, until the worker stops."""
        while not self.control.stop_now.is_set():
            try:
                first = self.outcomes.get(timeout=0.1)
            except queue.Empty:
                continue
            self.flush_safely(self._gather(first))

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
            # The outcome carries what the RUNNING mark would have (worker ids, times), for
            # tasks too quick to have been marked.
            self.backend.results.put_many({o.delivery.payload.id: {**o.delivery.mark, **o.record}
                                           for o in outcomes})
        except SERVICE_ERRORS as error:
            # The messages come back when their visibility ends, and run again.
            logger.error("worker=%s results unwritable error=%r tasks=%d", self.worker_id,
                         error, len(outcomes))
            self.ledger.settle([o.delivery for o in outcomes])
            return
        done = [o.delivery for o in outcomes if o.action == "delete"]
        self.settler.delete(done)
        for outcome in outcomes:
            if outcome.action == "dead-letter":
                self.settler.dead_letter([outcome.delivery], outcome.reason)
        for outcome in outcomes:
            if outcome.action == "retry":
                self.settler.hand_back([outcome.delivery], outcome.delay)
        self.ledger.written(len(outcomes))
        for delivery in done:
            key = messages.pointer(delivery.body)
            if key and self.backend.payloads is not None:
                self.backend.payloads.delete(key)
