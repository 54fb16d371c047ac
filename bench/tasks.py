"""Benchmark: Stratus's SQS task backend beside Celery, django-tasks-sqs and bare boto3.

Run `make bench-tasks` (or `python bench/tasks.py [--tasks N] [--ours-concurrency C]`).
In one run, on the same local SQS and SimpleDB, each system enqueues N no-op tasks
(default 2,000), then ONE worker process drains them; each at 0 ms and at 10 ms of added
round-trip latency per request:

1. Stratus (`storage_backends.tasks`): `enqueue_many`, then
   `manage.py sqs_worker --batch --concurrency C --wait-seconds 1` (default C = 40: of
   10, 20 and 40, the fastest at 10 ms). It stores results in
   SimpleDB, so its SimpleDB calls count too.
2. Celery 5.7 on kombu's SQS transport (bench/tasks_celery_app.py): `delay()` per task
   (kombu has no batch send), worker `--pool threads --concurrency 16`, acks late,
   prefetch 10.
3. django-tasks-sqs 0.2.0 (bench/tasks_dts_settings.py): its `enqueue_many`
   (SendMessageBatch), its `sqs_worker --concurrency 8 --max-messages 10`.
4. Bare boto3, the practical limit: SendMessageBatch 10, then ReceiveMessage 10 /
   DeleteMessageBatch 10 in 4 loops (threads) of one process, and in 1 loop.

Drain time runs from starting the worker process until its queues hold no visible,
in-flight or delayed message. Every system deletes a message only after its task ran
(Celery: acks late), so an empty queue means N completed tasks; the queue is watched
straight on moto, around the proxies, so watching adds no calls and no latency.

Where the time goes: moto's server (bench/fast_moto.py, which removes stock moto's
per-message scans of the whole queue: at depth 2,000 stock moto caps any client at ~50
tasks/s; see its docstring) and our SimpleDB emulator, each in its own process, each behind
bench/delay_proxy.py, which adds the latency and counts requests per action. The proxy's
own overhead at 0 ms is measured and printed first.

Printed per system and latency: enqueue and drain tasks/s; SQS calls per task on the
enqueue side and on the drain side (ReceiveMessage, DeleteMessage[Batch],
ChangeMessageVisibility[Batch]; other drain calls apart); SimpleDB calls and writes
(Put/BatchPut/Delete/BatchDeleteAttributes) per task, enqueue and drain together.

Targets, at 10 ms: Stratus drains >= 2x Celery, >= 1x django-tasks-sqs and >= 50% of "a
raw boto3 loop" (the issue's words: one loop); <= 0.35 drain-side SQS calls per task; <= 2
SimpleDB writes per task. Exits 1 if a target is missed. The ratio to 4 loops in one process
(a raw drain with the same concurrency as a worker) is printed beside them, not checked.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import boto3
import requests
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, ROOT)

from localaws import free_port  # noqa: E402

LATENCIES_MS = (0, 10)
TARGET_LATENCY_MS = 10
TARGET_VS_CELERY = 2.0
TARGET_VS_DTS = 1.0
TARGET_VS_RAW = 0.5
TARGET_SQS_DRAIN_CALLS = 0.35
TARGET_SDB_WRITES = 2.0
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
SYSTEMS = ("ours", "celery", "dts", "raw")


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

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

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


class Stack:
    """fast moto and the SimpleDB emulator, each behind delay proxies (SQS, S3, SimpleDB)."""

    def __init__(self):
        self.processes = []
        moto = self._start([sys.executable, os.path.join(BENCH, "fast_moto.py")], True)
        self.moto_url = moto.first_line
        sdb_port = free_port()
        self._start([sys.executable, "-m", "localaws.simpledb", "--port", str(sdb_port),
                     "--memory", "--any-credentials"])
        self.sdb_url = f"http://127.0.0.1:{sdb_port}"
        wait_until(lambda: requests.get(self.sdb_url + "/_localaws/simpledb/faults",
                                        timeout=1), "the SimpleDB emulator")
        self.proxies = {
            service: self._start([sys.executable, os.path.join(BENCH, "delay_proxy.py"),
                                  "--upstream", upstream], True).first_line
            for service, upstream in (("sqs", self.moto_url), ("s3", self.moto_url),
                                      ("sdb", self.sdb_url))
        }
        self.sqs = boto3.client(  # straight to moto: watching queues costs no counted call
            "sqs", endpoint_url=self.moto_url, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
            config=Config(retries={"mode": "standard", "max_attempts": 3}))

    def _start(self, command, capture_first_line=False):
        process = Process(command, capture_first_line=capture_first_line)
        self.processes.append(process)
        return process

    def stop(self):
        for process in reversed(self.processes):
            process.stop()

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


def run_client(stack, args, env):
    result = subprocess.run([sys.executable, os.path.join(BENCH, "tasks_client.py"), *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"tasks_client {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def drain(stack, worker_command, env, direct_urls, tasks, exits_by_itself):
    """Start the worker; seconds until `direct_urls` are empty. One that exits by itself
    (`exits_by_itself`) must then exit 0."""
    deadline = time.monotonic() + max(120, tasks / 5)
    started = time.perf_counter()
    worker = Process(worker_command, env=env)
    try:
        while True:
            exited = worker.popen.poll() is not None  # before looking: it may exit drained
            if not stack.queue_depth(direct_urls):
                break
            if exited:
                raise RuntimeError(f"worker exited with {worker.popen.returncode} before "
                                   f"draining:\n{worker.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker did not drain in time:\n{worker.output()}")
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        if exits_by_itself:
            try:
                code = worker.popen.wait(60)
            except subprocess.TimeoutExpired:
                raise RuntimeError("worker did not exit after draining") from None
            if code != 0:
                raise RuntimeError(f"worker exited with {code}:\n{worker.output()}")
    finally:
        worker.stop()
    return seconds


class Row:
    def __init__(self, key, system, latency, tasks, enqueue_seconds, drain_seconds,
                 enqueue_counts, drain_counts):
        self.key, self.system, self.latency, self.tasks = key, system, latency, tasks
        self.enqueue_rate = tasks / enqueue_seconds if enqueue_seconds else None
        self.drain_rate = tasks / drain_seconds
        self.enqueue_counts, self.drain_counts = enqueue_counts, drain_counts

    def per_task(self, counts, service, actions=None):
        calls = counts.get(service, {})
        return sum(n for a, n in calls.items() if actions is None or a in actions) / self.tasks

    @property
    def sqs_enqueue(self):
        return self.per_task(self.enqueue_counts, "sqs")

    @property
    def sqs_drain(self):
        return self.per_task(self.drain_counts, "sqs", DRAIN_ACTIONS)

    @property
    def sqs_drain_other(self):
        return self.per_task(self.drain_counts, "sqs") - self.sqs_drain

    @property
    def sdb_calls(self):
        return (self.per_task(self.enqueue_counts, "sdb")
                + self.per_task(self.drain_counts, "sdb"))

    @property
    def sdb_writes(self):
        return (self.per_task(self.enqueue_counts, "sdb", SDB_WRITES)
                + self.per_task(self.drain_counts, "sdb", SDB_WRITES))

    @property
    def s3_calls(self):
        return self.per_task(self.enqueue_counts, "s3") + self.per_task(self.drain_counts, "s3")

    def actions(self):
        merged = {}
        for phase, counts in (("enqueue", self.enqueue_counts), ("drain", self.drain_counts)):
            for service, calls in counts.items():
                for action, n in calls.items():
                    merged[f"{phase} {service} {action}"] = n
        return merged


# -- the systems ------------------------------------------------------------------------------
def run_ours(stack, tasks, latency, concurrency, run_id):
    prefix = f"b{run_id}o{latency}-"
    env = stack.env(DJANGO_SETTINGS_MODULE="project.settings",
                    STRATUS_SQS_QUEUE_PREFIX=prefix,
                    DATABASE_URL=f"sqlite:///{tempfile.gettempdir()}/stratus-bench-tasks.sqlite3")
    provision_env = dict(env, AWS_ENDPOINT_URL_SQS=stack.moto_url,
                         AWS_ENDPOINT_URL_S3=stack.moto_url,
                         AWS_ENDPOINT_URL_SIMPLEDB=stack.sdb_url)
    subprocess.run([sys.executable, "manage.py", "provision_aws"], cwd=ROOT, env=provision_env,
                   check=True, capture_output=True, timeout=120)
    urls = [url for url in stack.sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])]
    work_urls = [stack.direct(url) for url in urls if not url.endswith("-dlq")]
    stack.take_counts()
    enqueue_seconds = run_client(stack, ["enqueue", "ours", "--tasks", str(tasks)], env)
    enqueue_counts = stack.take_counts()
    seconds = drain(stack, [sys.executable, "manage.py", "sqs_worker", "--batch",
                            "--concurrency", str(concurrency),
                            "--wait-seconds", str(OURS_WAIT_SECONDS)],
                    env, work_urls, tasks, exits_by_itself=True)
    drain_counts = stack.take_counts()
    dead = stack.queue_depth([stack.direct(url) for url in urls if url.endswith("-dlq")])
    if dead:
        raise RuntimeError(f"Stratus dead-lettered {dead} no-op tasks")
    return Row("ours", f"Stratus (C={concurrency})", latency, tasks, enqueue_seconds, seconds,
               enqueue_counts, drain_counts)


def run_celery(stack, tasks, latency, run_id):
    direct_url, url = stack.create_queue(f"b{run_id}c{latency}-celery")
    host = stack.proxies["sqs"].split("//", 1)[1]
    env = stack.env(BENCH_CELERY_BROKER=f"sqs://bench:bench@{host}",
                    BENCH_CELERY_QUEUE_URL=url)
    stack.take_counts()
    enqueue_seconds = run_client(stack, ["enqueue", "celery", "--tasks", str(tasks)], env)
    enqueue_counts = stack.take_counts()
    seconds = drain(stack, [sys.executable, "-m", "celery", "-A", "tasks_celery_app", "worker",
                            "--pool", "threads", "--concurrency", str(CELERY_CONCURRENCY),
                            "--without-gossip", "--without-mingle", "--without-heartbeat",
                            "--loglevel", "WARNING"],
                    env, [direct_url], tasks, exits_by_itself=False)
    drain_counts = stack.take_counts()
    return Row("celery", f"Celery 5.7 (threads {CELERY_CONCURRENCY})", latency, tasks, enqueue_seconds,
               seconds, enqueue_counts, drain_counts)


def run_dts(stack, tasks, latency, run_id):
    prefix = f"b{run_id}d{latency}-"
    direct_url, _url = stack.create_queue(prefix + "default")
    env = stack.env(DJANGO_SETTINGS_MODULE="tasks_dts_settings", BENCH_QUEUE_PREFIX=prefix)
    stack.take_counts()
    enqueue_seconds = run_client(stack, ["enqueue", "dts", "--tasks", str(tasks)], env)
    enqueue_counts = stack.take_counts()
    seconds = drain(stack, [sys.executable, "-m", "django", "sqs_worker",
                            "--concurrency", str(DTS_CONCURRENCY), "--max-messages", "10"],
                    env, [direct_url], tasks, exits_by_itself=False)
    drain_counts = stack.take_counts()
    return Row("dts", f"django-tasks-sqs 0.2 ({DTS_CONCURRENCY} thr)", latency, tasks,
               enqueue_seconds, seconds, enqueue_counts, drain_counts)


def run_raw(stack, tasks, latency, run_id, loops):
    direct_url, url = stack.create_queue(f"b{run_id}r{latency}-{loops}")
    env = stack.env()
    stack.take_counts()
    enqueue_seconds = run_client(stack, ["enqueue", "raw", "--tasks", str(tasks),
                                         "--queue-url", url], env)
    enqueue_counts = stack.take_counts()
    seconds = drain(stack, [sys.executable, os.path.join(BENCH, "tasks_client.py"), "drain-raw",
                            "--tasks", str(tasks), "--queue-url", url, "--loops", str(loops)],
                    env, [direct_url], tasks, exits_by_itself=True)
    drain_counts = stack.take_counts()
    label = f"bare boto3 ({loops} loop{'s' if loops > 1 else ''})"
    return Row(f"raw{loops}", label, latency, tasks, enqueue_seconds, seconds, enqueue_counts, drain_counts)


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
def print_table(rows):
    print(f"{'system':<30}{'ms':>4}{'enqueue/s':>11}{'drain/s':>9}{'SQS/task':>10}"
          f"{'SQS/task':>10}{'(other)':>9}{'SDB/task':>10}{'SDB wr/task':>12}")
    print(f"{'':<30}{'':>4}{'':>11}{'':>9}{'enqueue':>10}{'drain':>10}{'drain':>9}"
          f"{'all':>10}{'all':>12}")
    for row in rows:
        enqueue = f"{row.enqueue_rate:.0f}" if row.enqueue_rate else "-"
        print(f"{row.system:<30}{row.latency:>4}{enqueue:>11}{row.drain_rate:>9.0f}"
              f"{row.sqs_enqueue:>10.2f}{row.sqs_drain:>10.2f}{row.sqs_drain_other:>9.2f}"
              f"{row.sdb_calls:>10.2f}{row.sdb_writes:>12.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000, help="no-op tasks per run (N)")
    parser.add_argument("--ours-concurrency", type=int, default=40,
                        help="Stratus worker's --concurrency")
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset to run (targets need all): "
                             + ", ".join(SYSTEMS))
    args = parser.parse_args(argv)
    systems = args.systems.split(",")
    if set(systems) - set(SYSTEMS):
        parser.error(f"--systems: unknown {sorted(set(systems) - set(SYSTEMS))}")
    if args.tasks < 10:
        parser.error("--tasks must be at least 10")
    run_id = uuid.uuid4().hex[:6]

    stack = Stack()
    rows = []
    try:
        overhead = proxy_overhead(stack)
        for latency in LATENCIES_MS:
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
    finally:
        stack.stop()

    print(f"{args.tasks} no-op tasks per run; one worker process; latency added per request "
          f"(ms). Per task: requests counted at the proxies.")
    print(f"Proxy overhead at 0 ms: GetQueueUrl {overhead['direct']:.2f} ms direct, "
          f"{overhead['proxy']:.2f} ms through the proxy "
          f"(+{overhead['proxy'] - overhead['direct']:.2f} ms)")
    print("SQS drain = ReceiveMessage, DeleteMessage[Batch], ChangeMessageVisibility[Batch]; "
          "(other) = the rest of the drain's SQS calls")
    print()
    print_table(rows)
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

    if set(systems) != set(SYSTEMS):
        print("Targets not checked: they need every system (--systems).")
        return 0
    at = {row.key: row for row in rows if row.latency == TARGET_LATENCY_MS}
    ours, celery, dts, raw = at["ours"], at["celery"], at["dts"], at["raw1"]
    print(f"Stratus drain vs bare boto3 ({RAW_LOOPS} loops): "
          f"{ours.drain_rate / at[f'raw{RAW_LOOPS}'].drain_rate:.2f}x (for information)")
    checks = [
        (f"drain vs Celery >= {TARGET_VS_CELERY:g}x", ours.drain_rate / celery.drain_rate,
         TARGET_VS_CELERY, "x", True),
        (f"drain vs django-tasks-sqs >= {TARGET_VS_DTS:g}x", ours.drain_rate / dts.drain_rate,
         TARGET_VS_DTS, "x", True),
        (f"drain vs bare boto3 (1 loop) >= {TARGET_VS_RAW:.0%}",
         ours.drain_rate / raw.drain_rate, TARGET_VS_RAW, "x", True),
        (f"drain-side SQS calls per task <= {TARGET_SQS_DRAIN_CALLS}", ours.sqs_drain,
         TARGET_SQS_DRAIN_CALLS, "", False),
        (f"SimpleDB writes per task <= {TARGET_SDB_WRITES:g}", ours.sdb_writes,
         TARGET_SDB_WRITES, "", False),
    ]
    print(f"Targets at {TARGET_LATENCY_MS} ms for Stratus:")
    failures = []
    for label, value, target, unit, at_least in checks:
        met = value >= target if at_least else value <= target
        print(f"  {label:<44}{value:>8.2f}{unit:<2}{'met' if met else 'MISSED':>8}")
        if not met:
            failures.append(f"{label} (is {value:.2f})")
    if failures:
        print("TARGETS MISSED: " + "; ".join(failures))
        return 1
    print("Targets met: drain throughput against each peer and the call budgets.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
