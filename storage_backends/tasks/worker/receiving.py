"""Receiving: long-poll the queues, check each message, start the ones that may run.

Receivers (one per 10 of `concurrency`) poll the worker's SQS queues highest priority band
first (the higher bands with WaitTimeSeconds=0, skipped for a second after they were found
empty; the last with WAIT_SECONDS), asking for at most 10 messages and never more than the
free task threads. Each received batch is checked:

- each body is decoded (size, JSON, version, signature, payload, task path); one that fails
  goes to the dead-letter queue with the reason, whatever it holds, and never runs;
- a deferred one is re-sent with the delay that remains;
- a second copy of a task this worker holds (SQS delivered its message twice at once) is
  handed back for TWIN_BACKOFF: by then the first has finished (and the copy is deleted
  unrun) or is marked RUNNING (and the copy waits for its lease);
- the batch's results are read with one call: a message whose result is already
  SUCCESSFUL or FAILED is deleted without running again, one that another worker is running
  (its lease is live) is handed back until that lease ends;
- the rest start in the task pool (`Runner`).

An unexpected exception while checking one message dead-letters that message alone, with
the exception as the reason; one while checking a whole batch hands back the batch's
messages not yet started. Either way the receiver goes on.
"""

import logging
import time

from django.tasks import TaskResultStatus
from django.utils import timezone

from .. import messages
from ..messages import BadMessage
from ..results import epoch
from .deliveries import MAX_RECEIVE, SERVICE_ERRORS, Delivery
from .running import FAULT_BACKOFF

logger = logging.getLogger("storage_backends.tasks.worker")

#: Seconds before a run_after at which a message is run rather than deferred again: none,
#: since run_after is the earliest a task may run (the delay that remains is rounded up, so
#: a message sent again comes back no earlier than run_after).
DEFER_TOLERANCE = 0
#: Seconds a higher priority band found empty is skipped before it is asked again (so
#: a busy lower band does not pay an empty receive per batch).
EMPTY_BAND_RECHECK = 1.0
#: Seconds a batch is handed back for when the result store or S3 cannot be reached.
OUTAGE_BACKOFF = 5
#: Seconds a second copy of a task this worker holds is handed back for.
TWIN_BACKOFF = 1


class Receiver:
    """The receive loop that each receiver thread runs (see the module docstring)."""

    def __init__(self, worker, runner):
        self.backend = worker.backend
        self.ledger = worker.ledger
        self.settler = worker.settler
        self.control = worker.control
        self.runner = runner
        self.sqs_names = worker.sqs_names
        self.wait_seconds = worker.wait_seconds
        self.visibility = worker.visibility
        self.batch = worker.batch
        self.max_tasks = worker.max_tasks
        self.worker_id = worker.worker_id
        self._band_empty_until = {}

    def loop(self):
        """Receive and check batches until the worker stops, drains or has started
        max_tasks."""
        control = self.control
        while not control.stopping.is_set() and not control.drained.is_set():
            most = MAX_RECEIVE
            if self.max_tasks is not None:
                most = min(most, self.max_tasks - self.ledger.started)
                if most <= 0:
                    return
            slots = self.ledger.take_slots(most, control.stopping)
            if not slots:
                continue
            try:
                received = self._receive(slots)
            except SERVICE_ERRORS as error:
                self.ledger.release(slots)
                logger.warning("worker=%s receive failed error=%r", self.worker_id, error)
                control.stopping.wait(1)
                continue
            if len(received) < slots:
                self.ledger.release(slots - len(received))
            if control.stopping.is_set():
                self.settler.hand_back(received, 0)  # settles them: their slots come back
                return
            if received:
                self.process_safely(received)
            elif self.batch and self._queues_empty():
                control.drained.set()

    def _receive(self, slots):
        """One round over the queues, highest band first; the messages of the first that
        has any."""
        for position, name in enumerate(self.sqs_names):
            last = position == len(self.sqs_names) - 1
            if not last and time.monotonic() < self._band_empty_until.get(name, 0):
                continue
            url = self.backend.sqs.url(name)
            found = self.backend.sqs.receive(url, slots, self.wait_seconds if last else 0,
                                             self.visibility, attributes=False)
            if not found and not last:
                self._band_empty_until[name] = time.monotonic() + EMPTY_BAND_RECHECK
            if found:
                now = time.time()
                return [self.ledger.track(Delivery(
                    sqs_name=name, url=url, message_id=m["MessageId"],
                    receipt=m["ReceiptHandle"], body=m.get("Body", ""),
                    visible_until=now + self.visibility)) for m in found]
        return []

    def _queues_empty(self):
        if self.ledger.held():
            return False
        try:
            for name in self.sqs_names:
                counts = self.backend.sqs.counts(name)
                if counts["ApproximateNumberOfMessages"] or \
                        counts["ApproximateNumberOfMessagesNotVisible"]:
                    return False
        except SERVICE_ERRORS:
            return False
        return not self.ledger.held()

    # -- checking a batch ---------------------------------------------------------------------
    def process_safely(self, deliveries):
        try:
            self.process(deliveries)
        except Exception:  # noqa: BLE001 - a fault of this batch must not stop the receiver
            left = [d for d in deliveries if not d.settled and not d.running]
            logger.exception("worker=%s could not check a batch; %d message(s) handed back "
                             "for %ds", self.worker_id, len(left), FAULT_BACKOFF)
            self.settler.hand_back(left, FAULT_BACKOFF)

    def process(self, deliveries):
        runnable = [d for d in deliveries if self._check(d)]
        if not runnable:
            return
        unique, twins = {}, []
        for delivery in runnable:
            if self.ledger.claim(delivery) is None:
                unique[delivery.payload.id] = delivery
            else:  # held by another delivery, of this batch or of an earlier one
                twins.append(delivery)
        if twins:
            logger.info("worker=%s second copies of tasks it holds handed back=%d",
                        self.worker_id, len(twins))
            self.settler.hand_back(twins, TWIN_BACKOFF)
        if not unique:
            return
        try:
            records = self.backend.results.records_of(list(unique))
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s results unreadable error=%r", self.worker_id, error)
            self.settler.hand_back(list(unique.values()), OUTAGE_BACKOFF)
            return
        now = time.time()
        to_run, finished = [], []
        for result_id, delivery in unique.items():
            record = records.get(result_id, {})
            try:
                status = record.get("status")
                if status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
                    finished.append(delivery)
                elif status == TaskResultStatus.RUNNING and record.get("lease", "") > epoch(now):
                    # Another worker holds this task: look again when its lease ends.
                    wait = int(record["lease"]) - int(now) + 1
                    self.settler.hand_back([delivery], min(wait, self.visibility))
                else:
                    delivery.record = record
                    to_run.append(delivery)
            except Exception as error:  # noqa: BLE001 - a garbage record affects its task alone
                logger.exception("worker=%s could not read the result of message=%s",
                                 self.worker_id, delivery.message_id)
                self.settler.dead_letter([delivery], f"the worker could not read its result "
                                         f"record: {type(error).__name__}: {str(error)[:500]}")
        if finished:
            # A cancelled task's only delivery is no duplicate: say which is which, as an
            # operator reading the log asks "did my cancel work?" and "does SQS repeat?".
            cancelled = sum(1 for d in finished if records[d.payload.id].get("cancelled"))
            if cancelled:
                logger.info("worker=%s cancelled tasks deleted unrun=%d", self.worker_id,
                            cancelled)
            if len(finished) > cancelled:
                logger.info("worker=%s duplicate deliveries deleted=%d", self.worker_id,
                            len(finished) - cancelled)
            self.settler.delete(finished)
        for delivery in to_run:
            try:
                self.runner.start(delivery, now)
            except Exception as error:  # noqa: BLE001 - e.g. a result record that is garbage
                logger.exception("worker=%s could not start message=%s", self.worker_id,
                                 delivery.message_id)
                self.settler.dead_letter([delivery], f"the worker could not start it: "
                                         f"{type(error).__name__}: {str(error)[:500]}")

    def _check(self, delivery):
        """Whether a delivery may run now; if not, it is dead-lettered, deferred or handed
        back here."""
        try:
            delivery.payload = messages.decode(delivery.body, self.backend.payloads)
            delivery.task = messages.resolve_task(delivery.payload.task_path)
            run_after = delivery.payload.run_after
            remaining = (run_after - timezone.now()).total_seconds() if run_after else 0
        except BadMessage as error:
            self.settler.dead_letter([delivery], error.reason)
            return False
        except SERVICE_ERRORS as error:  # S3 holding the payload is unreachable
            logger.warning("worker=%s payload unreadable error=%r", self.worker_id, error)
            self.settler.hand_back([delivery], OUTAGE_BACKOFF)
            return False
        except Exception as error:  # noqa: BLE001 - whatever the body holds, it never runs
            logger.exception("worker=%s could not read message=%s", self.worker_id,
                             delivery.message_id)
            self.settler.dead_letter([delivery], f"the worker could not read it: "
                                     f"{type(error).__name__}: {str(error)[:500]}")
            return False
        if remaining > DEFER_TOLERANCE:
            self.settler.defer(delivery)
            return False
        return True
