"""Time limits, progress and cancellation with `manage.py sqs_worker` as a real process,
seen from this one through the result store.

Tasks that overrun wait for a gate file the test creates (process_jobs.wait_for_gate),
never looking at should_stop(): a stubborn task, as a worker must survive.
"""

import pytest
from django.tasks import TaskResultStatus

from storage_backends.tasks import Cancellation, cancel
from tests.tasks import jobs, process_jobs
from tests.tasks.test_worker import eventually
from tests.tasks.test_worker_process import stack, wait_for_status  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow

LIMIT_ERROR = "storage_backends.tasks.context.TimeLimitExceeded"


def test_an_overrunning_task_fails_with_the_reason_while_the_worker_runs_others(
        stack, tmp_path):  # noqa: F811 - the fixture
    tasks = stack()
    gate = tmp_path / "gate"
    overrun = process_jobs.overrun_once.enqueue(str(gate))
    worker = tasks.worker("--concurrency", "1")
    worker.wait_for(r"job=overrun_once .* started")
    wait_for_status(overrun, TaskResultStatus.FAILED)
    [error] = overrun.errors
    assert error.exception_class_path == LIMIT_ERROR
    assert "exceeded its time limit of 1 s" in error.traceback
    worker.wait_for(rf"id={overrun.id} time_limit=1s exceeded: thread task_0 abandoned")
    # Its one task thread is stuck in the overrun: the worker runs others in a new one.
    others = [jobs.add.enqueue(n, n) for n in range(3)]
    for result in others:
        wait_for_status(result, TaskResultStatus.SUCCESSFUL)
    assert "job=overrun_once pid" in worker.output() and "returned" not in worker.output()
    gate.touch()
    worker.wait_for(r"job=overrun_once .* returned")
    worker.wait_for(rf"id={overrun.id} .*the outcome of an attempt past its time limit is "
                    "ignored")
    overrun.refresh()
    assert overrun.status == TaskResultStatus.FAILED


def test_an_overrunning_task_is_retried_by_its_policy(stack, tmp_path):  # noqa: F811
    tasks = stack(retry_delay=1)
    gate = tmp_path / "gate"
    result = process_jobs.overrun_then_succeed.enqueue(str(gate))
    worker = tasks.worker("--concurrency", "2")
    worker.wait_for(r"job=overrun_then_succeed attempt=1 started")
    eventually(lambda: result.refresh() or len(result.errors) == 1,
                    "the first attempt fails on its time limit")
    gate.touch()  # the retry returns at once
    wait_for_status(result, TaskResultStatus.SUCCESSFUL)
    assert [e.exception_class_path for e in result.errors] == [LIMIT_ERROR]
    assert result.return_value == 2 and len(result.worker_ids) == 2


def test_progress_is_seen_from_another_process_while_a_worker_runs_the_task(
        stack, tmp_path):  # noqa: F811
    tasks = stack()
    gate = tmp_path / "gate"
    result = process_jobs.progress_in_steps.enqueue(str(gate))
    tasks.worker()
    eventually(lambda: result.refresh() or result.progress is not None,
                    "the first step's progress is written while the task runs")
    assert result.status == TaskResultStatus.RUNNING
    assert (result.progress.done, result.progress.total, result.progress.message) == (
        1, 3, "first step")
    gate.touch()
    wait_for_status(result, TaskResultStatus.SUCCESSFUL)
    assert (result.progress.done, result.progress.message, result.progress.percent) == (
        3, "last step", 100)


def test_a_cancelled_queued_task_never_runs_on_a_worker_process(stack, tmp_path):  # noqa: F811
    tasks = stack()
    note = tmp_path / "ran"
    cancelled = process_jobs.nap.enqueue(0, str(note))
    assert cancel(cancelled.id) == Cancellation.CANCELLED
    worker = tasks.worker("--concurrency", "1")
    after = jobs.add.enqueue(2, 2)
    wait_for_status(after, TaskResultStatus.SUCCESSFUL)
    cancelled.refresh()
    assert (cancelled.status, cancelled.cancelled, cancelled.worker_ids) == (
        TaskResultStatus.FAILED, True, [])
    assert not note.exists() and "job=nap" not in worker.output()
    # Both messages go: finished tasks' deletes are batched, so shortly after the result.
    eventually(lambda: tasks.visible_ids() == [] and not any(tasks.counts().values()),
               "both messages are deleted")


def test_a_running_task_that_checks_the_flag_stops_when_cancelled(stack):  # noqa: F811
    tasks = stack()
    result = process_jobs.until_cancelled.enqueue(60)
    worker = tasks.worker()
    worker.wait_for(rf"job=until_cancelled id={result.id} started")
    wait_for_status(result, TaskResultStatus.RUNNING)
    assert cancel(result.id) == Cancellation.REQUESTED
    wait_for_status(result, TaskResultStatus.FAILED)
    assert result.cancelled and len(result.worker_ids) == 1
    assert result.errors[-1].exception_class_path == "storage_backends.tasks.context.Cancelled"
    worker.wait_for(rf"id={result.id} cancelled: asked to stop")
    after = jobs.add.enqueue(1, 1)  # the worker goes on
    wait_for_status(after, TaskResultStatus.SUCCESSFUL)
