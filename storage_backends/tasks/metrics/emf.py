"""CloudWatch embedded metric format (EMF): the log lines a worker writes each interval
when METRICS_EMF is on, from which CloudWatch Logs makes metrics, with no API call and no
permission beyond shipping the log (the CloudWatch agent does in production).

Per interval and worker:

- one line per queue it polls, `WorkerReports` = 1, dimension `Queue` (the SQS queue name):
  a worker's heartbeat; no datapoint for a while means no worker is alive;
- one line per queue and task that ran in the interval, dimensions `Queue` and
  `Queue, Task`: `TasksSucceeded`, `TasksRetried`, `TasksFailed` (counts in the interval)
  and `RunTime`, `WaitTime` (seconds, each at most 100 values: all of the interval's, or a
  uniform sample of them; use their percentiles and averages, and the counts for rates).

Each line is a log record whose message is the EMF document (a dict): the production JSON
log formatter (python-json-logger) writes a dict message's members at the top level of the
line, beside its time, level and logger, as EMF requires (CloudWatch ignores members it was
not told of). The local text format prints the dict as it is.
"""

import logging

logger = logging.getLogger("storage_backends.tasks.metrics")

#: The metric of a worker's heartbeat line (the deploy template's WorkersSilentAlarm).
WORKER_REPORTS = "WorkerReports"
COUNTS = (("TasksSucceeded", "succeeded"), ("TasksRetried", "retried"), ("TasksFailed", "failed"))


def documents(interval, previous, queues, namespace, now):
    """The EMF documents (dicts) of one interval (a collector.Interval); `previous` maps
    (queue, task) to the (succeeded, retried, failed) counts of the last interval, and is
    brought up to date."""
    stamp = int(now * 1000)
    found = [{
        "_aws": {"Timestamp": stamp, "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [["Queue"]],
            "Metrics": [{"Name": WORKER_REPORTS, "Unit": "Count"}]}]},
        "Queue": queue, WORKER_REPORTS: 1,
    } for queue in queues]
    for (queue, task), series in interval.series.items():
        counts = (series.succeeded, series.retried, series.failed)
        before = previous.get((queue, task), (0, 0, 0))
        previous[(queue, task)] = counts
        runs, waits = interval.samples.get((queue, task), ((), ()))
        if counts == before and not runs:
            continue
        document = {"Queue": queue, "Task": task}
        metrics = []
        for (name, _outcome), now_count, then in zip(COUNTS, counts, before, strict=True):
            document[name] = now_count - then
            metrics.append({"Name": name, "Unit": "Count"})
        for name, values in (("RunTime", runs), ("WaitTime", waits)):
            if values:
                document[name] = [round(value, 6) for value in values]
                metrics.append({"Name": name, "Unit": "Seconds"})
        document["_aws"] = {"Timestamp": stamp, "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [["Queue"], ["Queue", "Task"]],
            "Metrics": metrics}]}
        found.append(document)
    return found


def log(documents_):
    """Write each document as one log line (see the module docstring)."""
    for document in documents_:
        logger.info(document)
