"""Task metrics in this process on the local stack: workers' report records in both stores,
what a drained worker reports, what a reader gathers, and `/metrics` through Django's test
client. (Real worker processes scraped while they run: test_metrics_process.py.)"""

import re
import time
from contextlib import contextmanager

import pytest
from django.test import Client

from storage_backends.tasks.metrics import figures, records, store
from storage_backends.tasks.metrics.collector import Collector
from storage_backends.tasks.metrics.reporter import Reporter
from storage_backends.tasks.worker import Worker
from tests.tasks import jobs
from tests.tasks.stores import on_both_stores

TOKEN = "a-test-token-of-some-length"


def a_report(worker="w-test", queues=("q",), at=None, **changes):
    collector = Collector()
    collector.ran(queues[0], "tests.tasks.jobs.add", "succeeded", 0.25, wait_seconds=1)
    taken = collector.take_interval()
    at = time.time() if at is None else at
    return records.document(**{
        "worker": worker, "started": at - 10, "at": at, "interval": 15, "stopped": False,
        "queues": queues, "concurrency": 4, "running": 0, "processed": 1,
        "series": taken.series, "longest_wait": taken.longest_wait, **changes})


@contextmanager
def metrics_calls(backend):
    """The operations the metrics store's client calls inside the block."""
    calls = []
    client = backend.metrics.records.sdb if backend.config.results_store == "simpledb" \
        else backend.metrics.records.dynamodb
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}"

    def record(event_name, **kwargs):
        calls.append(event_name.rsplit(".", 1)[-1])

    client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        client.meta.events.unregister(event, record)


def mine(backend):
    """The reports of workers of this test's queues."""
    names = set(backend.config.sqs_names())
    return [report for report in (records.read(data) for _name, data in backend.metrics.read())
            if names & set(report.queues)]


# -- the store -------------------------------------------------------------------------------
@on_both_stores
def test_a_written_report_is_read_back(tasks):
    worker = f"w-{time.monotonic_ns()}"
    tasks.metrics.write(worker, a_report(worker, queues=tuple(tasks.config.sqs_names())),
                        time.time())
    [report] = mine(tasks)
    assert report.worker == worker and report.series[0].succeeded == 1


@on_both_stores
def test_a_second_report_replaces_the_first(tasks):
    worker = f"w-{time.monotonic_ns()}"
    queues = tuple(tasks.config.sqs_names())
    tasks.metrics.write(worker, a_report(worker, queues, processed=1), time.time())
    tasks.metrics.write(worker, a_report(worker, queues, processed=2), time.time())
    assert [report.processed for report in mine(tasks)] == [2]


@on_both_stores
def test_a_record_past_its_retention_is_not_read(tasks):
    worker = f"w-{time.monotonic_ns()}"
    long_ago = time.time() - store.RECORD_RETENTION - 60
    tasks.metrics.write(worker, a_report(worker, tuple(tasks.config.sqs_names()),
                                         at=long_ago), long_ago)
    assert mine(tasks) == []


@pytest.mark.parametrize("results_store", ["simpledb"])
def test_expired_records_are_pruned_on_simpledb(tasks):
    worker = f"w-{time.monotonic_ns()}"
    long_ago = time.time() - store.RECORD_RETENTION - 60
    tasks.metrics.write(worker, a_report(worker, at=long_ago), long_ago)
    assert tasks.metrics.prune() >= 1
    assert tasks.metrics.records.get(worker) == {}


@pytest.mark.parametrize("results_store", ["simpledb"])
def test_a_planted_record_is_unreadable_not_an_error(tasks):
    name = f"planted-{time.monotonic_ns()}"
    tasks.metrics.records.put(name, {"expires": "999999999999", "vn": "1", "vz": "1",
                                     "vs3": "", "v000": "bm90IHpsaWI="})
    reading = tasks.metrics.read()
    assert name in reading.unreadable
    assert name not in [found for found, _data in reading]


@pytest.mark.parametrize("results_store", ["dynamodb"])
def test_a_planted_item_is_unreadable_not_an_error(tasks):
    name = f"planted-{time.monotonic_ns()}"
    tasks.metrics.records.put(name, {"x": int(time.time()) + 600, "v": "text, not binary"})
    assert name in tasks.metrics.read().unreadable


# -- what a worker reports ---------------------------------------------------------------------
@on_both_stores
def test_a_drained_worker_leaves_a_stopped_report_of_what_it_ran(tasks, run_worker):
    jobs.add.enqueue(1, 2)
    jobs.add.enqueue(3, 4)
    jobs.fails_once_only.enqueue("metrics")
    worker = run_worker()
    [report] = mine(tasks)
    assert (report.worker, report.stopped, report.processed) == (worker.worker_id, True, 3)
    by_task = {series.task: series for series in report.series}
    add = by_task["tests.tasks.jobs.add"]
    assert (add.succeeded, add.retried, add.failed) == (2, 0, 0)
    assert sum(add.run[0]) == 2 and sum(add.wait[0]) == 2
    assert by_task["tests.tasks.jobs.fails_once_only"].failed == 1


@on_both_stores
def test_a_worker_reports_per_interval_not_per_task(tasks, run_worker):
    tasks.enqueue_many(jobs.noop, [((), {})] * 40)
    with metrics_calls(tasks) as calls:
        worker = run_worker(concurrency=10)
    assert worker.processed == 40
    # Pruning on SimpleDB (a Select), the first report and the last: whatever the tasks.
    assert len(calls) <= 3, calls


def test_a_task_failing_then_succeeding_counts_a_retry_and_a_success(tasks, run_worker):
    jobs.fail_until.enqueue("metrics-retry", 2)
    run_worker()
    [report] = mine(tasks)
    [series] = report.series
    assert (series.succeeded, series.retried, series.failed) == (1, 1, 0)
    assert sum(series.run[0]) == 2 and sum(series.wait[0]) == 1


@pytest.fixture
def no_metrics(task_options):
    task_options["METRICS_INTERVAL"] = 0


def test_a_worker_with_metrics_off_writes_no_report(no_metrics, tasks, run_worker):
    jobs.add.enqueue(1, 2)
    with metrics_calls(tasks) as calls:
        run_worker()
    assert calls == []


def test_no_report_lands_after_a_workers_last(tasks):
    worker = Worker(tasks)
    reporter = Reporter(worker, worker.metrics)
    reporter.report_safely(stopped=True)
    reporter.report_safely()  # the report thread's tick, late
    [report] = mine(tasks)
    assert report.stopped


@pytest.fixture
def reports_unwritable(task_options):
    task_options.update(METRICS_DOMAIN="stratus-no-such-domain",
                        METRICS_TABLE="stratus-no-such-table")


def test_a_worker_whose_reports_cannot_be_written_runs_its_tasks_and_says_why(
        reports_unwritable, tasks, run_worker, caplog):
    jobs.add.enqueue(1, 2)
    assert run_worker().processed == 1
    assert "metrics report failed" in caplog.text


# -- what a reader gathers -------------------------------------------------------------------
def test_gathered_figures_have_each_queues_counts_and_dead_letters(tasks):
    name = tasks.config.sqs_name("default")
    tasks.sqs.send(name, "{}", delay=600)
    tasks.sqs.dead_letter(name, "{}", "test")
    found = {queue.name: queue for queue in figures.gather().queues}
    assert found[name].counts == {"visible": 0, "in_flight": 0, "delayed": 1}
    assert found[name].dead_letters == 1
    assert set(found) == set(tasks.config.sqs_names())


def test_gathered_figures_count_the_running_workers_of_each_queue(tasks):
    queues = tuple(tasks.config.sqs_names())
    now = time.time()
    running, silent, stopped = (f"{name}-{time.monotonic_ns()}"
                                for name in ("running", "silent", "stopped"))
    tasks.metrics.write(running, a_report(running, queues), now)
    tasks.metrics.write(silent, a_report(silent, queues, at=now - 120), now)
    tasks.metrics.write(stopped, a_report(stopped, queues, stopped=True), now)
    found = figures.gather()
    assert {report.worker for report in found.reports} == {running, silent, stopped}
    assert {queue.name: queue.workers for queue in found.queues} == dict.fromkeys(queues, 1)
    assert found.queues[0].longest_wait == pytest.approx(1)


def test_a_missing_metrics_store_is_a_problem_of_the_reading_not_an_error(
        tasks, settings, task_options):
    # Both names: the site's backend keeps its metrics in whichever store the run uses.
    settings.TASKS["default"]["OPTIONS"].update(METRICS_DOMAIN="stratus-no-such-store",
                                                METRICS_TABLE="stratus-no-such-store")
    settings.TASKS = dict(settings.TASKS)  # a new backend, with the missing store
    found = figures.gather()
    assert found.reports == []
    assert "stratus-no-such-store" in found.store_problems[0]


# -- /metrics ------------------------------------------------------------------------------------
@pytest.fixture
def scrape(settings):
    settings.STRATUS_METRICS_TOKEN = TOKEN

    def get(token=TOKEN, **headers):
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return Client().get("/metrics", **headers)

    return get


def test_metrics_are_off_without_a_token(tasks, settings):
    settings.STRATUS_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer x").status_code == 404


def test_metrics_without_the_bearer_token_are_refused(tasks, scrape):
    response = scrape(token=None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_with_a_wrong_token_are_refused(tasks, scrape):
    assert scrape(token="not-" + TOKEN).status_code == 401


def test_metrics_with_a_token_of_another_scheme_are_refused(tasks, scrape):
    assert scrape(token=None, HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_metrics_refuse_a_post(tasks, scrape):
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


@on_both_stores
def test_metrics_show_what_a_drained_worker_ran_in_prometheus_text(tasks, run_worker, scrape):
    jobs.add.enqueue(1, 2)
    worker = run_worker()
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    text = response.content.decode()
    queue = tasks.config.sqs_name("default")
    assert (f'stratus_tasks_total{{worker="{worker.worker_id}",queue="{queue}",'
            f'task="tests.tasks.jobs.add",outcome="succeeded"}} 1') in text
    assert f'stratus_worker_up{{worker="{worker.worker_id}"}} 0' in text  # it stopped
    assert re.search(rf'stratus_queue_messages\{{queue="{queue}",state="visible"\}} 0', text)
    assert 'stratus_metrics_source_up{source="store"} 1' in text
