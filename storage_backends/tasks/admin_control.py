"""What the admin's result pages show and do about a task's run: its progress, its time
limit, whether it was cancelled or asked to stop, and the Cancel action.

Kept apart from admin_views.py (the pages themselves), which calls `run_facts` for a
result's page, `listed_progress` for a row of the list and `cancel_view` for the POST.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist

from .cancelling import Cancellation, cancel, flag_name
from .context import Progress
from .messages import BadMessage, resolve_task
from .results import parse_time
from .worker import SERVICE_ERRORS

#: Statuses a task can be cancelled in.
CANCELLABLE = (TaskResultStatus.READY, TaskResultStatus.RUNNING)


def listed_progress(attributes):
    """A results row's progress: "42%", "7 done", or "" (none reported)."""
    progress = Progress.from_json(attributes.get("progress"))
    if progress is None:
        return ""
    if progress.percent is not None:
        return f"{progress.percent}%"
    return f"{progress.done:g} done"


def run_facts(backend, result_id, attributes, can_change):
    """The result page's context about the run (progress, time limit, cancel state)."""
    status = attributes.get("status")
    cancellable = status in CANCELLABLE
    requested = False
    if cancellable:
        try:
            requested = bool(backend.results.existing([flag_name(result_id)]))
        except SERVICE_ERRORS:
            requested = None  # unknown: the page says so
    return {
        "progress": Progress.from_json(attributes.get("progress")),
        "time_limit": _time_limit(backend, attributes),
        "cancelled_at": _time(attributes.get("cancelled"))
        if status == TaskResultStatus.FAILED else None,
        "cancel_requested": requested,
        "can_cancel": can_change and cancellable and not requested,
    }


def _time_limit(backend, attributes):
    """The task's time limit in seconds, None for none, or "" if its task is gone."""
    try:
        task = resolve_task(attributes.get("task") or "")
    except BadMessage:
        return ""
    return backend.time_limit_of(task)


def _time(text):
    try:
        return parse_time(text)
    except (TypeError, ValueError):
        return None


def cancel_view(admin, request, backend, result_id, back):
    """Cancel the task of `result_id` (its admin page's POST); a redirect to `back`."""
    try:
        done = cancel(result_id, backend=backend.alias)
    except TaskResultDoesNotExist:
        messages.error(request, "Not cancelled: there is no such result.")
        return HttpResponseRedirect(back)
    except (*SERVICE_ERRORS, ValueError) as error:
        messages.error(request, f"Not cancelled: {type(error).__name__}: {error}")
        return HttpResponseRedirect(back)
    if done == Cancellation.CANCELLED:
        messages.success(request, "Cancelled: the task will not run.")
    elif done == Cancellation.REQUESTED:
        messages.success(request, "Cancel requested: the running task is asked to stop "
                                  "(it stops if it checks should_stop()).")
    else:
        messages.warning(request, "Not cancelled: the task had already finished.")
    if done != Cancellation.FINISHED:
        admin._log(request, [result_id], f"Cancel: {done}")
    return HttpResponseRedirect(back)
