"""Cancellation, in this process: a queued task that is cancelled never runs and is FAILED
and `cancelled`; a running one is asked to stop, and is cancelled if it stops."""

import logging

import pytest
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist

from storage_backends.tasks import Cancellation, cancel
from tests.tasks import jobs
from tests.tasks.stores import on_both_stores
from tests.tasks.test_worker import dead_letters, eventually, left_in, worker_in_thread

CANCELLED_ERROR = "storage_backends.tasks.context.Cancelled"


@pytest.fixture(autouse=True)
def released():
    jobs.release.clear()
    yield
    jobs.release.set()


def finished(result):
    result.refresh()
    return result.is_finished


@on_both_stores
def test_a_queued_task_that_is_cancelled_never_runs(tasks, run_worker):
    result = jobs.remember.enqueue("never", 1)
    assert cancel(result.id) == Cancellation.CANCELLED
    run_worker()
    result.refresh()
    assert "never" not in jobs.calls
    assert (result.status, result.cancelled, result.worker_ids) == (
        TaskResultStatus.FAILED, True, [])
    [error] = result.errors
    assert error.exception_class_path == CANCELLED_ERROR
    assert "cancelled before it ran" in error.traceback
    assert left_in(tasks) == 0 and dead_letters(tasks) == []


@on_both_stores
def test_the_worker_logs_a_cancelled_task_it_skips_as_cancelled_not_as_a_duplicate(
        tasks, run_worker, caplog):
    result = jobs.remember.enqueue("never", 1)
    cancel(result.id)
    with caplog.at_level(logging.INFO, logger="storage_backends.tasks"):
        run_worker()
    logged = caplog.text
    assert "cancelled tasks deleted unrun=1" in logged
    assert "duplicate deliveries deleted" not in logged


@on_both_stores
def test_a_running_task_that_checks_for_a_stop_is_cancelled(tasks):
    result = jobs.runs_until_cancelled.enqueue("stoppable", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: jobs.calls.get("stoppable") == ["started"], "the task started")
        eventually(lambda: result.refresh() or result.status == TaskResultStatus.RUNNING,
                   "the task is marked RUNNING")
        assert cancel(result.id) == Cancellation.REQUESTED
        eventually(lambda: finished(result), "the task stopped")
    assert (result.status, result.cancelled, len(result.worker_ids)) == (
        TaskResultStatus.FAILED, True, 1)  # not retried
    [error] = result.errors
    assert error.exception_class_path == CANCELLED_ERROR
    assert "cancelled while it ran" in error.traceback and "Stopped" in error.traceback
    assert left_in(tasks) == 0 and dead_letters(tasks) == []


def test_a_running_task_that_does_not_stop_finishes_as_usual(tasks):
    result = jobs.held.enqueue("held", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: result.refresh() or result.status == TaskResultStatus.RUNNING,
                   "the task is marked RUNNING")
        assert cancel(result.id) == Cancellation.REQUESTED
        jobs.release.set()
        eventually(lambda: finished(result), "the task finished")
    assert (result.status, result.cancelled) == (TaskResultStatus.SUCCESSFUL, False)


@pytest.mark.parametrize("task_options", [{
    "WAIT_SECONDS": 1, "VISIBILITY_TIMEOUT": 5, "RETRY_DELAY": 2, "MAX_ATTEMPTS": 3,
    "MAX_RECEIVE_COUNT": 10, "SHUTDOWN_GRACE": 5}])
def test_a_task_waiting_for_its_retry_can_be_cancelled(tasks):
    result = jobs.always_fails.enqueue("retried")
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: result.refresh() or (result.status == TaskResultStatus.READY
                                                and result.attempts == 1),
                   "the first attempt failed")
        assert cancel(result.id) == Cancellation.CANCELLED
        eventually(lambda: left_in(tasks) == 0, "the worker dropped the message")
    result.refresh()
    assert len(jobs.calls["retried"]) == 1
    assert (result.status, result.cancelled) == (TaskResultStatus.FAILED, True)
    assert [e.exception_class_path for e in result.errors] == [
        "builtins.RuntimeError", CANCELLED_ERROR]


def test_cancelling_a_finished_task_changes_nothing(tasks, run_worker):
    result = jobs.add.enqueue(1, 2)
    run_worker()
    assert cancel(result.id) == Cancellation.FINISHED
    result.refresh()
    assert (result.status, result.cancelled, result.return_value) == (
        TaskResultStatus.SUCCESSFUL, False, 3)


def test_cancelling_an_unknown_result_says_it_does_not_exist(tasks):
    with pytest.raises(TaskResultDoesNotExist):
        cancel("no-such-result")
