"""deploy/stratus.yaml's side of the task metrics: the store the workers report to, and the
alarm on the embedded metric format line every worker logs."""

from storage_backends.tasks import options
from storage_backends.tasks.metrics import emf
from storage_backends.tasks.metrics.records import silent_after

from .template import load


def alarm():
    return load()["Resources"]["WorkersSilentAlarm"]["Properties"]


def test_the_workers_alarm_watches_the_metric_workers_log():
    watched = alarm()
    assert (watched["Namespace"], watched["MetricName"]) == (
        options.DEFAULTS["METRICS_NAMESPACE"], emf.WORKER_REPORTS)


def test_the_workers_alarm_watches_the_queue_every_worker_polls():
    # The plain band of the default queue: every worker polls it, whatever its bands.
    assert alarm()["Dimensions"] == [{"Name": "Queue",
                                      "Value": {"Fn::GetAtt": ["DefaultQueue", "QueueName"]}}]


def test_no_report_at_all_is_the_alarm():
    watched = alarm()
    assert (watched["Statistic"], watched["ComparisonOperator"], watched["Threshold"],
            watched["TreatMissingData"]) == ("Sum", "LessThanThreshold", 1, "breaching")


def test_the_workers_alarm_waits_longer_than_a_worker_takes_to_count_as_silent():
    watched = alarm()
    interval = options.DEFAULTS["METRICS_INTERVAL"]
    assert watched["Period"] * watched["EvaluationPeriods"] > silent_after(interval)
    assert watched["Period"] >= 60 and watched["Period"] % 60 == 0
