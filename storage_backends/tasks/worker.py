"""The worker: receives task messages from SQS, runs them, records results, deletes them.

`manage.py sqs_worker` is a thin command over `Worker`. How one worker process moves:

- **Receivers** (one per 10 of `concurrency`) long-poll the backend's SQS queues, highest
  priority band first (the higher bands with WaitTimeSeconds=0, skipped for a second after
  they were found empty; the last with WAIT_SECONDS), asking for at most 10 messages and
  never more than the free task threads (a thread is free once its task has run, while
  its outcome is still being written). Each received batch is checked (signature,
  version, task path: bad ones go to the dead-letter queue with the reason), deferred ones are
  re-sent with the delay that remains, and the batch's results are read with one Select: a
  message whose result is already SUCCESSFUL or FAILED is deleted without running again,
  one that another worker is running (its lease is live) is handed back until that lease
  ends. The rest run in a thread pool of `concurrency` threads (coroutine tasks on an
  event loop in that thread). A task still running after RUNNING_MARK_AFTER is marked
  RUNNING (with its lease) by the **marker**, in batches; a quicker one goes from READY to
  its outcome in one write.
- **Flushers** write outcomes in batches (BatchPutAttributes), then delete the messages of
  successful tasks (DeleteMessageBatch); a failed attempt with attempts left becomes READY
  again and its message comes back after an exponential backoff (ChangeMessageVisibility);
  the last failed attempt is FAILED and its message is dead-lettered.
- The **heartbeat** extends the visibility of messages whose tasks still run (and their
  lease in the result), so a task longer than the visibility timeout runs once.

Stopping: the first `stop()` (SIGTERM/SIGINT in the command) stops receiving at once, lets
running tasks finish for up to `shutdown_grace` seconds, then hands the rest back
(visibility 0). A second `stop()` hands everything back at once. `batch=True` stops once
the queues hold no visible or in-flight messages; `max_tasks` after that many tasks.
"""

import json
import logging
import math
import os
import queue
import socket
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError
from django.db import close_old_connections
from django.tasks import TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.json import normalize_json

from ..simpledb.client import SimpleDBError
from . import messages
from .backend import delay_seconds
from .messages import BadMessage
from .queues import QueueError
from .results import epoch, format_time, parse_time

logger = logging.getLogger("storage_backends.tasks.worker")

#: Messages one ReceiveMessage returns at most.
MAX_RECEIVE = 10
#: Seconds before a run_after at which a message is run rather than deferred again: none,
#: since run_after is the earliest a task may run (the delay that remains is rounded up, so
#: a message sent again comes back no earlier than run_after).
DEFER_TOLERANCE = 0
#: A task still running after this many seconds is marked RUNNING in the result store
#: (with its lease); a quicker one goes from READY to its outcome in one write.
RUNNING_MARK_AFTER = 0.25
#: Seconds a higher priority band found empty is skipped before it is asked again (so
#: a busy lower band does not pay an empty receive per batch).
EMPTY_BAND_RECHECK = 1.0
#: Seconds a receiver waits for a full batch of free task threads before taking fewer.
FILL_WAIT = 0.1
#: Seconds a batch is handed back for when SimpleDB or S3 cannot be reached.
OUTAGE_BACKOFF = 5
#: Outcomes written together: BatchPutAttributes takes 25 items, but deletes go 10 a call.
FLUSH_SIZE = 10
#: Seconds a flusher waits for more outcomes to join the first: tasks of one received batch
#: finish moments apart, and writing them one by one multiplies the calls.
FLUSH_GATHER = 0.05
SERVICE_ERRORS = (SimpleDBError, ClientError, BotoCoreError, QueueError)


@dataclass
class Delivery:
    """One received message, from receipt to deletion or hand-back."""

    sqs_name: str
    url: str
    message_id: str
    receipt: str
    body: str
    visible_until: float
    payload: object = None
    task: object = None
    record: dict = field(default_factory=dict)
    result: object = None
    attempt: int = 0
    running: bool = False
    mark: dict = field(default_factory=dict)  # the RUNNING attributes, written if it runs long
    running_since: float = 0.0
    marked: bool = False     # RUNNING is in the result store
    finished: bool = False   # its outcome is being written: no RUNNING mark after that
    settled: bool = False  # deleted, dead-lettered, handed back or left to expire
    holds_slot: bool = True  # a task thread is kept for it (until its task has run)


@dataclass
class Outcome:
    delivery: Delivery
    record: dict          # attributes to write
    action: str           # "delete", "retry" or "dead-letter"
    delay: int = 0
    reason: str = ""


def default_worker_id():
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(4)}"


class Worker:
    """Runs the tasks of one SQSBackend's queues (see the module docstring)."""

    def __init__(self, backend, queue_names=None, concurrency=10, batch=False,
                 max_tasks=None, worker_id=None, wait_seconds=None, shutdown_grace=None):
        self.backend = backend
        self.config = backend.config
        names = tuple(queue_names or backend.queue_names)
        unknown = set(names) - set(backend.queue_names)
        if unknown:
            raise ValueError(f"unknown queue(s) {', '.join(sorted(unknown))}; the backend "
                             f"has {', '.join(backend.queue_names)}")
        self.sqs_names = self.config.sqs_names(names)
        self.concurrency = concurrency
        self.batch = batch
        self.max_tasks = max_tasks
        self.worker_id = worker_id or default_worker_id()
        self.wait_seconds = self.config.wait_seconds if wait_seconds is None else wait_seconds
        self.shutdown_grace = (self.config.shutdown_grace if shutdown_grace is None
                               else shutdown_grace)
        self.visibility = self.config.visibility_timeout
        self.heartbeat_every = max(0.2, self.visibility / 3)

        self._free = concurrency
        self._capacity = threading.Condition()
        self._inflight = {}            # receipt -> Delivery
        self._inflight_lock = threading.Lock()
        self._outcomes = queue.Queue()
        self._started = 0              # tasks handed to the pool
        self._running = 0              # tasks running in the pool now
        self.processed = 0             # tasks whose outcome was written
        self._stopping = threading.Event()
        self._stop_now = threading.Event()
        self._drained = threading.Event()
        self._stop_requests = 0
        self._mark_lock = threading.Lock()
        self._band_empty_until = {}
        self._tasks_as_sent = {}
        self._batch_slots = min(MAX_RECEIVE, concurrency)

    # -- control --------------------------------------------------------------------------
    def stop(self):
        """First call: finish what runs (within the grace period). Second: stop now."""
        self._stop_requests += 1
        self._stopping.set()
        if self._stop_requests > 1:
            self._stop_now.set()
        # No locks here: this runs in a signal handler. Waiting threads wake within 0.5 s.

    def run(self):
        """Work until stopped, drained (`batch`) or `max_tasks` done; returns tasks run."""
        receivers_count = max(1, min(4, math.ceil(self.concurrency / MAX_RECEIVE)))
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="task")
        receivers = [threading.Thread(target=self._receive_loop, name=f"receiver-{n}",
                                      daemon=True) for n in range(receivers_count)]
        flushers = [threading.Thread(target=self._flush_loop, name=f"flusher-{n}",
                                     daemon=True) for n in range(receivers_count)]
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        marker = threading.Thread(target=self._mark_loop, name="marker", daemon=True)
        logger.info("worker=%s starting queues=%s concurrency=%d batch=%s", self.worker_id,
                    ",".join(self.sqs_names), self.concurrency, self.batch)
        for thread in (*receivers, *flushers, heartbeat, marker):
            thread.start()
        grace_deadline = None
        while not self._stop_now.is_set():
            if self._stopping.is_set():
                if grace_deadline is None:
                    grace_deadline = time.monotonic() + self.shutdown_grace
                    logger.info("worker=%s stopping grace=%ss", self.worker_id,
                                self.shutdown_grace)
                if not self._busy() and not any(r.is_alive() for r in receivers):
                    break
                if time.monotonic() >= grace_deadline:
                    break
            elif self._drained.is_set() and not self._busy():
                break
            elif self.max_tasks is not None and self.processed >= self.max_tasks \
                    and not self._busy():
                break
            self._stop_now.wait(0.05)
        self._stopping.set()
        with self._capacity:
            self._capacity.notify_all()
        handed_back = self._hand_back_all()
        self._stop_now.set()  # flushers and heartbeat end
        self._pool.shutdown(wait=False, cancel_futures=True)
        logger.info("worker=%s stopped processed=%d handed_back=%d", self.worker_id,
                    self.processed, handed_back)
        return self.processed

    @property
    def abandoned_tasks(self):
        """Tasks still running in threads (after run(): their messages were handed back)."""
        with self._inflight_lock:
            return self._running

    def _busy(self):
        with self._inflight_lock:
            return bool(self._inflight) or not self._outcomes.empty()

    # -- capacity ---------------------------------------------------------------------------
    def _take_slots(self, most):
        with self._capacity:
            # Wait a little for a full batch (fewer, larger receives), then take what is free.
            fill_until = time.monotonic() + FILL_WAIT
            while self._free < min(most, self._batch_slots) and not self._stopping.is_set():
                remaining = fill_until - time.monotonic()
                if remaining <= 0 and self._free > 0:
                    break
                self._capacity.wait(remaining if remaining > 0 else 0.5)
            if self._stopping.is_set():
                return 0
            taken = min(most, self._free)
            self._free -= taken
            return taken

    def _release(self, count=1):
        with self._capacity:
            self._free += count
            self._capacity.notify_all()

    # -- receiving --------------------------------------------------------------------------
    def _receive_loop(self):
        while not self._stopping.is_set() and not self._drained.is_set():
            most = MAX_RECEIVE
            if self.max_tasks is not None:
                most = min(most, self.max_tasks - self._started)
                if most <= 0:
                    return
            slots = self._take_slots(most)
            if not slots:
                continue
            try:
                received = self._receive(slots)
            except SERVICE_ERRORS as error:
                self._release(slots)
                logger.warning("worker=%s receive failed error=%r", self.worker_id, error)
                self._stopping.wait(1)
                continue
            if len(received) < slots:
                self._release(slots - len(received))
            if self._stopping.is_set():
                self._set_visibility(received, 0)  # settles them: their slots come back
                return
            if received:
                self._process(received)
            elif self.batch and self._queues_empty():
                self._drained.set()

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
                return [self._track(Delivery(
                    sqs_name=name, url=url, message_id=m["MessageId"],
                    receipt=m["ReceiptHandle"], body=m.get("Body", ""),
                    visible_until=now + self.visibility)) for m in found]
        return []

    def _track(self, delivery):
        with self._inflight_lock:
            self._inflight[delivery.receipt] = delivery
        return delivery

    def _settle(self, deliveries):
        freed = 0
        with self._inflight_lock:
            for delivery in deliveries:
                delivery.settled = True
                self._inflight.pop(delivery.receipt, None)
                freed += delivery.holds_slot
                delivery.holds_slot = False
        if freed:
            self._release(freed)

    def _queues_empty(self):
        if self._busy():
            return False
        try:
            for name in self.sqs_names:
                counts = self.backend.sqs.counts(name)
                if counts["ApproximateNumberOfMessages"] or \
                        counts["ApproximateNumberOfMessagesNotVisible"]:
                    return False
        except SERVICE_ERRORS:
            return False
        return not self._busy()

    def _process(self, deliveries):
        runnable = []
        for delivery in deliveries:
            try:
                delivery.payload = messages.decode(delivery.body, self.backend.payloads)
                delivery.task = messages.resolve_task(delivery.payload.task_path)
            except BadMessage as error:
                self._dead_letter([delivery], error.reason)
                continue
            except SERVICE_ERRORS as error:  # S3 holding the payload is unreachable
                logger.warning("worker=%s payload unreadable error=%r", self.worker_id, error)
                self._set_visibility([delivery], OUTAGE_BACKOFF)
                continue
            remaining = ((delivery.payload.run_after - timezone.now()).total_seconds()
                         if delivery.payload.run_after else 0)
            if remaining > DEFER_TOLERANCE:
                self._defer(delivery)
                continue
            runnable.append(delivery)
        if not runnable:
            return
        unique = {}
        for delivery in runnable:
            if delivery.payload.id in unique:  # the same task twice in one batch
                self._set_visibility([delivery], self.visibility)
            else:
                unique[delivery.payload.id] = delivery
        try:
            records = self.backend.results.records_of(list(unique))
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s results unreadable error=%r", self.worker_id, error)
            self._set_visibility(list(unique.values()), OUTAGE_BACKOFF)
            return
        now = time.time()
        to_run, finished = [], []
        for result_id, delivery in unique.items():
            record = records.get(result_id, {})
            status = record.get("status")
            if status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
                finished.append(delivery)
            elif status == TaskResultStatus.RUNNING and record.get("lease", "") > epoch(now):
                # Another worker holds this task: look again when its lease ends.
                wait = int(record["lease"]) - int(now) + 1
                self._set_visibility([delivery], min(wait, self.visibility))
            else:
                delivery.record = record
                to_run.append(delivery)
        if finished:
            logger.info("worker=%s duplicate deliveries deleted=%d", self.worker_id,
                        len(finished))
            self._delete(finished)
        if not to_run:
            return
        for delivery in to_run:
            delivery.mark = self._running_record(delivery, now)
            delivery.running_since = time.monotonic()
            delivery.running = True
            self._started += 1
            self._pool.submit(self._run, delivery)

    def _running_record(self, delivery, now):
        record, payload = delivery.record, delivery.payload
        worker_ids = json.loads(record.get("worker_ids") or "[]") + [self.worker_id]
        delivery.attempt = len(worker_ids) - int(record.get("base") or 0)
        started = record.get("started_at") or format_time(timezone.now())
        marks = {} if record else self.backend.results.ready_record(payload)
        marks.update({
            "status": TaskResultStatus.RUNNING.value, "started_at": started,
            "last_attempted_at": format_time(timezone.now()),
            "worker_ids": json.dumps(worker_ids), "lease": epoch(now + self.visibility),
            "mid": delivery.message_id,
        })
        delivery.record = {**record, **marks}
        try:
            document = self.backend.results.document(delivery.record)
        except ValueError:
            document = {"errors": []}
        delivery.result = TaskResult(
            task=self._task_as_sent(delivery.task, payload),
            id=payload.id, status=TaskResultStatus.RUNNING, enqueued_at=payload.enqueued_at,
            started_at=parse_time(started), finished_at=None,
            last_attempted_at=parse_time(marks["last_attempted_at"]), args=payload.args,
            kwargs=payload.kwargs, backend=self.backend.alias,
            errors=[TaskError(exception_class_path=e["exception_class_path"],
                              traceback=e["traceback"]) for e in document.get("errors", [])],
            worker_ids=worker_ids,
        )
        return marks

    def _task_as_sent(self, task, payload):
        """The task with the queue and priority it was sent with (Task.using validates the
        task again each time, so the combinations are kept)."""
        key = (task, payload.queue_name, payload.priority)
        found = self._tasks_as_sent.get(key)
        if found is None:
            found = self._tasks_as_sent[key] = task.using(queue_name=payload.queue_name,
                                                          priority=payload.priority)
        return found

    # -- running ------------------------------------------------------------------------------
    def _run(self, delivery):
        result, task, payload = delivery.result, delivery.task, delivery.payload
        close_old_connections()  # as at the start of a request
        with self._inflight_lock:
            self._running += 1
        started = time.monotonic()
        # send_robust: a receiver's error is logged (django.dispatch) and must not keep the
        # outcome from being written, which would leave the task RUNNING for good.
        task_started.send_robust(sender=type(self.backend), task_result=result)
        try:
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *payload.args,
                                  **payload.kwargs)
            else:
                value = task.call(*payload.args, **payload.kwargs)
            value = normalize_json(value)
            body = self.backend.results.body(payload.id, payload.args, payload.kwargs,
                                             _errors(result), value)
        except BaseException as error:  # noqa: BLE001 - a task's failure is its result
            outcome = self._failure(delivery, error)
            task_finished.send_robust(sender=type(self.backend), task_result=result)
        else:
            object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
            object.__setattr__(result, "finished_at", timezone.now())
            object.__setattr__(result, "_return_value", value)
            outcome = Outcome(delivery, {
                "status": TaskResultStatus.SUCCESSFUL.value,
                "finished_at": format_time(result.finished_at), "lease": "",
                "expires": epoch(time.time() + self.config.result_retention), **body,
            }, "delete")
            task_finished.send_robust(sender=type(self.backend), task_result=result)
        finally:
            close_old_connections()  # as at the end of a request
            with self._inflight_lock:
                self._running -= 1
                # The thread is free for the next task while this outcome is written.
                freed, delivery.holds_slot = delivery.holds_slot, False
            if freed:
                self._release(1)
        logger.info("worker=%s task=%s id=%s status=%s attempt=%d ms=%d", self.worker_id,
                    payload.task_path, payload.id, outcome.record["status"], delivery.attempt,
                    (time.monotonic() - started) * 1000)
        self._outcomes.put(outcome)

    def _failure(self, delivery, error):
        result, payload = delivery.result, delivery.payload
        kind = type(error)
        result.errors.append(TaskError(
            exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
            traceback="".join(traceback.format_exception(error)),
        ))
        max_attempts = getattr(delivery.task, "max_attempts", None) or self.config.max_attempts
        final = delivery.attempt >= max_attempts
        status = TaskResultStatus.FAILED if final else TaskResultStatus.READY
        object.__setattr__(result, "status", status)
        if final:
            object.__setattr__(result, "finished_at", timezone.now())
        body = self._error_body(payload, result)
        record = {"status": status.value, "lease": "",
                  "finished_at": format_time(result.finished_at) if final else "",
                  "expires": epoch(time.time() + self.config.result_retention), **body}
        if final:
            reason = (f"failed after {delivery.attempt} attempt(s): {kind.__name__}: "
                      f"{str(error)[:500]}")
            return Outcome(delivery, record, "dead-letter", reason=reason)
        delay = min(self.config.retry_delay_max,
                    self.config.retry_delay * 2 ** (delivery.attempt - 1))
        return Outcome(delivery, record, "retry", delay=delay)

    def _error_body(self, payload, result):
        try:
            return self.backend.results.body(payload.id, payload.args, payload.kwargs,
                                             _errors(result), None)
        except Exception:  # noqa: BLE001 - keep the latest errors, drop a huge traceback
            errors = [{**e, "traceback": e["traceback"][-4000:]} for e in _errors(result)]
            return self.backend.results.body(payload.id, payload.args, payload.kwargs,
                                             errors, None)

    # -- writing outcomes -------------------------------------------------------------------
    def _flush_loop(self):
        while not self._stop_now.is_set():
            try:
                first = self._outcomes.get(timeout=0.1)
            except queue.Empty:
                continue
            outcomes = [first]
            gather_until = time.monotonic() + FLUSH_GATHER
            while len(outcomes) < FLUSH_SIZE:
                # Wait only while other received messages are unsettled: no outcome comes
                # otherwise.
                with self._inflight_lock:
                    unsettled = len(self._inflight) - len(outcomes)
                wait = gather_until - time.monotonic() if unsettled > 0 else 0
                try:
                    outcomes.append(self._outcomes.get(timeout=max(0.0, wait)))
                except queue.Empty:
                    break
            self._flush(outcomes)

    def _flush(self, outcomes):
        outcomes = [o for o in outcomes if not o.delivery.settled]  # handed back meanwhile
        if not outcomes:
            return
        with self._mark_lock:  # waits for a RUNNING mark being written; none after this
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
            self._settle([o.delivery for o in outcomes])
            return
        done = [o.delivery for o in outcomes if o.action == "delete"]
        self._delete(done)
        for outcome in outcomes:
            if outcome.action == "dead-letter":
                self._dead_letter([outcome.delivery], outcome.reason)
        retries = [o for o in outcomes if o.action == "retry"]
        for outcome in retries:
            self._set_visibility([outcome.delivery], outcome.delay)
        with self._inflight_lock:
            self.processed += len(outcomes)
        for delivery in done:
            key = messages.pointer(delivery.body)
            if key and self.backend.payloads is not None:
                self.backend.payloads.delete(key)

    # -- SQS actions on deliveries ------------------------------------------------------------
    def _by_url(self, deliveries):
        groups = {}
        for delivery in deliveries:
            groups.setdefault(delivery.url, []).append(delivery)
        return groups.items()

    def _delete(self, deliveries):
        try:
            for url, group in self._by_url(deliveries):
                self.backend.sqs.delete_many(url, [d.receipt for d in group])
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s delete failed error=%r", self.worker_id, error)
        self._settle(deliveries)

    def _set_visibility(self, deliveries, seconds):
        try:
            for url, group in self._by_url(deliveries):
                self.backend.sqs.set_visibility_many(url, [(d.receipt, seconds) for d in group])
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s visibility change failed error=%r", self.worker_id,
                           error)
        self._settle(deliveries)

    def _dead_letter(self, deliveries, reason):
        for delivery in deliveries:
            logger.error("worker=%s dead-letter queue=%s message=%s reason=%r",
                         self.worker_id, delivery.sqs_name, delivery.message_id, reason)
            try:
                self.backend.sqs.dead_letter(delivery.sqs_name, delivery.body, reason)
            except SERVICE_ERRORS as error:
                # Left in the queue: SQS's redrive moves it after MAX_RECEIVE_COUNT receives.
                logger.error("worker=%s dead-letter failed error=%r", self.worker_id, error)
                self._settle([delivery])
                continue
            self._delete([delivery])

    def _defer(self, delivery):
        """Re-send a message whose run_after is beyond SQS's longest delay; delete this one."""
        try:
            self.backend.sqs.send(delivery.sqs_name, delivery.body,
                                  delay_seconds(delivery.payload))
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s defer failed error=%r", self.worker_id, error)
            self._settle([delivery])
            return
        logger.info("worker=%s deferred id=%s run_after=%s", self.worker_id,
                    delivery.payload.id, delivery.payload.run_after.isoformat())
        self._delete([delivery])

    def _hand_back_all(self):
        with self._inflight_lock:
            pending = [d for d in self._inflight.values() if not d.settled]
        # Release the leases first: a worker that receives a message whose lease still
        # runs hands it back until the lease ends, up to the visibility timeout.
        leases = {d.payload.id: {"lease": ""} for d in pending if d.marked}
        try:
            self.backend.results.put_many(leases)
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s lease release failed error=%r", self.worker_id, error)
        if pending:
            self._set_visibility(pending, 0)
        return len(pending)

    # -- RUNNING marks --------------------------------------------------------------------------
    def _mark_loop(self):
        while not self._stop_now.wait(RUNNING_MARK_AFTER / 2):
            with self._mark_lock:
                started_before = time.monotonic() - RUNNING_MARK_AFTER
                with self._inflight_lock:
                    due = [d for d in self._inflight.values()
                           if d.running and not d.marked and not d.finished and not d.settled
                           and d.running_since <= started_before]
                if not due:
                    continue
                try:
                    self.backend.results.put_many({d.payload.id: d.mark for d in due})
                except SERVICE_ERRORS as error:
                    logger.warning("worker=%s RUNNING marks failed error=%r", self.worker_id,
                                   error)
                    continue
                for delivery in due:
                    delivery.marked = True

    # -- heartbeat ------------------------------------------------------------------------------
    def _heartbeat_loop(self):
        while not self._stop_now.wait(min(1.0, self.heartbeat_every / 2)):
            now = time.time()
            with self._inflight_lock:
                due = [d for d in self._inflight.values()
                       if not d.settled and d.visible_until - now < self.visibility * 2 / 3]
            if not due:
                continue
            try:
                for url, group in self._by_url(due):
                    self.backend.sqs.set_visibility_many(
                        url, [(d.receipt, self.visibility) for d in group])
                leases = {d.payload.id: {"lease": epoch(now + self.visibility)}
                          for d in due if d.marked}
                self.backend.results.put_many(leases)
            except SERVICE_ERRORS as error:
                logger.warning("worker=%s heartbeat failed error=%r", self.worker_id, error)
                continue
            for delivery in due:
                delivery.visible_until = now + self.visibility


def _errors(result):
    return [{"exception_class_path": e.exception_class_path, "traceback": e.traceback}
            for e in result.errors]
