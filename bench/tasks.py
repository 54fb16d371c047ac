"""Benchmark: Stratus's SQS task backend beside Celery, django-tasks-sqs and bare boto3.

Run `make bench-tasks` (or `python bench/tasks.py [--tasks N] [--runs R] [--latencies 0,10]
[--ours-concurrency C] [--latency-samples K] [--systems ...]`). In one run, on the same
local SQS and SimpleDB, each system enqueues N no-op tasks (default 2,000), then ONE worker
process drains them; each at 0 ms and at 10 ms of added round-trip latency per request:

1. Stratus (`storage_backends.tasks`): `enqueue_many`, then
   `manage.py sqs_worker --batch --concurrency C --wait-seconds 1` (default C = 40). It
   stores results in SimpleDB, so its SimpleDB calls count too.
2. Celery 5.7 on kombu's SQS transport (bench/tasks_celery_app.py): `delay()` per task
   (kombu has no batch send), worker `--pool threads --concurrency 16`, acks late,
   prefetch 10.
3. django-tasks-sqs 0.2.0 (bench/tasks_dts_settings.py): its `enqueue_many`
   (SendMessageBatch), its `sqs_worker --concurrency 8 --max-messages 10`.
4. Bare boto3, the practical limit: SendMessageBatch 10 in one loop, then ReceiveMessage 10
   / DeleteMessageBatch 10 in 4 loops (threads) of one process, and in 1 loop.

Drain time runs from starting the worker process until its queues hold no visible,
in-flight or delayed message; the steady rate runs from the first look (every 20 ms) that
finds a task gone, so start-up is left out (Django's set-up and the clients take a
Stratus worker about 0.7 s to its first receive, a bare boto3 loop about 0.3 s). Every
system deletes a message only after its task ran (Celery: acks late), so an empty queue
means N completed tasks; the queue is watched straight on moto, around the proxies, so
watching adds no calls and no latency.

Latency: on an idle worker (Stratus: `sqs_worker --wait-seconds 20`, long-polling), K tasks
(default 40) are enqueued one at a time, each once the previous has run; enqueue->start is
the result's started_at minus its enqueued_at (set when `enqueue` is called, so the READY
write and the send count). The yardstick is one long-poll round trip: a raw loop
long-polling (20 s) while the same process sends one message at a time, send call to
the receive's return.

Where the time goes: moto's server (bench/fast_moto.py, which removes stock moto's
per-message scans of the whole queue: at depth 2,000 stock moto caps any client at ~50
tasks/s; see its docstring) and our SimpleDB emulator, each in its own process, each behind
bench/delay_proxy.py, which adds the latency and counts requests per action. The proxy's
own overhead at 0 ms is measured and printed first. CPU per task is the worker process's
own (user + system, from the kernel's accounting of the reaped child) and the stack's
(moto, the SimpleDB emulator and the proxies): on the 2 cores everything shares, a system
that needs more CPU per task drains slower even where the round trips would allow more.

Printed per system and latency: enqueue and drain tasks/s and their ratios to the raw loops
(enqueue: raw SendMessageBatch; drain: 4 raw loops); SQS calls per task on the enqueue side
and on the drain side (ReceiveMessage, DeleteMessage[Batch], ChangeMessageVisibility[Batch];
other drain calls apart); SimpleDB calls and writes (Put/BatchPut/Delete/BatchDelete
Attributes) per task, enqueue and drain together; CPU ms per task; duplicate executions
(Stratus: task ids the worker logged more than once; raw: messages received twice); then
enqueue->start latency, p50 and p95. With --runs R each figure is the median of R runs
(duplicates: their sum) and each run's ratios are printed too.

Targets, at 10 ms (issue 15): Stratus drains >= 90% of 4 raw loops, >= 2x Celery and >= 1x
django-tasks-sqs, at <= 0.25 drain-side SQS calls per task and <= 2 SimpleDB writes per
task; enqueue_many (results written too) >= 90% of raw SendMessageBatch; no duplicate
execution; enqueue->start p95 at most the raw loop's p95 + 50 ms. Exits 1 if one is
missed.
"""

import argparse
import copy
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import boto3
import psutil
import requests
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, ROOT)

from localaws import free_port  # noqa: E402

LATENCIES_MS = (0, 10)
TARGET_LATENCY_MS = 10
TARGET_VS_RAW = 0.9
TARGET_VS_CELERY = 2.0
TARGET_VS_DTS = 1.0
TARGET_ENQUEUE_VS_RAW = 0.9
TARGET_SQS_DRAIN_CALLS = 0.25
TARGET_SDB_WRITES = 2.0
#: Most enqueue->start p95 beyond the raw long-poll loop's p95, in seconds.
TARGET_LATENCY_MARGIN = 0.05
#: Requests that move messages on the drain side: what the SQS-calls target counts.
DRAIN_ACTIONS = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
                 "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"}
SDB_WRITES = {"PutAttributes", "BatchPutAttributes", "DeleteAttributes",
              "BatchDeleteAttributes"}
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed"]
POLL_SECONDS = 0.02
CELERY_CONCURRENCY = 16
DTS_CONCURRENCY = 8
RAW_LOOPS = 4
#: Stratus's long-poll wait: a drained --batch worker exits after one such empty receive.
OURS_WAIT_SECONDS = 1
#: The long-poll wait of the idle worker whose latency is measured (the default's).
IDLE_WAIT_SECONDS = 20
SYSTEMS = ("ours", "celery", "dts", "raw")
#: One line the worker logs per task run (storage_backends.tasks.worker.running).
TASK_LINE = re.compile(r" task=\S+ id=(\S+) status=")


def action_name(action):
    """'AmazonSQS.ReceiveMessage' (JSON protocol) and 'ReceiveMessage' (query) alike."""
    return action.rsplit(".", 1)[-1]


class Process:
    """A child process in its own process group, so that stopping it stops its children."""

    def __init__(self, command, env=None, capture_first_line=False):
        self.command = command
        self.log = tempfile.TemporaryFile()
        self.popen = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.PIPE if capture_first_line else self.log, stderr=self.log)
        self.first_line = None
        if capture_first_line:
            self.first_line = self.popen.stdout.readline().decode().strip()
            if not self.first_line:
                raise RuntimeError(f"{command[:3]} exited before it started: {self.output()}")

    def full_output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def output(self):
        return self.full_output()[-3000:]

    def cpu_seconds(self):
        times = psutil.Process(self.popen.pid).cpu_times()
        return times.user + times.system

    def stop(self, grace=5.0):
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        if self.popen.stdout:
            self.popen.stdout.close()
        self.log.close()


def children_cpu_seconds():
    """User + system seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Stack:
    """fast moto and the SimpleDB emulator, each behind delay proxies (SQS, S3, SimpleDB)."""

    def __init__(self):
        self.processes = {}
        moto = self._start("moto", [sys.executable, os.path.join(BENCH, "fast_moto.py")], True)
        self.moto_url = moto.first_line
        sdb_port = free_port()
        self._start("SimpleDB", [sys.executable, "-m", "localaws.simpledb", "--port",
                                 str(sdb_port), "--memory", "--any-credentials"])
        self.sdb_url = f"http://127.0.0.1:{sdb_port}"
        wait_until(lambda: requests.get(self.sdb_url + "/_localaws/simpledb/faults",
                                        timeout=1), "the SimpleDB emulator")
        self.proxies = {
            service: self._start(f"proxy {service}", [
                sys.executable, os.path.join(BENCH, "delay_proxy.py"), "--upstream",
                upstream], True).first_line
            for service, upstream in (("sqs", self.moto_url), ("s3", self.moto_url),
                                      ("sdb", self.sdb_url))
        }
        self.sqs = boto3.client(  # straight to moto: watching queues costs no counted call
            "sqs", endpoint_url=self.moto_url, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
            config=Config(retries={"mode": "standard", "max_attempts": 3}))

    def _start(self, name, command, capture_first_line=False):
        process = Process(command, capture_first_line=capture_first_line)
        self.processes[name] = process
        return process

    def stop(self):
        for process in reversed(list(self.processes.values())):
            process.stop()

    def cpu_seconds(self):
        """CPU seconds the stack's processes have used, all together."""
        return sum(process.cpu_seconds() for process in self.processes.values())

    def set_latency(self, milliseconds):
        for url in self.proxies.values():
            requests.post(url + "/_delay_proxy/config", json={"latency_ms": milliseconds},
                          timeout=5).raise_for_status()

    def take_counts(self):
        """Requests per service and action since the last call (and start again from 0)."""
        counts = {}
        for service, url in self.proxies.items():
            response = requests.delete(url + "/_delay_proxy/counts", timeout=5)
            response.raise_for_status()
            counts[service] = {action_name(a): n for a, n in response.json().items()}
        return counts

    def env(self, **extra):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("AWS_", "DJANGO_", "STRATUS_", "BENCH_"))}
        env.update({
            "PYTHONPATH": os.pathsep.join([ROOT, BENCH]),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_SQS": self.proxies["sqs"],
            "AWS_ENDPOINT_URL_S3": self.proxies["s3"],
            "AWS_ENDPOINT_URL_SIMPLEDB": self.proxies["sdb"],
        })
        env.update(extra)
        return env

    def queue_depth(self, urls):
        total = 0
        for url in urls:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url,
                                                       AttributeNames=COUNTS)["Attributes"]
            total += sum(int(attributes[name]) for name in COUNTS)
        return total

    def create_queue(self, name):
        """A queue for a peer; its URL as clients see it (through the SQS proxy)."""
        url = self.sqs.create_queue(QueueName=name,
                                    Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
        return url, self.proxied(url)

    def proxied(self, url):
        return self.proxies["sqs"] + "/" + url.split("/", 3)[3]

    def direct(self, url):
        return self.moto_url + "/" + url.split("/", 3)[3]


def wait_until(probe, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except (requests.ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


def run_client(args, env):
    """Run bench/tasks_client.py; the JSON object it printed last."""
    result = subprocess.run([sys.executable, os.path.join(BENCH, "tasks_client.py"), *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"tasks_client {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


class Drained:
    """What one drain measured: seconds from the worker's start, and (`steady_rate`) tasks
    per second from the first one gone; CPU seconds (worker, stack); the worker's output."""

    def __init__(self, seconds, steady_rate, worker_cpu, stack_cpu, output):
        self.seconds, self.steady_rate = seconds, steady_rate
        self.worker_cpu, self.stack_cpu = worker_cpu, stack_cpu
        self.output = output


def drain(stack, worker_command, env, direct_urls, tasks, exits_by_itself):
    """Start the worker; time until `direct_urls` are empty. One that exits by itself
    (`exits_by_itself`) must then exit 0."""
    deadline = time.monotonic() + max(120, tasks / 5)
    children_before, stack_before = children_cpu_seconds(), stack.cpu_seconds()
    started = time.perf_counter()
    worker = Process(worker_command, env=env)
    first_gone = None  # (when, depth) at the first look that found fewer than `tasks`
    try:
        while True:
            exited = worker.popen.poll() is not None  # before looking: it may exit drained
            depth = stack.queue_depth(direct_urls)
            if first_gone is None and depth < tasks:
                first_gone = (time.perf_counter(), depth)
            if not depth:
                break
            if exited:
                raise RuntimeError(f"worker exited with {worker.popen.returncode} before "
                                   f"draining:\n{worker.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker did not drain in time:\n{worker.output()}")
            time.sleep(POLL_SECONDS)
        ended = time.perf_counter()
        seconds = ended - started
        # The tasks left at the first look that found some gone, over the time they took:
        # the worker's pace once started (start-up and its first receive excluded).
        steady_rate = first_gone[1] / (ended - first_gone[0]) if ended > first_gone[0] \
            else tasks / seconds
        stack_cpu = stack.cpu_seconds() - stack_before
        if exits_by_itself:
            try:
                code = worker.popen.wait(60)
            except subprocess.TimeoutExpired:
                raise RuntimeError("worker did not exit after draining") from None
            if code != 0:
                raise RuntimeError(f"worker exited with {code}:\n{worker.output()}")
        output = worker.full_output()
    finally:
        worker.stop()
    # The worker is reaped by now: the kernel has added its CPU to this process's children.
    return Drained(seconds, steady_rate, children_cpu_seconds() - children_before, stack_cpu,
                   output)


class Row:
    """One system at one latency: figures per task and per second."""

    def __init__(self, key, system, latency, tasks, enqueue_seconds, drained,
                 enqueue_counts, drain_counts, duplicates=None):
        self.key, self.system, self.latency, self.tasks = key, system, latency, tasks
        self.enqueue_rate = tasks / enqueue_seconds if enqueue_seconds else None
        self.drain_rate = tasks / drained.seconds
        self.steady_rate = drained.steady_rate
        self.enqueue_counts, self.drain_counts = enqueue_counts, drain_counts
        self.worker_cpu = drained.worker_cpu * 1000 / tasks
        self.stack_cpu = drained.stack_cpu * 1000 / tasks
        self.duplicates = duplicates
        self.sqs_enqueue = self.per_task(enqueue_counts, "sqs")
        self.sqs_drain = self.per_task(drain_counts, "sqs", DRAIN_ACTIONS)
        self.sqs_drain_other = self.per_task(drain_counts, "sqs") - self.sqs_drain
        self.sdb_calls = (self.per_task(enqueue_counts, "sdb")
                          + self.per_task(drain_counts, "sdb"))
        self.sdb_writes = (self.per_task(enqueue_counts, "sdb", SDB_WRITES)
                           + self.per_task(drain_counts, "sdb", SDB_WRITES))

    def per_task(self, counts, service, actions=None):
        calls = counts.get(service, {})
        return sum(n for a, n in calls.items() if actions is None or a in actions) / self.tasks


#: Row figures a median of runs is taken of.
FIGURES = ("enqueue_rate", "drain_rate", "steady_rate", "worker_cpu", "stack_cpu", "sqs_enqueue",
           "sqs_drain", "sqs_drain_other", "sdb_calls", "sdb_writes")


def median_row(rows):
    """A copy of the first row with each figure the median of `rows` (duplicates: their
    sum)."""
    median = copy.copy(rows[0])
    for figure in FIGURES:
        values = [getattr(row, figure) for row in rows]
        setattr(median, figure, None if None in values else statistics.median(values))
    known = [row.duplicates for row in rows if row.duplicates is not None]
    median.duplicates = sum(known) if known else None
    return median


# -- the systems ------------------------------------------------------------------------------
def provision_ours(stack, prefix):
    """Stratus's environment on queues of its own (`prefix`); (env, work URLs, DLQ URLs)."""
    env = stack.env(DJANGO_SETTINGS_MODULE="project.settings",
                    STRATUS_SQS_QUEUE_PREFIX=prefix,
                    DATABASE_URL=f"sqlite:///{tempfile.gettempdir()}/stratus-bench-tasks.sqlite3")
    provision_env = dict(env, AWS_ENDPOINT_URL_SQS=stack.moto_url,
                         AWS_ENDPOINT_URL_S3=stack.moto_url,
                         AWS_ENDPOINT_URL_SIMPLEDB=stack.sdb_url)
    subprocess.run([sys.executable, "manage.py", "provision_aws"], cwd=ROOT, env=provision_env,
                   check=True, capture_output=True, timeout=120)
    urls = stack.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return (env, [stack.direct(url) for url in urls if not url.endswith("-dlq")],
            [stack.direct(url) for url in urls if url.endswith("-dlq")])


def run_ours(stack, tasks, latency, concurrency, run_id):
    env, work_urls, dead_urls = provision_ours(stack, f"b{run_id}o{latency}-")
    stack.take_counts()
    enqueue_seconds = run_client(["enqueue", "ours", "--tasks", str(tasks)], env)["seconds"]
    enqueue_counts = stack.take_counts()
    drained = drain(stack, [sys.executable, "manage.py", "sqs_worker", "--batch",
                            "--concurrency", str(concurrency),
                            "--wait-seconds", str(OURS_WAIT_SECONDS)],
                    env, work_urls, tasks, exits_by_itself=True)
    drain_counts = stack.take_counts()
    dead = stack.queue_depth(dead_urls)
    if dead:
        raise RuntimeError(f"Stratus dead-lettered {dead} no-op tasks")
    runs = {}
    for task_id in TASK_LINE.findall(drained.output):
        runs[task_id] = runs.get(task_id, 0) + 1
    if len(runs) != tasks:
        raise RuntimeError(f"the worker logged {len(runs)} tasks of {tasks}:\n"
                           f"{drained.output[-3000:]}")
    return Row("ours", f"Stratus (C={concurrency})", latency, tasks, enqueue_seconds, drained,
               enqueue_counts, drain_counts, duplicates=sum(runs.values()) - len(runs))


def run_celery(stack, tasks, latency, run_id):
    direct_url, url = stack.create_queue(f"b{run_id}c{latency}-celery")
    host = stack.proxies["sqs"].split("//", 1)[1]
    env = stack.env(BENCH_CELERY_BROKER=f"sqs://bench:bench@{host}",
                    BENCH_CELERY_QUEUE_URL=url)
    stack.take_counts()
    enqueue_seconds = run_client(["enqueue", "celery", "--tasks", str(tasks)], env)["seconds"]
    enqueue_counts = stack.take_counts()
    drained = drain(stack, [sys.executable, "-m", "celery", "-A", "tasks_celery_app", "worker",
                            "--pool", "threads", "--concurrency", str(CELERY_CONCURRENCY),
                            "--without-gossip", "--without-mingle", "--without-heartbeat",
                            "--loglevel", "WARNING"],
                    env, [direct_url], tasks, exits_by_itself=False)
    return Row("celery", f"Celery 5.7 (threads {CELERY_CONCURRENCY})", latency, tasks,
               enqueue_seconds, drained, enqueue_counts, stack.take_counts())


def run_dts(stack, tasks, latency, run_id):
    prefix = f"b{run_id}d{latency}-"
    direct_url, _url = stack.create_queue(prefix + "default")
    env = stack.env(DJANGO_SETTINGS_MODULE="tasks_dts_settings", BENCH_QUEUE_PREFIX=prefix)
    stack.take_counts()
    enqueue_seconds = run_client(["enqueue", "dts", "--tasks", str(tasks)], env)["seconds"]
    enqueue_counts = stack.take_counts()
    drained = drain(stack, [sys.executable, "-m", "django", "sqs_worker",
                            "--concurrency", str(DTS_CONCURRENCY), "--max-messages", "10"],
                    env, [direct_url], tasks, exits_by_itself=False)
    return Row("dts", f"django-tasks-sqs 0.2 ({DTS_CONCURRENCY} thr)", latency, tasks,
               enqueue_seconds, drained, enqueue_counts, stack.take_counts())


def run_raw(stack, tasks, latency, run_id, loops):
    direct_url, url = stack.create_queue(f"b{run_id}r{latency}-{loops}")
    env = stack.env()
    stack.take_counts()
    enqueue_seconds = run_client(["enqueue", "raw", "--tasks", str(tasks), "--queue-url", url],
                                 env)["seconds"]
    enqueue_counts = stack.take_counts()
    drained = drain(stack, [sys.executable, os.path.join(BENCH, "tasks_client.py"), "drain-raw",
                            "--tasks", str(tasks), "--queue-url", url, "--loops", str(loops)],
                    env, [direct_url], tasks, exits_by_itself=True)
    duplicates = json.loads(drained.output.strip().splitlines()[-1])["duplicates"]
    label = f"bare boto3 ({loops} loop{'s' if loops > 1 else ''})"
    return Row(f"raw{loops}", label, latency, tasks, enqueue_seconds, drained, enqueue_counts,
               stack.take_counts(), duplicates=duplicates)


def latency_ours(stack, latency, samples, concurrency, run_id):
    """enqueue->start seconds of `samples` tasks, one at a time, on an idle Stratus worker."""
    env, _work_urls, _dead_urls = provision_ours(stack, f"b{run_id}l{latency}-")
    worker = Process([sys.executable, "manage.py", "sqs_worker", "--concurrency",
                      str(concurrency), "--wait-seconds", str(IDLE_WAIT_SECONDS)], env=env)
    try:
        # Started and polling: its first receives (one per receiver) reach the proxy.
        deadline = time.monotonic() + 60
        while not stack.take_counts()["sqs"].get("ReceiveMessage"):
            if worker.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the idle worker did not start:\n{worker.output()}")
            time.sleep(0.1)
        return run_client(["latency", "ours", "--samples", str(samples)], env)["latencies"]
    finally:
        worker.stop(grace=1)


def latency_raw(stack, latency, samples, run_id):
    """Send->receive seconds of `samples` messages, one at a time, to a raw long poll."""
    _direct_url, url = stack.create_queue(f"b{run_id}m{latency}-latency")
    return run_client(["latency", "raw", "--samples", str(samples), "--queue-url", url],
                      stack.env())["latencies"]


def proxy_overhead(stack, calls=300):
    """ms per GetQueueUrl straight to moto and through the SQS proxy at 0 ms."""
    direct_url, _ = stack.create_queue("bench-overhead")
    name = direct_url.rsplit("/", 1)[1]
    timings = {}
    for label, endpoint in (("direct", stack.moto_url), ("proxy", stack.proxies["sqs"])):
        client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        client.get_queue_url(QueueName=name)
        started = time.perf_counter()
        for _ in range(calls):
            client.get_queue_url(QueueName=name)
        timings[label] = (time.perf_counter() - started) * 1000 / calls
    stack.take_counts()
    return timings


# -- report -----------------------------------------------------------------------------------
def percentile(values, fraction):
    """The value `fraction` of the way up the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def ratio(value, base):
    return f"{value / base:.2f}x" if value and base else "-"


def print_table(rows, at):
    """Throughput with its ratios to the raw loops, then costs per task."""
    print(f"{'system':<30}{'ms':>4}{'enqueue/s':>11}{'/raw':>7}{'drain/s':>9}{'/raw4':>7}"
          f"{'steady/s':>10}{'/raw4':>7}{'SQS/task':>10}{'SQS/task':>10}{'(other)':>9}"
          f"{'SDB/task':>10}{'SDB wr':>8}{'CPU ms/task':>13}{'CPU ms/task':>13}{'dup':>5}")
    print(f"{'':<30}{'':>4}{'':>11}{'':>7}{'':>9}{'':>7}{'':>10}{'':>7}{'enqueue':>10}"
          f"{'drain':>10}{'drain':>9}{'all':>10}{'/task':>8}{'worker':>13}{'stack':>13}"
          f"{'':>5}")
    for row in rows:
        raw = at.get((row.latency, "raw1"))
        raw4 = at.get((row.latency, f"raw{RAW_LOOPS}"))
        enqueue = f"{row.enqueue_rate:.0f}" if row.enqueue_rate else "-"
        duplicates = "-" if row.duplicates is None else str(row.duplicates)
        print(f"{row.system:<30}{row.latency:>4}{enqueue:>11}"
              f"{ratio(row.enqueue_rate, raw and raw.enqueue_rate):>7}{row.drain_rate:>9.0f}"
              f"{ratio(row.drain_rate, raw4 and raw4.drain_rate):>7}{row.steady_rate:>10.0f}"
              f"{ratio(row.steady_rate, raw4 and raw4.steady_rate):>7}"
              f"{row.sqs_enqueue:>10.2f}{row.sqs_drain:>10.2f}{row.sqs_drain_other:>9.2f}"
              f"{row.sdb_calls:>10.2f}{row.sdb_writes:>8.2f}{row.worker_cpu:>13.2f}"
              f"{row.stack_cpu:>13.2f}{duplicates:>5}")


def print_latencies(latencies):
    print(f"{'enqueue->start on an idle worker':<40}{'ms':>4}{'samples':>9}{'p50 ms':>9}"
          f"{'p95 ms':>9}")
    for (latency, system), values in sorted(latencies.items()):
        print(f"{system:<40}{latency:>4}{len(values):>9}{percentile(values, 0.5) * 1000:>9.1f}"
              f"{percentile(values, 0.95) * 1000:>9.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000, help="no-op tasks per run (N)")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs of everything; figures are the medians (R)")
    parser.add_argument("--latencies", default=",".join(map(str, LATENCIES_MS)),
                        help="comma-separated ms added per request (targets need "
                             f"{TARGET_LATENCY_MS})")
    parser.add_argument("--ours-concurrency", type=int, default=40,
                        help="Stratus worker's --concurrency")
    parser.add_argument("--latency-samples", type=int, default=40,
                        help="tasks per enqueue->start measurement (K; 0: none)")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset to run (targets need all): "
                             + ", ".join(SYSTEMS))
    args = parser.parse_args(argv)
    systems = args.systems.split(",")
    if set(systems) - set(SYSTEMS):
        parser.error(f"--systems: unknown {sorted(set(systems) - set(SYSTEMS))}")
    if args.tasks < 10:
        parser.error("--tasks must be at least 10")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        latencies_ms = [int(ms) for ms in args.latencies.split(",")]
    except ValueError:
        parser.error("--latencies: whole milliseconds, comma-separated")

    stack = Stack()
    by_run, latencies = [], {}
    try:
        overhead = proxy_overhead(stack)
        for run in range(args.runs):
            run_id = uuid.uuid4().hex[:6]
            rows = []
            for latency in latencies_ms:
                stack.set_latency(latency)
                if "ours" in systems:
                    rows.append(run_ours(stack, args.tasks, latency, args.ours_concurrency,
                                         run_id))
                if "celery" in systems:
                    rows.append(run_celery(stack, args.tasks, latency, run_id))
                if "dts" in systems:
                    rows.append(run_dts(stack, args.tasks, latency, run_id))
                if "raw" in systems:
                    rows.append(run_raw(stack, args.tasks, latency, run_id, RAW_LOOPS))
                    rows.append(run_raw(stack, args.tasks, latency, run_id, 1))
                if args.latency_samples:
                    if "ours" in systems:
                        latencies.setdefault((latency, "Stratus (idle worker)"), []).extend(
                            latency_ours(stack, latency, args.latency_samples,
                                         args.ours_concurrency, run_id))
                    if "raw" in systems:
                        latencies.setdefault((latency, "bare boto3 (1 long-poll loop)"),
                                             []).extend(latency_raw(
                                                 stack, latency, args.latency_samples, run_id))
            by_run.append(rows)
    finally:
        stack.stop()

    rows = [median_row([run[n] for run in by_run]) for n in range(len(by_run[0]))]
    at = {(row.latency, row.key): row for row in rows}
    print(f"{args.tasks} no-op tasks per run; one worker process; latency added per request "
          f"(ms). Per task: requests counted at the proxies."
          + (f" Medians of {args.runs} runs." if args.runs > 1 else ""))
    print(f"Proxy overhead at 0 ms: GetQueueUrl {overhead['direct']:.2f} ms direct, "
          f"{overhead['proxy']:.2f} ms through the proxy "
          f"(+{overhead['proxy'] - overhead['direct']:.2f} ms)")
    print("/raw: enqueue against raw SendMessageBatch; /raw4: drain against 4 raw "
          "receive/delete loops. drain/s: from the worker process's start; steady/s: from the "
          "first task gone (start-up excluded). SQS drain = ReceiveMessage, DeleteMessage[Batch], "
          "ChangeMessageVisibility[Batch]; (other) = the rest of the drain's SQS calls. CPU: "
          "the worker process's, and the stack's (moto, SimpleDB, proxies). dup: duplicate "
          "executions.")
    print()
    print_table(rows, at)
    print()
    if latencies:
        print_latencies(latencies)
        print()
    print(f"Requests by action at {TARGET_LATENCY_MS} ms (enqueue | drain):")
    for row in rows:
        if row.latency != TARGET_LATENCY_MS:
            continue
        phases = []
        for counts in (row.enqueue_counts, row.drain_counts):
            phases.append(", ".join(f"{service} {action} {n}"
                                    for service, calls in sorted(counts.items())
                                    for action, n in sorted(calls.items())) or "-")
        print(f"  {row.system}: {phases[0]} | {phases[1]}")
    print()
    if args.runs > 1 and "ours" in systems and "raw" in systems:
        for number, run in enumerate(by_run, 1):
            figures = {(row.latency, row.key): row for row in run}
            ours = figures.get((TARGET_LATENCY_MS, "ours"))
            raw4 = figures.get((TARGET_LATENCY_MS, f"raw{RAW_LOOPS}"))
            raw1 = figures.get((TARGET_LATENCY_MS, "raw1"))
            if ours and raw4 and raw1:
                print(f"Run {number} at {TARGET_LATENCY_MS} ms: drain {ours.drain_rate:.0f}/s = "
                      f"{ours.drain_rate / raw4.drain_rate:.2f}x 4 raw loops "
                      f"({raw4.drain_rate:.0f}/s), steady {ours.steady_rate:.0f}/s = "
                      f"{ours.steady_rate / raw4.steady_rate:.2f}x ({raw4.steady_rate:.0f}/s); "
                      f"enqueue {ours.enqueue_rate:.0f}/s = "
                      f"{ours.enqueue_rate / raw1.enqueue_rate:.2f}x raw "
                      f"({raw1.enqueue_rate:.0f}/s); duplicates {ours.duplicates}")
        print()

    print_cpu_ceilings(at)

    if set(systems) != set(SYSTEMS) or TARGET_LATENCY_MS not in latencies_ms \
            or not args.latency_samples:
        print(f"Targets not checked: they need every system (--systems), "
              f"{TARGET_LATENCY_MS} ms (--latencies) and latency samples.")
        return 0
    ours, celery, dts = (at[(TARGET_LATENCY_MS, key)] for key in ("ours", "celery", "dts"))
    raw4, raw1 = at[(TARGET_LATENCY_MS, f"raw{RAW_LOOPS}")], at[(TARGET_LATENCY_MS, "raw1")]
    ours_p95 = percentile(latencies[(TARGET_LATENCY_MS, "Stratus (idle worker)")], 0.95)
    raw_p95 = percentile(latencies[(TARGET_LATENCY_MS, "bare boto3 (1 long-poll loop)")], 0.95)
    checks = [
        (f"drain vs bare boto3 ({RAW_LOOPS} loops) >= {TARGET_VS_RAW:.0%}",
         ours.drain_rate / raw4.drain_rate, TARGET_VS_RAW, "x", True),
        (f"drain vs Celery >= {TARGET_VS_CELERY:g}x", ours.drain_rate / celery.drain_rate,
         TARGET_VS_CELERY, "x", True),
        (f"drain vs django-tasks-sqs >= {TARGET_VS_DTS:g}x", ours.drain_rate / dts.drain_rate,
         TARGET_VS_DTS, "x", True),
        (f"enqueue_many vs raw SendMessageBatch >= {TARGET_ENQUEUE_VS_RAW:.0%}",
         ours.enqueue_rate / raw1.enqueue_rate, TARGET_ENQUEUE_VS_RAW, "x", True),
        (f"drain-side SQS calls per task <= {TARGET_SQS_DRAIN_CALLS}", ours.sqs_drain,
         TARGET_SQS_DRAIN_CALLS, "", False),
        (f"SimpleDB writes per task <= {TARGET_SDB_WRITES:g}", ours.sdb_writes,
         TARGET_SDB_WRITES, "", False),
        ("duplicate executions = 0", ours.duplicates, 0, "", False),
        (f"enqueue->start p95 - raw p95 <= {TARGET_LATENCY_MARGIN * 1000:.0f} ms",
         (ours_p95 - raw_p95) * 1000, TARGET_LATENCY_MARGIN * 1000, "ms", False),
    ]
    print(f"Targets at {TARGET_LATENCY_MS} ms for Stratus:")
    failures = []
    for label, value, target, unit, at_least in checks:
        met = value >= target if at_least else value <= target
        print(f"  {label:<48}{value:>8.2f}{unit:<3}{'met' if met else 'MISSED':>7}")
        if not met:
            failures.append(f"{label} (is {value:.2f})")
    if failures:
        print("TARGETS MISSED: " + "; ".join(failures))
        return 1
    print("Targets met: throughput against each peer and the raw loops, call budgets, no "
          "duplicates, idle latency.")
    return 0


def print_cpu_ceilings(at):
    """What this machine's cores allow each system at its CPU per task (its worker's and the
    stack's): a drain near its ceiling is CPU-bound here, one far below it waits on calls."""
    cores = os.cpu_count() or 1
    rows = [row for (latency, _key), row in sorted(at.items())
            if latency == TARGET_LATENCY_MS and row.worker_cpu + row.stack_cpu > 0]
    if not rows:
        return
    print(f"CPU ceilings at {TARGET_LATENCY_MS} ms ({cores} cores / (worker + stack CPU per "
          f"task)):")
    for row in rows:
        ceiling = cores * 1000 / (row.worker_cpu + row.stack_cpu)
        # The drain rate, not the steady one: the CPU counted includes the start-up too.
        print(f"  {row.system:<30} ceiling {ceiling:>6.0f}/s  drain "
              f"{row.drain_rate:>6.0f}/s = {row.drain_rate / ceiling:.0%} of it")
    print()


if __name__ == "__main__":
    sys.exit(main())
