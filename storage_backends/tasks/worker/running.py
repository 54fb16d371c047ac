"""Running tasks: a pool of `concurrency` threads, one task each (coroutine tasks on an
event loop in that thread), each run ending in an `Outcome` for the flushers to write.

A task's own exception is its outcome (a retry, or FAILED and a dead letter). Anything else
that goes wrong while running one delivery (its result cannot be built, the worker's own
code fails) is logged and that delivery alone is handed back, to run again later.
"""

import json
import logging
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from django.tasks import TaskContext, TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.json import normalize_json

from ..results import epoch, format_time, parse_time
from .deliveries import Outcome

logger = logging.getLogger("storage_backends.tasks.worker")

#: Seconds a delivery is handed back for when the worker could not run it.
FAULT_BACKOFF = 5


class Runner:
    """Starts checked deliveries in the task pool and turns each run into an Outcome."""

    def __init__(self, backend, ledger, settler, outcomes, worker_id, visibility, concurrency):
        self.backend = backend
        self.config = backend.config
        self.ledger = ledger
        self.settler = settler
        self.outcomes = outcomes
        self.worker_id = worker_id
        self.visibility = visibility
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="task")
        self._tasks_as_sent = {}

    def start(self, delivery, now):
        """Hand a checked delivery (payload, task and result record read) to the pool."""
        delivery.mark = self._running_record(delivery, now)
        self.ledger.started_task(delivery)
        try:
            self._pool.submit(self.run, delivery)
        except RuntimeError:  # the pool is shut down: the worker is stopping
            self.settler.hand_back([delivery], 0)

    def shutdown(self):
        """Stop starting tasks; tasks still running are left to finish (or be abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

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

    # -- one run ------------------------------------------------------------------------------
    def run(self, delivery):
        """Run one delivery's task in a pool thread; its outcome goes to the flushers."""
        try:
            outcome = self._run(delivery)
        except BaseException:  # noqa: BLE001 - not the task's (that is its outcome): a
            # signal receiver's SystemExit, say. The delivery must still be settled, or the
            # heartbeat would keep its message hidden for ever.
            logger.exception("worker=%s could not run message=%s; handed back for %ds",
                             self.worker_id, delivery.message_id, FAULT_BACKOFF)
            self.ledger.free_thread(delivery)
            self.settler.hand_back([delivery], FAULT_BACKOFF)
            return
        self.outcomes.put(outcome)

    def _run(self, delivery):
        result, task, payload = delivery.result, delivery.task, delivery.payload
        close_old_connections()  # as at the start of a request
        self.ledger.task_began()
        started = time.monotonic()
        try:
            # send_robust: a receiver's error is logged (django.dispatch) and must not keep
            # the outcome from being written, which would leave the task RUNNING for good.
            task_started.send_robust(sender=type(self.backend), task_result=result)
            try:
                if task.takes_context:
                    value = task.call(TaskContext(task_result=result), *payload.args,
                                      **payload.kwargs)
                else:
                    value = task.call(*payload.args, **payload.kwargs)
                value = normalize_json(value)
                # None and no earlier errors: the stored document is the one enqueued (or
                # an earlier success's, the same), and need not be written again.
                body = {} if value is None and not result.errors else self.backend.results.body(
                    payload.id, payload.args, payload.kwargs, _errors(result), value)
            except BaseException as error:  # noqa: BLE001 - a task's failure is its result
                outcome = self._failure(delivery, error)
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
            # The thread is free for the next task while this outcome is written.
            self.ledger.task_ended(delivery)
        logger.info("worker=%s task=%s id=%s status=%s attempt=%d ms=%d", self.worker_id,
                    payload.task_path, payload.id, outcome.record["status"], delivery.attempt,
                    (time.monotonic() - started) * 1000)
        return outcome

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
