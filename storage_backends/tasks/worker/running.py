"""Running tasks: `concurrency` task threads (pool.py), one task each (coroutine tasks on
an event loop in that thread), each run ending in an `Outcome` for the flushers to write.

A task's own exception is its outcome (a retry, or FAILED and a dead letter). Anything else
that goes wrong while running one delivery (its result cannot be built, the worker's own
code fails) is logged and that delivery alone is handed back, to run again later.

Each run has a `context.Run`, current in its thread while the task runs: the task reports
progress and reads stop requests through it. A run that passes its time limit gets its
outcome from `limits.TimeLimits` instead (`expire`); whatever the task does after that is
ignored. A run whose task raises after it was asked to stop because it was cancelled is
CANCELLED: FAILED with a `Cancelled` error, no retry, its message deleted.
"""

import json
import logging
import sys
import time
import traceback

from django.db import close_old_connections
from django.tasks import TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json

from .. import context
from ..cancelling import cancelled_error
from ..context import CANCELLED, Run, SQSTaskContext, TimeLimitExceeded
from ..metrics.collector import Collector
from ..results import SQSTaskResult, epoch, format_time, parse_time
from .deliveries import LIMIT, THREAD, Outcome
from .pool import TaskThreads

logger = logging.getLogger("storage_backends.tasks.worker")

#: Seconds a delivery is handed back for when the worker could not run it.
FAULT_BACKOFF = 5


class Runner:
    """Starts checked deliveries in the task pool and turns each run into an Outcome."""

    def __init__(self, backend, ledger, settler, outcomes, worker_id, visibility, concurrency,
                 metrics=None):
        self.backend = backend
        self.config = backend.config
        self.ledger = ledger
        self.settler = settler
        self.outcomes = outcomes
        self.worker_id = worker_id
        self.visibility = visibility
        self.threads = TaskThreads(concurrency, self.run)
        self._tasks_as_sent = {}
        #: Counts each run (storage_backends.tasks.metrics.collector.Collector).
        self.metrics = metrics if metrics is not None else Collector()

    def start(self, delivery, now):
        """Hand a checked delivery (payload, task and result record read) to the pool."""
        delivery.mark = self._running_record(delivery, now)
        delivery.run = Run(self.backend.time_limit_of(delivery.task))
        self.ledger.started_task(delivery)
        try:
            self.threads.submit(delivery)
        except RuntimeError:  # the pool is shut down: the worker is stopping
            self.settler.hand_back([delivery], 0)

    def shutdown(self):
        """Stop starting tasks; tasks still running are left to finish (or be abandoned)."""
        self.threads.shutdown()

    def _running_record(self, delivery, now):
        record, payload = delivery.record, delivery.payload
        worker_ids = json.loads(record.get("worker_ids") or "[]") + [self.worker_id]
        delivery.attempt = len(worker_ids) - int(record.get("base") or 0)
        started = record.get("started_at") or format_time(timezone.now())
        running = {
            "status": TaskResultStatus.RUNNING.value, "started_at": started,
            "last_attempted_at": format_time(timezone.now()),
            "worker_ids": json.dumps(worker_ids), "lease": epoch(now + self.visibility),
            "mid": delivery.message_id,
        }
        # What the marker writes, and the outcome starts from: as whole as the store needs.
        marks = (self.backend.results.revised(record, running) if record
                 else {**self.backend.results.ready_record(payload), **running})
        delivery.record = {**record, **marks}
        try:
            document = self.backend.results.document(delivery.record)
        except ValueError:
            document = {"errors": []}
        delivery.result = SQSTaskResult(
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

    # -- one run ------------------------------------------------------------------------------
    def run(self, delivery):
        """Run one delivery's task in a pool thread; its outcome goes to the flushers."""
        if delivery.settled:
            # Handed back while it waited for a thread (the worker is stopping): another
            # worker runs it.
            self.ledger.free_thread(delivery)
            return
        try:
            outcome = self._run(delivery)
        except BaseException:  # noqa: BLE001 - not the task's (that is its outcome): a
            # signal receiver's SystemExit, say. The delivery must still be settled, or the
            # heartbeat would keep its message hidden for ever.
            if delivery.ended == LIMIT:
                return  # its time limit gave it its outcome already
            logger.exception("worker=%s could not run message=%s; handed back for %ds",
                             self.worker_id, delivery.message_id, FAULT_BACKOFF)
            self.ledger.free_thread(delivery)
            self.settler.hand_back([delivery], FAULT_BACKOFF)
            return
        if outcome is not None:
            self.outcomes.put(outcome)

    def _run(self, delivery):
        result, task, payload = delivery.result, delivery.task, delivery.payload
        close_old_connections()  # as at the start of a request
        self.ledger.task_began(delivery)
        started = time.monotonic()
        token = context.enter(delivery.run)
        try:
            # send_robust: a receiver's error is logged (django.dispatch) and must not keep
            # the outcome from being written, which would leave the task RUNNING for good.
            task_started.send_robust(sender=type(self.backend), task_result=result)
            error = value = None
            try:
                if task.takes_context:
                    value = task.call(SQSTaskContext(task_result=result), *payload.args,
                                      **payload.kwargs)
                else:
                    value = task.call(*payload.args, **payload.kwargs)
            except BaseException as raised:  # noqa: BLE001 - a task's failure is its result
                error = raised
            if not self.ledger.end_run(delivery, THREAD):
                # Its time limit passed first: that outcome is written, this one dropped.
                logger.info("worker=%s task=%s id=%s late=%dms: the outcome of an attempt "
                            "past its time limit is ignored", self.worker_id,
                            payload.task_path, payload.id, (time.monotonic() - started) * 1000)
                return None
            outcome = self._outcome(delivery, value, error)
            task_finished.send_robust(sender=type(self.backend), task_result=result)
        finally:
            context.leave(token)
            close_old_connections()  # as at the end of a request
            # The thread is free for the next task while this outcome is written.
            self.ledger.end_run(delivery, THREAD)
        self._log(delivery, outcome, started)
        return outcome

    def _log(self, delivery, outcome, started):
        """Log the run's end and count it in the worker's metrics."""
        seconds = time.monotonic() - started
        logger.info("worker=%s task=%s id=%s status=%s attempt=%d ms=%d", self.worker_id,
                    delivery.payload.task_path, delivery.payload.id, outcome.record["status"],
                    delivery.attempt, seconds * 1000)
        self.metrics.task_ran(delivery, outcome.action, seconds, time.time())

    def _outcome(self, delivery, value, error):
        """The outcome of a run that returned `value` or raised `error`."""
        result, payload = delivery.result, delivery.payload
        if error is None:
            try:
                value = normalize_json(value)
                # None and no earlier errors: the stored document is the one enqueued (or
                # an earlier success's, the same), and need not be written again.
                body = {} if value is None and not result.errors else self.backend.results.body(
                    payload.id, payload.args, payload.kwargs, _errors(result), value)
            except BaseException as raised:  # noqa: BLE001 - unstorable: a failure too
                error = raised
        if error is not None:
            if delivery.run.stop_reason == CANCELLED:
                return self._cancelled(delivery, error)
            return self._failure(delivery, error)
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "_return_value", value)
        return Outcome(delivery, self._with_progress(delivery, {
            "status": TaskResultStatus.SUCCESSFUL.value,
            "finished_at": format_time(result.finished_at), "lease": "",
            "expires": epoch(time.time() + self.config.result_retention), **body,
        }), "delete")

    def expire(self, delivery, thread):
        """The outcome of a run past its time limit, whose task still runs in `thread` (or
        has just returned): a failed attempt whose error says so, and where it was."""
        limit = delivery.run.time_limit
        frame = sys._current_frames().get(thread.ident) if thread is not None else None
        where = "".join(traceback.format_stack(frame)) if frame is not None else ""
        error = TimeLimitExceeded(f"exceeded its time limit of {limit:g} s")
        trace = (f"storage_backends.tasks.context.TimeLimitExceeded: {error}\n"
                 + (f"\nWhere it was when its time ran out:\n{where}" if where else ""))
        outcome = self._failure(delivery, error, trace)
        task_finished.send_robust(sender=type(self.backend), task_result=delivery.result)
        self._log(delivery, outcome, time.monotonic() - limit)
        return outcome

    def _cancelled(self, delivery, error):
        """A run that stopped after it was cancelled: FAILED, not retried, deleted."""
        result, payload = delivery.result, delivery.payload
        now = timezone.now()
        result.errors.append(TaskError(**cancelled_error(
            f"cancelled while it ran (attempt {delivery.attempt}); it stopped with "
            f"{type(error).__name__}: {_text_of(error)[:500]}")))
        object.__setattr__(result, "status", TaskResultStatus.FAILED)
        object.__setattr__(result, "finished_at", now)
        object.__setattr__(result, "cancelled", True)
        record = {"status": TaskResultStatus.FAILED.value, "lease": "",
                  "finished_at": format_time(now), "cancelled": format_time(now),
                  "expires": epoch(time.time() + self.config.result_retention),
                  **self._error_body(payload, result)}
        return Outcome(delivery, self._with_progress(delivery, record), "delete")

    def _with_progress(self, delivery, record):
        """The outcome's record with the last progress reported (always written at the end)."""
        progress = delivery.run.final_progress()
        return {**record, "progress": progress} if progress else record

    def _failure(self, delivery, error, trace=None):
        result, payload = delivery.result, delivery.payload
        kind = type(error)
        result.errors.append(TaskError(
            exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
            traceback=trace or "".join(traceback.format_exception(error)),
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
        record = self._with_progress(delivery, record)
        if final:
            reason = (f"failed after {delivery.attempt} attempt(s): {kind.__name__}: "
                      f"{_text_of(error)[:500]}")
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


def _errors(result):
    return [{"exception_class_path": e.exception_class_path, "traceback": e.traceback}
            for e in result.errors]


def _text_of(error):
    """str(error), or a placeholder when the exception's own __str__ fails."""
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - a task's exception class may be broken
        return "<str() of the exception failed>"
