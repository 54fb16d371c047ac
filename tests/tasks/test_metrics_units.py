"""The metrics' pure parts: counting in memory, the report document and its bounded
reading, the Prometheus text format, quantiles and the EMF documents. No service is called."""

import json
import math
import re
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from storage_backends.tasks import options
from storage_backends.tasks.metrics import emf, exposition, records
from storage_backends.tasks.metrics.collector import (
    BUCKETS,
    MAX_SAMPLES,
    MAX_SERIES,
    OTHER,
    Collector,
    Histogram,
)
from storage_backends.tasks.metrics.figures import Figures, QueueFigures, quantile

NOW = 1_700_000_000.0


def report_bytes(collector, worker="w1", at=NOW, stopped=False, queues=("q",), interval=15):
    taken = collector.take_interval()
    return records.document(worker=worker, started=at - 60, at=at, interval=interval,
                            stopped=stopped, queues=queues, concurrency=4, running=1,
                            processed=3, series=taken.series, longest_wait=taken.longest_wait)


def delivery(attempt=1, enqueued=NOW - 2.0, run_after=None, queue="q", task="app.job"):
    payload = SimpleNamespace(
        enqueued_at=datetime.fromtimestamp(enqueued, UTC), task_path=task,
        run_after=None if run_after is None else datetime.fromtimestamp(run_after, UTC))
    return SimpleNamespace(payload=payload, attempt=attempt, sqs_name=queue)


# -- counting ---------------------------------------------------------------------------------
def test_a_histogram_counts_a_value_on_a_bound_in_that_bounds_bucket():
    histogram = Histogram()
    histogram.observe(BUCKETS[3])
    assert histogram.counts[3] == 1 and histogram.count == 1


def test_a_histogram_counts_a_value_above_every_bound_in_the_last_bucket():
    histogram = Histogram()
    histogram.observe(BUCKETS[-1] * 10)
    assert histogram.counts[-1] == 1


def test_each_outcome_is_counted_for_its_queue_and_task():
    collector = Collector()
    collector.ran("q", "t", "succeeded", 0.1)
    collector.ran("q", "t", "succeeded", 0.2)
    collector.ran("q", "t", "retried", 0.3)
    collector.ran("q", "u", "failed", 0.4)
    series = collector.take_interval().series
    assert [(s.succeeded, s.retried, s.failed) for s in (series[("q", "t")], series[("q", "u")])] \
        == [(2, 1, 0), (0, 0, 1)]
    assert series[("q", "t")].run.total == pytest.approx(0.6)


def test_figures_are_cumulative_across_intervals():
    collector = Collector()
    collector.ran("q", "t", "succeeded", 0.1)
    collector.take_interval()
    collector.ran("q", "t", "succeeded", 0.1)
    assert collector.take_interval().series[("q", "t")].succeeded == 2


def test_the_longest_wait_is_per_interval():
    collector = Collector()
    collector.ran("q", "t", "succeeded", 0.1, wait_seconds=7)
    collector.ran("q", "t", "succeeded", 0.1, wait_seconds=3)
    assert collector.take_interval().longest_wait == {"q": 7}
    assert collector.take_interval().longest_wait == {}


def test_the_wait_runs_from_the_enqueue_to_the_start():
    collector = Collector()
    collector.task_ran(delivery(enqueued=NOW - 5.0), "delete", 1.0, now=NOW)
    taken = collector.take_interval()
    assert taken.longest_wait["q"] == pytest.approx(4.0)
    assert taken.series[("q", "app.job")].wait.total == pytest.approx(4.0)


def test_the_wait_of_a_deferred_task_runs_from_its_run_after():
    collector = Collector()
    collector.task_ran(delivery(enqueued=NOW - 100.0, run_after=NOW - 3.0), "delete", 1.0,
                       now=NOW)
    assert collector.take_interval().longest_wait["q"] == pytest.approx(2.0)


def test_a_retry_counts_its_run_but_not_its_wait():
    collector = Collector()
    collector.task_ran(delivery(attempt=2), "delete", 1.0, now=NOW)
    series = collector.take_interval().series[("q", "app.job")]
    assert (series.succeeded, series.run.count, series.wait.count) == (1, 1, 0)


def test_outcome_actions_map_to_succeeded_retried_and_failed():
    collector = Collector()
    for action in ("delete", "retry", "dead-letter"):
        collector.task_ran(delivery(), action, 0.1, now=NOW)
    series = collector.take_interval().series[("q", "app.job")]
    assert (series.succeeded, series.retried, series.failed) == (1, 1, 1)


def test_tasks_beyond_the_series_bound_are_counted_together():
    collector = Collector()
    for n in range(MAX_SERIES + 5):
        collector.ran("q", f"t{n}", "succeeded", 0.1)
    series = collector.take_interval().series
    assert len(series) == MAX_SERIES + 1
    assert series[("q", OTHER)].succeeded == 5


def test_concurrent_runs_are_all_counted():
    collector = Collector()

    def many():
        for _ in range(1000):
            collector.ran("q", "t", "succeeded", 0.01)

    threads = [threading.Thread(target=many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert collector.take_interval().series[("q", "t")].succeeded == 8000


def test_samples_are_kept_only_when_asked_for():
    collector = Collector()
    collector.ran("q", "t", "succeeded", 0.1, wait_seconds=1)
    assert collector.take_interval().samples == {}


def test_samples_of_an_interval_are_bounded_and_start_again():
    collector = Collector(samples=True)
    for n in range(MAX_SAMPLES * 3):
        collector.ran("q", "t", "succeeded", n, wait_seconds=n)
    runs, waits = collector.take_interval().samples[("q", "t")]
    assert len(runs) == len(waits) == MAX_SAMPLES
    assert collector.take_interval().samples == {}


# -- the report document ----------------------------------------------------------------------
def test_a_report_reads_back_as_written():
    collector = Collector()
    collector.ran("q", "app.job", "succeeded", 0.2, wait_seconds=1.5)
    collector.ran("q", "app.job", "failed", 3.0)
    report = records.read(report_bytes(collector))
    assert (report.worker, report.queues, report.concurrency, report.running,
            report.processed, report.stopped) == ("w1", ("q",), 4, 1, 3, False)
    [series] = report.series
    assert (series.queue, series.task, series.succeeded, series.retried, series.failed) == \
        ("q", "app.job", 1, 0, 1)
    assert sum(series.run[0]) == 2 and series.run[1] == pytest.approx(3.2)
    assert sum(series.wait[0]) == 1 and report.longest_wait == {"q": 1.5}


@pytest.mark.parametrize(("age", "stopped", "state"), [
    (1, False, "running"), (2 * 15 + 4, False, "running"), (2 * 15 + 6, False, "silent"),
    (1, True, "stopped")])
def test_a_workers_state_follows_its_last_report(age, stopped, state):
    report = records.read(report_bytes(Collector(), stopped=stopped))
    assert report.state(NOW + age) == state


def valid_document():
    return json.loads(report_bytes(Collector()))


@pytest.mark.parametrize(("change", "why"), [
    (lambda d: d.update(v=2), "version"),
    (lambda d: d.update(buckets=[1, 2]), "buckets"),
    (lambda d: d.update(worker=""), "worker"),
    (lambda d: d.update(worker="a\nb"), "worker"),
    (lambda d: d.update(worker=7), "worker"),
    (lambda d: d.update(at=-1), "at"),
    (lambda d: d.update(at=True), "at"),
    (lambda d: d.update(running="1"), "running"),
    (lambda d: d.update(stopped="no"), "stopped"),
    (lambda d: d.update(queues="q"), "queues"),
    (lambda d: d.update(queues=["q"] * 101), "queues"),
    (lambda d: d.update(series=[["q", "t", 1, 0, 0, [0], 0, [0], 0]]), "histogram"),
    (lambda d: d.update(series=[["q", "t", -1, 0, 0, [0] * 18, 0, [0] * 18, 0]]),
     "succeeded"),
    (lambda d: d.update(series=[["q", "t"]]), "9 fields"),
    (lambda d: d.update(longest_wait=[]), "longest_wait"),
])
def test_a_document_with_a_field_of_the_wrong_type_or_range_is_refused(change, why):
    document = valid_document()
    change(document)
    with pytest.raises(ValueError, match=why):
        records.read(json.dumps(document).encode())


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b"[" * 100_000, b"\xff\xfe",
                                  b'{"v": 1e999}'])
def test_bytes_that_are_no_report_are_refused(data):
    with pytest.raises(ValueError):
        records.read(data)


def test_an_oversized_document_is_refused_before_it_is_parsed():
    with pytest.raises(ValueError, match="over"):
        records.read(b" " * (records.MAX_DOCUMENT_BYTES + 1))


def test_the_largest_report_a_worker_writes_fits_the_bound():
    collector = Collector()
    for n in range(MAX_SERIES + 10):
        collector.ran("stratus-default-high" * 3, f"apps.some_app.tasks.task_{n:04d}" * 3,
                      "succeeded", n, wait_seconds=n)
    assert len(report_bytes(collector)) <= records.MAX_DOCUMENT_BYTES


# -- quantiles -------------------------------------------------------------------------------
def test_a_quantile_is_interpolated_within_its_bucket():
    counts = [0] * (len(BUCKETS) + 1)
    counts[BUCKETS.index(1.0)] = 10  # ten runs in (0.5, 1]
    assert quantile(0.5, counts) == pytest.approx(0.75)


def test_the_quantile_of_no_runs_is_none():
    assert quantile(0.5, [0] * (len(BUCKETS) + 1)) is None


def test_a_quantile_above_the_last_bound_is_the_last_bound():
    counts = [0] * len(BUCKETS) + [3]
    assert quantile(0.99, counts) == BUCKETS[-1]


# -- Prometheus text format --------------------------------------------------------------------
def exposed(collector=None, queues=(), **figures):
    reports = [records.read(report_bytes(collector))] if collector else []
    return exposition.render(Figures(now=NOW, queues=list(queues), reports=reports,
                                     unreadable=[], **figures))


SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [-+0-9.eInf]+$')


def test_every_line_is_a_comment_or_a_well_formed_sample():
    collector = Collector()
    collector.ran("q", "app.job", "succeeded", 0.2, wait_seconds=1)
    text = exposed(collector, [QueueFigures("q", "q-dlq", "default",
                                            {"visible": 1, "in_flight": 0, "delayed": 2}, 3)])
    assert text.endswith("\n")
    for line in text.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or SAMPLE.match(line), line


def test_each_family_has_help_and_type_once_before_its_samples():
    text = exposed(Collector())
    names = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(names) == len(set(names))
    for name in names:
        assert text.index(f"# HELP {name} ") < text.index(f"# TYPE {name} ")


def test_queue_counts_are_gauges_by_queue_and_state():
    text = exposed(queues=[QueueFigures("q", "q-dlq", "default",
                                        {"visible": 5, "in_flight": 1, "delayed": 0}, 2)])
    assert 'stratus_queue_messages{queue="q",state="visible"} 5' in text
    assert 'stratus_queue_messages{queue="q",state="in_flight"} 1' in text
    assert 'stratus_dead_letter_messages{queue="q"} 2' in text


def test_a_queue_sqs_did_not_count_has_no_count_samples():
    text = exposed(queues=[QueueFigures("q", "q-dlq", "default")],
                   sqs_unreachable="SQS cannot be reached")
    assert "stratus_queue_messages{" not in text
    assert 'stratus_metrics_source_up{source="sqs"} 0' in text


def test_task_runs_are_counters_by_worker_queue_task_and_outcome():
    collector = Collector()
    collector.ran("q", "app.job", "succeeded", 0.2)
    collector.ran("q", "app.job", "retried", 0.2)
    text = exposed(collector)
    assert "# TYPE stratus_tasks_total counter" in text
    assert 'stratus_tasks_total{worker="w1",queue="q",task="app.job",outcome="succeeded"} 1' \
        in text
    assert 'stratus_tasks_total{worker="w1",queue="q",task="app.job",outcome="failed"} 0' in text


def test_histogram_buckets_are_cumulative_and_end_at_inf_with_the_count():
    collector = Collector()
    for seconds in (0.001, 0.2, 0.2, 5000):
        collector.ran("q", "t", "succeeded", seconds)
    text = exposed(collector)
    buckets = re.findall(r'stratus_task_run_seconds_bucket\{[^}]*le="([^"]+)"\} (\d+)', text)
    values = [int(count) for _le, count in buckets]
    assert values == sorted(values)
    assert buckets[0] == ("0.005", "1") and buckets[-1] == ("+Inf", "4")
    assert len(buckets) == len(BUCKETS) + 1
    assert 'stratus_task_run_seconds_count{worker="w1",queue="q",task="t"} 4' in text
    assert re.search(r'stratus_task_run_seconds_sum\{[^}]*\} 5000\.40', text)


def test_label_values_are_escaped():
    collector = Collector()
    collector.ran('q"\\', "t", "succeeded", 0.1)
    assert 'queue="q\\"\\\\"' in exposed(collector)


def test_a_running_worker_is_up_and_a_silent_one_is_not():
    collector = Collector()
    running = exposed(collector)
    assert 'stratus_worker_up{worker="w1"} 1' in running
    silent = exposition.render(Figures(now=NOW + 3600, queues=[], unreadable=[], reports=[
        records.read(report_bytes(Collector()))]))
    assert 'stratus_worker_up{worker="w1"} 0' in silent


def test_numbers_are_written_as_the_format_wants():
    assert [exposition.number(v) for v in (3, 0.5, math.inf, True)] == ["3", "0.5", "+Inf", "1"]


# -- EMF -------------------------------------------------------------------------------------
def emf_documents(collector, previous=None):
    return emf.documents(collector.take_interval(), {} if previous is None else previous,
                         ["q-high", "q"], "Stratus/Tasks", NOW)


def test_each_polled_queue_gets_a_worker_report_each_interval():
    reports = [d for d in emf_documents(Collector(samples=True)) if "WorkerReports" in d]
    assert [(d["Queue"], d["WorkerReports"]) for d in reports] == [("q-high", 1), ("q", 1)]
    assert reports[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Queue"]]


def test_a_task_line_counts_the_intervals_outcomes_and_samples_its_times():
    collector = Collector(samples=True)
    previous = {}
    collector.ran("q", "t", "succeeded", 0.5, wait_seconds=2)
    emf_documents(collector, previous)
    collector.ran("q", "t", "succeeded", 0.25, wait_seconds=1)
    collector.ran("q", "t", "failed", 0.75)
    [line] = [d for d in emf_documents(collector, previous) if "Task" in d]
    assert (line["TasksSucceeded"], line["TasksRetried"], line["TasksFailed"]) == (1, 0, 1)
    assert sorted(line["RunTime"]) == [0.25, 0.75] and line["WaitTime"] == [1]
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Queue"], ["Queue", "Task"]]
    assert {m["Name"] for m in directive["Metrics"]} == {
        "TasksSucceeded", "TasksRetried", "TasksFailed", "RunTime", "WaitTime"}
    assert line["_aws"]["Timestamp"] == int(NOW * 1000)


def test_a_task_without_runs_in_the_interval_gets_no_line():
    collector = Collector(samples=True)
    previous = {}
    collector.ran("q", "t", "succeeded", 0.5)
    emf_documents(collector, previous)
    assert [d for d in emf_documents(collector, previous) if "Task" in d] == []


def test_every_metric_an_emf_line_names_is_a_root_member_within_emfs_limits():
    collector = Collector(samples=True)
    for n in range(300):
        collector.ran("q", "t", "succeeded", n / 100, wait_seconds=n / 10)
    for document in emf_documents(collector):
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                assert all(isinstance(document[name], str) for name in dimensions)
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                assert isinstance(value, int | float) or len(value) <= 100


def test_an_emf_line_is_logged_with_its_members_at_the_root_of_a_json_line():
    import logging
    from io import StringIO

    from pythonjsonlogger.json import JsonFormatter

    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    emf.logger.addHandler(handler)
    previous_level = emf.logger.level
    emf.logger.setLevel(logging.INFO)
    try:
        collector = Collector(samples=True)
        collector.ran("q", "t", "succeeded", 0.5)
        emf.log(emf_documents(collector))
    finally:
        emf.logger.removeHandler(handler)
        emf.logger.setLevel(previous_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [task_line] = [line for line in lines if "Task" in line]
    assert task_line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stratus/Tasks"
    assert (task_line["Queue"], task_line["Task"], task_line["TasksSucceeded"]) == ("q", "t", 1)


# -- options -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [-1, 601, "15", 1.5, True])
def test_a_metrics_interval_outside_0_to_600_seconds_is_improperly_configured(value):
    with pytest.raises(ImproperlyConfigured, match=r"OPTIONS\['METRICS_INTERVAL'\]"):
        options.parse({"METRICS_INTERVAL": value}, ["default"])


def test_metrics_emf_must_be_a_boolean():
    with pytest.raises(ImproperlyConfigured, match=r"OPTIONS\['METRICS_EMF'\]"):
        options.parse({"METRICS_EMF": "false"}, ["default"])


@pytest.mark.parametrize("namespace", ["", "AWS/SQS", "bad\nname", "x" * 256])
def test_a_namespace_cloudwatch_would_refuse_or_reserves_is_improperly_configured(namespace):
    with pytest.raises(ImproperlyConfigured, match="METRICS_NAMESPACE"):
        options.parse({"METRICS_NAMESPACE": namespace}, ["default"])


@pytest.mark.parametrize(("store", "option"), [("simpledb", "METRICS_DOMAIN"),
                                               ("dynamodb", "METRICS_TABLE")])
def test_a_metrics_store_name_its_store_would_refuse_is_improperly_configured(store, option):
    with pytest.raises(ImproperlyConfigured, match=option):
        options.parse({"RESULTS_STORE": store, option: "no"}, ["default"])
