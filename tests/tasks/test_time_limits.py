"""Time limits, in this process: a run past its limit fails saying so, is retried by its
policy, its thread is replaced, and a task that checks `should_stop()` ends.

Tasks that overrun wait on `jobs.release`, set at the end of each test so that their
abandoned threads end.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.tasks import TaskResultStatus
from django.tasks.exceptions import InvalidTask

from storage_backends.tasks import SQSTask, options
from tests.tasks import jobs
from tests.tasks.test_worker import dead_letters, eventually, worker_in_thread

LIMIT_ERROR = "storage_backends.tasks.context.TimeLimitExceeded"


@pytest.fixture(autouse=True)
def released():
    """Let every overrunning task of the test end when it is over."""
    jobs.release.clear()
    yield
    jobs.release.set()


def finished(result):
    result.refresh()
    return result.is_finished


def test_a_run_past_its_time_limit_fails_saying_so_and_is_retried_by_its_policy(tasks):
    result = jobs.overruns.enqueue("slow", 60)
    with worker_in_thread(tasks, concurrency=2):
        eventually(lambda: finished(result), "the overrunning task is FAILED")
    assert result.status == TaskResultStatus.FAILED
    assert len(result.worker_ids) == 2  # max_attempts=2: retried once
    assert [e.exception_class_path for e in result.errors] == [LIMIT_ERROR] * 2
    assert all("exceeded its time limit of 0.5 s" in e.traceback for e in result.errors)
    [(_body, reason)] = dead_letters(tasks)
    assert "TimeLimitExceeded: exceeded its time limit of 0.5 s" in reason


def test_the_error_shows_where_the_task_was_when_its_time_ran_out(tasks):
    result = jobs.overruns_once.enqueue("slow", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: finished(result), "the overrunning task is FAILED")
    [error] = result.errors
    assert "Where it was when its time ran out" in error.traceback
    assert "in overruns_once" in error.traceback


def test_the_worker_runs_other_tasks_while_an_overrunning_one_is_abandoned(tasks):
    overrun = jobs.overruns_once.enqueue("slow", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: finished(overrun), "the overrunning task is FAILED")
        others = [jobs.add.enqueue(n, n) for n in range(3)]
        eventually(lambda: all(finished(r) for r in others), "the other tasks ran")
        assert jobs.calls["slow"] == ["started"]  # still running, abandoned
    assert [r.status for r in others] == [TaskResultStatus.SUCCESSFUL] * 3


def test_the_late_outcome_of_an_abandoned_run_is_ignored(tasks):
    result = jobs.overruns_once.enqueue("slow", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: finished(result), "the overrunning task is FAILED")
        jobs.release.set()
        eventually(lambda: jobs.calls["slow"] == ["started", "returned"], "the task returned")
        done = jobs.add.enqueue(1, 1)  # written after whatever the late run did
        eventually(lambda: finished(done), "a later task ran")
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert [e.exception_class_path for e in result.errors] == [LIMIT_ERROR]


def test_a_task_that_checks_should_stop_is_told_its_time_limit_passed(tasks):
    result = jobs.stops_when_asked.enqueue("polite")
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: finished(result), "the task is FAILED")
        eventually(lambda: len(jobs.calls["polite"]) == 2, "the task saw the stop request")
    assert jobs.calls["polite"] == ["started", "time limit"]
    assert [e.exception_class_path for e in result.errors] == [LIMIT_ERROR]


@pytest.mark.parametrize("task_options", [{
    "WAIT_SECONDS": 1, "VISIBILITY_TIMEOUT": 5, "RETRY_DELAY": 1, "MAX_ATTEMPTS": 1,
    "MAX_RECEIVE_COUNT": 10, "SHUTDOWN_GRACE": 5, "TIME_LIMIT": 0.5}])
def test_the_backends_time_limit_applies_to_a_task_without_its_own(tasks):
    result = jobs.held.enqueue("held", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: finished(result), "the task is FAILED")
    assert [e.exception_class_path for e in result.errors] == [LIMIT_ERROR]


@pytest.mark.parametrize("task_options", [{
    "WAIT_SECONDS": 1, "VISIBILITY_TIMEOUT": 5, "RETRY_DELAY": 1, "MAX_ATTEMPTS": 1,
    "MAX_RECEIVE_COUNT": 10, "SHUTDOWN_GRACE": 5, "TIME_LIMIT": 60,
    "TIME_LIMITS": {"tests.tasks.jobs.held": 0.5}}])
def test_a_time_limit_in_the_backends_time_limits_applies_to_that_task(tasks):
    result = jobs.held.enqueue("held", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: finished(result), "the task is FAILED")
    assert [e.exception_class_path for e in result.errors] == [LIMIT_ERROR]


@pytest.mark.parametrize("limits", [["x"], {"tests.tasks.jobs.held": 0}, {1: 5}])
def test_time_limits_not_of_task_paths_to_seconds_are_improperly_configured(limits):
    with pytest.raises(ImproperlyConfigured, match="TIME_LIMITS"):
        options.parse({"TIME_LIMITS": limits}, ["default"])


def test_a_task_without_a_time_limit_runs_as_long_as_it_takes(tasks, run_worker):
    result = jobs.sleep_then_count.enqueue("limitless", 1)
    run_worker(concurrency=1)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_a_worker_with_more_abandoned_threads_than_task_threads_drains_and_fails(tasks):
    stuck = [jobs.overruns_once.enqueue(f"stuck-{n}", 60) for n in range(2)]
    with worker_in_thread(tasks, concurrency=1) as worker:
        eventually(lambda: worker.failure is not None, "the worker gives up")
    assert "past their time limit still run in abandoned threads" in worker.failure
    assert all(finished(r) for r in stuck)


@pytest.mark.parametrize("limit", [0, -1, True, "10", 13 * 3600])
def test_a_time_limit_that_is_not_a_positive_number_of_seconds_is_invalid(tasks, limit):
    with pytest.raises(InvalidTask, match="time_limit"):
        SQSTask(func=jobs.add.func, time_limit=limit)


@pytest.mark.parametrize("limit", [0, "5", True])
def test_a_time_limit_option_that_is_not_a_positive_number_is_improperly_configured(limit):
    with pytest.raises(ImproperlyConfigured, match="TIME_LIMIT"):
        options.parse({"TIME_LIMIT": limit}, ["default"])
