"""Cancelling a task: `cancel(result_id)` (and the admin's Cancel button).

Django's TaskResultStatus has no CANCELLED, so a cancelled result is FAILED, with the
attribute `cancelled` (when) in its record, `result.cancelled` true on the SQSTaskResult,
and a `storage_backends.tasks.context.Cancelled` error saying how it was cancelled:
anything that reads Django's statuses sees a task that did not succeed and will not run.

- **Queued** (READY, including between a failed attempt and its retry): one conditional
  write makes it FAILED and cancelled if it is still READY (SimpleDB Expected, DynamoDB a
  ConditionExpression). A worker that receives its message then sees a finished result and
  deletes the message without running it.
- **Running**: a cancel request, the item `cancel-<id>`, is written; the worker's
  heartbeat reads it within CANCEL_CHECK_EVERY seconds (heartbeat.py) and asks the task
  to stop. A task that checks `should_stop()` and raises (`raise_if_stopped()`) ends
  CANCELLED, not retried; one that returns normally is SUCCESSFUL (its work is done).
- **Finished**: nothing to cancel.

A queued task also gets the request: a worker that took its message just before the
cancel (and so did not see it) asks the task to stop as it would a running one.
"""

import time
from enum import StrEnum

from django.tasks import TaskResultStatus, task_backends
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from .context import Cancelled
from .results import CANCEL_PREFIX, epoch, format_time

#: Seconds a cancel request is kept: longer than any run (SQS hides a message 12 hours).
REQUEST_RETENTION = 13 * 3600


class Cancellation(StrEnum):
    """What `cancel` did."""

    #: It was queued: it is now FAILED and cancelled, and will not run.
    CANCELLED = "cancelled"
    #: It was running: it is asked to stop.
    REQUESTED = "requested"
    #: It had finished: nothing was done.
    FINISHED = "finished"


def flag_name(result_id):
    """The item that asks a running task to stop."""
    return CANCEL_PREFIX + result_id


def cancel(result_id, backend="default"):
    """Cancel the task of `result_id` in the TASKS alias `backend` (see the module
    docstring); a `Cancellation`. TaskResultDoesNotExist if there is no such result."""
    results = task_backends[backend].results
    for _round in range(3):
        record = results.record(result_id)
        status = record.get("status")
        if not record or not status:
            raise TaskResultDoesNotExist(result_id)
        if status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
            return Cancellation.FINISHED
        results.put(flag_name(result_id), {
            "requested_at": format_time(timezone.now()),
            "expires": epoch(time.time() + REQUEST_RETENTION)})
        if status == TaskResultStatus.RUNNING:
            return Cancellation.REQUESTED
        if results.put_if(result_id, cancelled_record(results, result_id, record), "status",
                          TaskResultStatus.READY.value):
            return Cancellation.CANCELLED
        # It left READY meanwhile (a worker took it): look again.
    return Cancellation.REQUESTED


def cancelled_error(why):
    """The error (as a result's document holds it) that says how a task was cancelled."""
    path = f"{Cancelled.__module__}.{Cancelled.__qualname__}"
    return {"exception_class_path": path, "traceback": f"{path}: {why}\n"}


def cancelled_record(results, result_id, record):
    """The attributes that make a READY record FAILED and cancelled."""
    now = timezone.now()
    document = results.document(record)
    errors = [*(document.get("errors") or []), cancelled_error("cancelled before it ran")]
    return {
        "status": TaskResultStatus.FAILED.value, "finished_at": format_time(now),
        "cancelled": format_time(now), "lease": "",
        **results.body(result_id, document["args"], document["kwargs"], errors, None),
    }
