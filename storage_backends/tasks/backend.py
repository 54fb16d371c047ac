"""`SQSBackend`: Django's Tasks framework on Amazon SQS, with results in SimpleDB or
DynamoDB (the RESULTS_STORE option).

TASKS = {"default": {"BACKEND": "storage_backends.tasks.SQSBackend", "QUEUES": [...],
"OPTIONS": {...}}}; docs/tasks.md, "Options", lists them.

Each Django queue name is one SQS queue per priority band (`<prefix><queue>` and, by
default, `<prefix><queue>-high` for priorities >= 1), each with a dead-letter queue
`...-dlq`; `manage.py provision_aws` creates them and `manage.py sqs_worker` runs what
they hold.

`enqueue` writes the READY result (1 call: PutAttributes or UpdateItem) and sends the
message (1 SendMessage). Inside `transaction.atomic()` both wait for the commit and go out
in batches: 25 results to a BatchPutAttributes or BatchWriteItem, 10 messages to a
SendMessageBatch; a rollback sends nothing.
`enqueue_many` does the same for a list of calls, at once or on commit. A message goes out
only once its result is written (see `send`), but in bulk the results of later tasks are
written on other threads while earlier tasks' messages are sent, so a bulk enqueue takes
about as long as sending its messages alone. A unique task (`@task(unique_for=...)`,
`task.unique(...)`) first claims its key (unique.py).
"""

import contextvars
import math
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.tasks import Task, TaskResultStatus
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_enqueued
from django.utils import timezone

from .. import aws
from . import messages, options, unique
from .messages import Payload, PayloadStore
from .queues import Queues
from .results import SQSTaskResult, result_store


#: The metrics store's client: connections it keeps (a worker's reporter, or a few
#: readers), seconds it waits for an answer, attempts per call.
METRICS_CONNECTIONS = 4
METRICS_READ_TIMEOUT = 5
METRICS_ATTEMPTS = 2

#: Tasks a bulk send takes per step: their results are written, then their messages sent
#: (two result batches, five message batches).
SEND_STEP = 50
#: Steps of a bulk send under way at once. A step is a few calls in series, each mostly a
#: wait on the network, so steps side by side send about this many times faster.
SEND_THREADS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSTask(Task):
    """A django.tasks Task with this backend's own options, set in `@task(...)`:
    `max_attempts` (runs before it is FAILED), `time_limit` (seconds an attempt may run)
    and `unique_for` (seconds within which enqueueing it again with the same arguments
    returns the first result: docs/tasks.md, "Unique tasks")."""

    max_attempts: int | None = None
    time_limit: float | None = None
    unique_for: int | None = None
    #: What makes two enqueues the same within `unique_for` (None: the task's arguments);
    #: set with `unique()`.
    unique_key: str | None = None

    def unique(self, key=None, within=None):
        """This task made unique by `key` (a string; None: by its arguments) for `within`
        seconds (None: the task's `unique_for`, else an hour)."""
        if within is None:
            within = self.unique_for if self.unique_for is not None else unique.DEFAULT_WINDOW
        return replace(self, unique_key=key, unique_for=within)


class SQSBackend(BaseTaskBackend):
    """Tasks sent through SQS, run by `manage.py sqs_worker`, results kept in SimpleDB or
    DynamoDB."""

    task_class = SQSTask

    # run_after: up to 15 minutes through SQS's DelaySeconds; later ones are re-sent by the
    # worker with the delay that remains.
    supports_defer = True
    # Coroutine tasks run on an event loop in the worker's threads.
    supports_async_task = True
    # Results (status, times, errors, return value) are in SimpleDB or DynamoDB: any
    # process reads them.
    supports_get_result = True
    # Priorities map onto per-band SQS queues, polled highest band first.
    supports_priority = True

    def __init__(self, alias, params):
        super().__init__(alias, params)
        self.queue_names = tuple(params.get("QUEUES") or ["default"])
        self.config = options.parse(self.options, self.queue_names)
        self._clients = {}
        self._lock = threading.Lock()

    # -- clients (storage_backends.aws makes them: one set per process) ---------------------
    # Without botocore's parameter validation: the backend builds every parameter itself
    # (sizes and counts bounded before a call), and validating a batch of results walks
    # each attribute again, a tenth of a worker's CPU per call. The services still refuse
    # what is wrong.
    def _built_on(self, name, client, make):
        """`make(client)`, kept while storage_backends.aws hands out the same client (it
        makes new ones after a fork or aws.reset())."""
        with self._lock:
            kept = self._clients.get(name)
            if kept is None or kept[0] is not client:
                kept = self._clients[name] = (client, make(client))
            return kept[1]

    @property
    def sqs(self):
        # A long poll holds the connection for up to WAIT_SECONDS: the read timeout must
        # outlast it. A worker's receivers, flushers and heartbeat each hold a connection.
        client = aws.client("sqs",
                            read_timeout=self.config.wait_seconds + settings.AWS_READ_TIMEOUT,
                            max_pool_connections=max(settings.AWS_MAX_POOL_CONNECTIONS, 16),
                            parameter_validation=False)
        return self._built_on("queues", client, Queues)

    @property
    def results(self):
        """The ResultStore of RESULTS_STORE (storage_backends.tasks.results)."""
        service = "dynamodb" if self.config.results_store == "dynamodb" else "sdb"
        client = aws.client(service,
                            max_pool_connections=max(settings.AWS_MAX_POOL_CONNECTIONS, 16),
                            parameter_validation=False)
        return self._built_on("results", client, lambda made: result_store(
            self.config, made, s3=aws.client("s3") if self.config.payload_bucket else None))

    @property
    def metrics(self):
        """Workers' reports (storage_backends.tasks.metrics.store), in RESULTS_STORE."""
        from .metrics.store import metrics_store

        service = "dynamodb" if self.config.results_store == "dynamodb" else "sdb"
        # A client of its own: a report is one call per interval, never waits for a
        # connection behind the task threads' result writes, and gives up soon (the next
        # report replaces it), so a stopping worker's last report holds it seconds at most.
        client = aws.client(service, max_pool_connections=METRICS_CONNECTIONS,
                            read_timeout=METRICS_READ_TIMEOUT,
                            retries={"mode": settings.AWS_RETRY_MODE,
                                     "total_max_attempts": METRICS_ATTEMPTS})
        return self._built_on("metrics", client, lambda made: metrics_store(self.config, made))

    @property
    def payloads(self):
        if not self.config.payload_bucket:
            return None
        return self._built_on("payloads", aws.client("s3"), lambda s3: PayloadStore(
            s3, self.config.payload_bucket, self.config.payload_prefix))

    # -- the Tasks API --------------------------------------------------------------------
    def validate_task(self, task):
        super().validate_task(task)
        if task.func.__module__ == "__main__":
            raise InvalidTask("Task functions defined in __main__ cannot be imported by a "
                              "worker; define the task in a module.")
        max_attempts = getattr(task, "max_attempts", None)
        if max_attempts is not None and not (
                isinstance(max_attempts, int) and not isinstance(max_attempts, bool)
                and 1 <= max_attempts < self.config.max_receive_count):
            raise InvalidTask(
                f"max_attempts must be a whole number from 1 to "
                f"{self.config.max_receive_count - 1} (below the queue's MAX_RECEIVE_COUNT), "
                f"not {max_attempts!r}."
            )
        try:
            options.time_limit(getattr(task, "time_limit", None), "time_limit")
        except ValueError as error:
            raise InvalidTask(str(error)) from None
        unique.validate(task)

    def enqueue(self, task, args, kwargs):
        """Send one task; returns its READY TaskResult (sent on commit inside atomic())."""
        return self.enqueue_many(task, [(args, kwargs)])[0]

    def enqueue_many(self, task, calls):
        """Send one task for each (args, kwargs) in `calls`: batches of 10 messages."""
        self.validate_task(task)
        if getattr(task, "unique_for", None) is not None:
            return unique.enqueue_many(self, task, calls)
        return self.dispatch([self._prepare(task, args, kwargs) for args, kwargs in calls])

    def dispatch(self, items):
        """Send prepared (payload, result) items now, or when the transaction commits."""
        if not items:
            return []
        connection = transaction.get_connection(DEFAULT_DB_ALIAS)
        if self.config.enqueue_on_commit and connection.in_atomic_block:
            self._send_on_commit(connection, items)
        else:
            self.send(items)
        return [result for _payload, result in items]

    def get_result(self, result_id):
        return self.results.task_result(result_id, self.results.record(result_id))

    # -- sending --------------------------------------------------------------------------
    def time_limit_of(self, task):
        """Seconds an attempt of `task` may run: its own `time_limit`, else its entry in
        TIME_LIMITS, else TIME_LIMIT (None: no limit)."""
        own = getattr(task, "time_limit", None)
        if own is not None:
            return own
        return self.config.time_limits.get(task.module_path, self.config.time_limit)

    def _prepare(self, task, args, kwargs, result_id=None):
        result = SQSTaskResult(
            # 32 hex digits from one read of the system's randomness (get_random_string
            # reads it once per character, a tenth of a bulk enqueue's CPU).
            task=task, id=result_id or uuid.uuid4().hex, status=TaskResultStatus.READY,
            enqueued_at=timezone.now(), started_at=None, last_attempted_at=None,
            finished_at=None, args=list(args), kwargs=dict(kwargs), backend=self.alias,
            errors=[], worker_ids=[],
        )  # TaskResult normalises args and kwargs: TypeError if they are not JSON
        payload = Payload(
            id=result.id, task_path=task.module_path, backend=self.alias,
            queue_name=task.queue_name, priority=task.priority, args=result.args,
            kwargs=result.kwargs, enqueued_at=result.enqueued_at, run_after=task.run_after,
        )
        return payload, result

    def sqs_name(self, payload):
        return self.config.sqs_name(payload.queue_name, self.config.band_of(payload.priority))

    def send(self, items, write_results=True):
        """Write READY results and send the messages; fires task_enqueued for each.

        Each message goes out only after its result is written: a worker that received a
        message first would run the task from a record of its own, and the READY write
        arriving after the outcome would make the finished task READY again. A bulk send
        goes in steps of SEND_STEP tasks, SEND_THREADS at once. If a call fails, the steps
        not yet begun are dropped, those under way finish (each step's messages only after
        its results), and the first error is raised."""
        steps = [items[start:start + SEND_STEP] for start in range(0, len(items), SEND_STEP)]
        if len(steps) == 1:
            self._send_step(items, write_results)
        else:
            with ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="enqueue") as senders:
                # Each step runs in a copy of this context: a request's AWS budget holds.
                sending = [senders.submit(contextvars.copy_context().run, self._send_step,
                                          step, write_results) for step in steps]
                try:
                    for future in sending:
                        future.result()
                finally:
                    for future in sending:
                        future.cancel()
        for _payload, result in items:
            if result is not None:
                task_enqueued.send(type(self), task_result=result)

    def _send_step(self, items, write_results):
        if write_results:
            self._write_ready(items)
        self._send_messages(items)

    def _write_ready(self, items):
        records = {payload.id: self.results.ready_record(payload) for payload, _ in items}
        if len(records) == 1:
            self.results.put(*next(iter(records.items())))
        else:
            self.results.put_many(records)

    def _send_messages(self, items):
        by_queue = {}
        for payload, _result in items:
            body = messages.encode(payload, self.payloads)
            by_queue.setdefault(self.sqs_name(payload), []).append((body, delay_seconds(payload)))
        for name, outgoing in by_queue.items():
            if len(outgoing) == 1:
                self.sqs.send(name, *outgoing[0])
            else:
                self.sqs.send_many(name, outgoing)

    def _send_on_commit(self, connection, items):
        buffer = _CommitBuffer.current(connection, self)
        transaction.on_commit(partial(buffer.keep, items))
        buffer.registered += 1
        # Added outside any savepoint, so that it runs even if a later savepoint is rolled
        # back; being added after keep(), it runs after every keep() that survived. Only
        # the last one sends.
        connection.run_on_commit.append(
            (set(), partial(buffer.flush, buffer.registered), False))


class _CommitBuffer:
    """Tasks enqueued in one transaction, sent in batches once it commits."""

    def __init__(self, backend):
        self.backend = backend
        self.items = []
        self.registered = 0

    @classmethod
    def current(cls, connection, backend):
        for _sids, function, _robust in reversed(connection.run_on_commit):
            owner = getattr(getattr(function, "func", None), "__self__", None)
            if isinstance(owner, cls) and owner.backend is backend:
                return owner
        return cls(backend)

    def keep(self, items):
        self.items.extend(items)

    def flush(self, number):
        if number == self.registered and self.items:
            items, self.items = self.items, []
            self.backend.send(items)


def delay_seconds(payload):
    """SQS DelaySeconds for a payload: what remains of run_after, at most 15 minutes."""
    if payload.run_after is None:
        return 0
    remaining = (payload.run_after - timezone.now()) / timedelta(seconds=1)
    return max(0, min(options.MAX_DELAY_SECONDS, math.ceil(remaining)))
