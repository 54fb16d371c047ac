"""Settling deliveries on SQS: delete, hand back, dead-letter, defer.

Each action settles what it acted on (see `Ledger.settle`), whether or not SQS took it: a
message SQS did not delete or hide comes back when its visibility ends, and runs again
(at least once); one SQS did not take into the dead-letter queue stays, and SQS's own
redrive moves it after MAX_RECEIVE_COUNT receives.

The messages of finished tasks (`delete_finished`) are deleted in full batches of 10,
gathered across the flushers' outcome batches, which seldom come in tens: a batch that is
not full goes after DELETE_LINGER (`delete_lingering`, which the flushers call as they
wait). Until it is deleted a message stays held, so a stopping worker waits for it, and a
redelivery finds its outcome written and is deleted unrun.
"""

import logging
import threading
import time

from .. import messages
from ..backend import delay_seconds
from ..queues import MAX_BATCH
from .deliveries import SERVICE_ERRORS

logger = logging.getLogger("storage_backends.tasks.worker")

#: Seconds a finished task's message waits for others to fill its DeleteMessageBatch.
DELETE_LINGER = 0.05


def by_url(deliveries):
    """(queue URL, deliveries) pairs: SQS batch calls go to one queue."""
    groups = {}
    for delivery in deliveries:
        groups.setdefault(delivery.url, []).append(delivery)
    return groups.items()


class Settler:
    """The SQS actions that end a delivery, batched by queue."""

    def __init__(self, backend, ledger, worker_id, mark_lock):
        self.backend = backend
        self.ledger = ledger
        self.worker_id = worker_id
        self.mark_lock = mark_lock
        self._finished = {}  # queue URL -> (since when, deliveries waiting to be deleted)
        self._finished_lock = threading.Lock()

    def delete_finished(self, deliveries):
        """Delete the messages of finished tasks (then their S3 payloads): a full batch of
        10 at once, fewer once they have waited DELETE_LINGER."""
        full = []
        with self._finished_lock:
            for delivery in deliveries:
                _since, waiting = self._finished.setdefault(
                    delivery.url, (time.monotonic(), []))
                waiting.append(delivery)
                if len(waiting) == MAX_BATCH:
                    full.append(waiting)
                    del self._finished[delivery.url]
        for batch in full:
            self._delete_with_payloads(batch)

    def delete_lingering(self, everything=False):
        """Delete the finished tasks' messages that have waited DELETE_LINGER (or all)."""
        now = time.monotonic()
        with self._finished_lock:
            due = [url for url, (since, _waiting) in self._finished.items()
                   if everything or now - since >= DELETE_LINGER]
            batches = [self._finished.pop(url)[1] for url in due]
        for batch in batches:
            self._delete_with_payloads(batch)

    def _delete_with_payloads(self, deliveries):
        self.delete(deliveries)
        if self.backend.payloads is None:
            return
        for delivery in deliveries:
            # Only an envelope's own "s3" key appears unescaped: the payload is a string.
            key = messages.pointer(delivery.body) if '"s3":' in delivery.body else None
            if key:
                self.backend.payloads.delete(key)

    def delete(self, deliveries):
        try:
            for url, group in by_url(deliveries):
                self.backend.sqs.delete_many(url, [d.receipt for d in group])
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s delete failed error=%r", self.worker_id, error)
        self.ledger.settle(deliveries)

    def hand_back(self, deliveries, seconds):
        """Make the messages visible again in `seconds` (0: at once)."""
        try:
            for url, group in by_url(deliveries):
                self.backend.sqs.set_visibility_many(url, [(d.receipt, seconds) for d in group])
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s visibility change failed error=%r", self.worker_id,
                           error)
        self.ledger.settle(deliveries)

    def dead_letter(self, deliveries, reason):
        for delivery in deliveries:
            logger.error("worker=%s dead-letter queue=%s message=%s reason=%r",
                         self.worker_id, delivery.sqs_name, delivery.message_id, reason)
            try:
                self.backend.sqs.dead_letter(delivery.sqs_name, delivery.body, reason)
            except SERVICE_ERRORS as error:
                # Left in the queue: SQS's redrive moves it after MAX_RECEIVE_COUNT receives.
                logger.error("worker=%s dead-letter failed error=%r", self.worker_id, error)
                self.ledger.settle([delivery])
                continue
            self.delete([delivery])

    def defer(self, delivery):
        """Re-send a message whose run_after is beyond SQS's longest delay; delete this one."""
        try:
            self.backend.sqs.send(delivery.sqs_name, delivery.body,
                                  delay_seconds(delivery.payload))
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s defer failed error=%r", self.worker_id, error)
            self.ledger.settle([delivery])
            return
        logger.info("worker=%s deferred id=%s run_after=%s", self.worker_id,
                    delivery.payload.id, delivery.payload.run_after.isoformat())
        self.delete([delivery])

    def hand_back_all(self):
        """Hand back every delivery still held (a stopping worker); returns how many."""
        pending = self.ledger.unsettled()
        # Release the leases first: a worker that receives a message whose lease still
        # runs hands it back until the lease ends, up to the visibility timeout. Not those
        # whose outcome is being written (which ends the lease): see heartbeat.py.
        try:
            with self.mark_lock:
                results = self.backend.results
                results.put_many({d.payload.id: results.revised(d.mark, {"lease": ""})
                                  for d in pending if d.marked and not d.finished})
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s lease release failed error=%r", self.worker_id, error)
        if pending:
            self.hand_back(pending, 0)
        return len(pending)
