"""Progress, in this process: what a task reports is in its result (`result.progress`),
written at most once a second while it runs and always at the end; a task that reports
nothing costs no write."""

import json

import pytest
from django.tasks import TaskResultStatus

from storage_backends.tasks import Progress, report_progress
from storage_backends.tasks.context import MAX_MESSAGE, PROGRESS_EVERY, Run
from tests.tasks import jobs
from tests.tasks.calls import aws_calls
from tests.tasks.stores import WRITE_MANY, on_both_stores
from tests.tasks.test_worker import eventually, worker_in_thread


@pytest.fixture(autouse=True)
def released():
    jobs.release.clear()
    yield
    jobs.release.set()


@on_both_stores
def test_the_last_progress_reported_is_in_the_result(tasks, run_worker):
    result = jobs.reports_progress.enqueue("steps", 5)
    run_worker()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert (result.progress.done, result.progress.total, result.progress.message) == (
        5, 5, "step 5")
    assert result.progress.percent == 100


@on_both_stores
def test_progress_is_seen_while_the_task_runs(tasks):
    result = jobs.reports_then_waits.enqueue("waits", 30)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: result.refresh() or result.progress is not None,
                   "the progress is written while the task runs")
        assert result.status == TaskResultStatus.RUNNING
        assert (result.progress.done, result.progress.total) == (1, 2)
        assert result.progress.message == "half way"
        jobs.release.set()
        eventually(lambda: result.refresh() or result.is_finished, "the task finished")
    assert (result.progress.done, result.progress.message) == (2, "done")


@on_both_stores
def test_progress_written_after_the_heartbeat_keeps_the_renewed_lease(tasks):
    result = jobs.reports_until_released.enqueue("steps", 30)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: result.refresh() or result.progress is not None, "progress written")
        first = tasks.results.record(result.id)["lease"]
        eventually(lambda: tasks.results.record(result.id)["lease"] > first,
                   "the heartbeat renews the lease", timeout=10)
        renewed = tasks.results.record(result.id)
        eventually(lambda: result.refresh() or result.progress.done
                   > Progress.from_json(renewed["progress"]).done + 20,
                   "progress written since")
        assert tasks.results.record(result.id)["lease"] >= renewed["lease"]
        jobs.release.set()
        eventually(lambda: result.refresh() or result.is_finished, "the task finished")
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_a_task_that_reports_nothing_has_no_progress(tasks, run_worker):
    result = jobs.add.enqueue(1, 2)
    run_worker()
    result.refresh()
    assert result.progress is None


@on_both_stores
def test_progress_costs_no_write_beyond_the_outcome_for_a_quick_task(tasks, run_worker,
                                                                     results_store):
    results = [jobs.reports_progress.enqueue("quick", 100) for _ in range(10)]
    with aws_calls(tasks) as calls:
        run_worker(concurrency=10)
    assert calls.of("results").count(WRITE_MANY[results_store]) <= 2, calls.of("results")
    for result in results:
        result.refresh()
        assert result.progress.done == 100


def test_reports_are_coalesced_to_one_write_a_second():
    run = Run()
    run.report(1, 10)
    assert run.to_write(now=100.0) is not None
    run.report(2, 10)
    run.report(3, 10)
    assert run.to_write(now=100.0 + PROGRESS_EVERY / 2) is None
    written = run.to_write(now=100.0 + PROGRESS_EVERY)
    assert Progress.from_json(written).done == 3
    assert run.to_write(now=100.0 + 3 * PROGRESS_EVERY) is None  # nothing new


def test_a_long_message_is_cut():
    run = Run()
    run.report(1, None, "x" * 1000)
    progress = Progress.from_json(run.final_progress())
    assert len(progress.message) == MAX_MESSAGE
    assert progress.total is None and progress.percent is None


@pytest.mark.parametrize("done, total", [(-1, 10), (float("nan"), 10), (True, 10),
                                         ("3", 10), (1, -5), (1, float("inf"))])
def test_progress_that_is_not_a_number_above_zero_is_a_value_error(done, total):
    with pytest.raises(ValueError, match="progress"):
        report_progress(done, total)


def test_reporting_outside_a_worker_does_nothing():
    report_progress(1, 2, "nobody is listening")


@pytest.mark.parametrize("stored", [
    "", "not json", "[]", json.dumps({"d": "1", "t": 2, "m": "", "at": "2025-01-01"}),
    json.dumps({"d": 1, "t": 2, "m": 3, "at": "2025-01-01"}),
    json.dumps({"d": 1, "t": 2, "m": "", "at": "yesterday"}),
    "[" * 100_000, json.dumps({"d": 1, "t": 2, "m": "x" * 5000, "at": "2025-01-01"}),
], ids=["empty", "not JSON", "a list", "done as text", "message a number", "bad time",
        "deep nesting", "too long"])
def test_a_stored_progress_that_is_garbage_reads_as_none(stored):
    assert Progress.from_json(stored) is None
