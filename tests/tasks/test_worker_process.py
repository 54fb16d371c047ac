"""`manage.py sqs_worker` as a real process on the local stack: signals, crashes, heartbeat,
results and logs seen from other processes.

Each test gets its own queues (a fresh QUEUE_PREFIX). The worker reads its TASKS from the
environment through project.settings; the `stack` fixture sets that environment and makes
this process's settings.TASKS the same, so that both ends agree on queues and timings.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.core.cache import caches
from django.tasks import TaskResultStatus

from storage_backends import aws, resources
from storage_backends.provisioning import Provisioner
from storage_backends.tasks import messages
from storage_backends.tasks.messages import Payload
from storage_backends.tasks.queues import REASON
from tests.fixtures.lifecycle import closed_port_url
from tests.tasks import jobs, process_jobs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: Seconds a Django process gets to start and log its first line.
START_TIMEOUT = 60
#: Seconds a test waits for a process to do its work and exit.
RUN_TIMEOUT = 60

pytestmark = pytest.mark.slow


class ManageProcess:
    """`python manage.py <args>` in its own process; its output lines kept as they come."""

    def __init__(self, args, env, command=(sys.executable, "manage.py")):
        self.popen = subprocess.Popen(
            [*command, *args], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        self.pid = self.popen.pid
        self.stdout, self.stderr = [], []
        self._arrived = threading.Condition()
        self._open = 2
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.popen.stdout, self.stdout),
                                               (self.popen.stderr, self.stderr))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines):
        for line in stream:
            with self._arrived:
                lines.append(line.rstrip("\n"))
                self._arrived.notify_all()
        with self._arrived:
            self._open -= 1
            self._arrived.notify_all()

    def output(self):
        with self._arrived:
            return "\n".join(["--- stdout", *self.stdout, "--- stderr", *self.stderr])

    def wait_for(self, pattern, timeout=START_TIMEOUT):
        """The first stdout line matching the regular expression `pattern`, once it comes."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for line in self.stdout:
                    if re.search(pattern, line):
                        return line
                remaining = deadline - time.monotonic()
                if not self._open or remaining <= 0:
                    break
                self._arrived.wait(remaining)
        why = "exited" if not self._open else f"did not log it within {timeout} s"
        raise AssertionError(f"no line matching {pattern!r}: the process {why}\n{self.output()}")

    def signal(self, number):
        self.popen.send_signal(number)

    def wait(self, timeout=RUN_TIMEOUT):
        """The exit code, once the process has exited and its output is read."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout} s\n{self.output()}") from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(30)


class Stack:
    """The task backend on one fresh set of queues, seen alike by this process and workers."""

    def __init__(self, env, backend):
        self.env = env
        self.backend = backend
        self.queue_url = backend.sqs.url(backend.config.sqs_name("default"))
        self.processes = []

    def manage(self, *args):
        process = ManageProcess(args, self.env)
        self.processes.append(process)
        return process

    def worker(self, *args):
        return self.manage("sqs_worker", *args)

    def visible_ids(self):
        """Result ids of the messages a receive with boto3 gets now, without waiting."""
        response = aws.client("sqs").receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return sorted(json.loads(m["Body"])["id"] for m in response.get("Messages", []))

    def counts(self):
        return self.backend.sqs.counts(self.backend.config.sqs_name("default"))

    def stop(self):
        for process in self.processes:
            process.kill()


@pytest.fixture
def stack(settings, aws_env, tmp_path):
    """Make a Stack with the given timings (seconds); its processes are killed at the end."""
    from django.tasks import task_backends

    made = []
    project_tasks = settings.TASKS["default"]

    def make(visibility=5, grace=5, retry_delay=1):
        prefix = f"w{uuid.uuid4().hex[:10]}-"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "STRATUS_SQS_QUEUE_PREFIX": prefix,
            "STRATUS_TASK_VISIBILITY_TIMEOUT": str(visibility),
            "STRATUS_TASK_WAIT_SECONDS": "1",
            "STRATUS_TASK_RETRY_DELAY": str(retry_delay),
            "STRATUS_TASK_SHUTDOWN_GRACE": str(grace),
        }
        settings.TASKS = {"default": {**project_tasks, "OPTIONS": {
            **project_tasks["OPTIONS"], "QUEUE_PREFIX": prefix,
            "VISIBILITY_TIMEOUT": visibility, "WAIT_SECONDS": 1,
            "RETRY_DELAY": retry_delay, "SHUTDOWN_GRACE": grace,
        }}}
        provisioner = Provisioner()
        for queue in resources.queues():
            provisioner.ensure_queue(queue)
        for domain in resources.domains():
            provisioner.ensure_domain(domain)
        made.append(Stack(env, task_backends["default"]))
        return made[-1]

    yield make
    for each in made:
        each.stop()


def wait_for_status(result, status, timeout=RUN_TIMEOUT):
    """Refresh `result` until it has `status`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result.refresh()
        if result.status == status:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"result {result.id} is {result.status}, not {status}, "
                                 f"after {timeout} s")
        time.sleep(0.1)  # polling another process's writes, with the deadline above


def test_sigterm_lets_the_running_task_finish_and_leaves_the_rest_queued(stack):
    tasks = stack(visibility=5, grace=10)
    running = process_jobs.nap.enqueue(2)
    worker = tasks.worker("--concurrency", "2")
    worker.wait_for(rf"job=nap id={running.id} .* started")
    worker.signal(signal.SIGTERM)
    worker.wait_for(r"stopping grace=10s", timeout=2)
    # The worker polls on with a free slot until the signal: what comes now is not run.
    waiting = sorted(jobs.add.enqueue(n, n).id for n in range(3))

    assert worker.wait() == 0, worker.output()
    running.refresh()
    assert (running.status, running.return_value) == (TaskResultStatus.SUCCESSFUL, 2)
    assert tasks.visible_ids() == waiting
    assert [jobs.add.get_result(id).status for id in waiting] == [TaskResultStatus.READY] * 3


def test_sigterm_hands_back_a_task_that_outlasts_the_grace_period(stack):
    tasks = stack(visibility=60, grace=1)
    running = process_jobs.nap.enqueue(10)
    worker = tasks.worker()
    worker.wait_for(rf"job=nap id={running.id} .* started")
    signalled = time.monotonic()
    worker.signal(signal.SIGTERM)

    assert worker.wait(timeout=10) == 0, worker.output()
    assert time.monotonic() - signalled < 1 + 3, worker.output()
    # Visible at once, not after the 60 s visibility timeout.
    assert tasks.visible_ids() == [running.id]


def test_a_task_handed_back_at_shutdown_runs_at_once_on_another_worker(stack):
    tasks = stack(visibility=60, grace=1)
    handed_back = process_jobs.nap.enqueue(3)
    first = tasks.worker("--worker-id", "first")
    first.wait_for(rf"job=nap id={handed_back.id} .* started")
    first.signal(signal.SIGTERM)
    assert first.wait() == 0, first.output()

    # Well before the 60 s visibility timeout, or the lease the first worker held.
    second = tasks.worker("--worker-id", "second", "--max-tasks", "1")
    assert second.wait(timeout=30) == 0, second.output()
    handed_back.refresh()
    assert handed_back.status == TaskResultStatus.SUCCESSFUL
    assert handed_back.worker_ids == ["first", "second"]


def test_a_second_sigint_exits_at_once_and_hands_the_task_back(stack):
    tasks = stack(visibility=60, grace=60)
    running = process_jobs.nap.enqueue(30)
    worker = tasks.worker()
    worker.wait_for(rf"job=nap id={running.id} .* started")
    worker.signal(signal.SIGINT)
    worker.wait_for(r"stopping grace=60s", timeout=2)
    signalled = time.monotonic()
    worker.signal(signal.SIGINT)

    assert worker.wait(timeout=10) == 0, worker.output()
    assert time.monotonic() - signalled < 3, worker.output()
    assert tasks.visible_ids() == [running.id]


def test_a_task_of_a_killed_worker_runs_again_on_another_and_completes_once(stack):
    tasks = stack(visibility=3)
    key = f"killed-{uuid.uuid4().hex}"
    result = jobs.sleep_then_count.enqueue(key, 2)
    first = tasks.worker("--worker-id", "first")
    wait_for_status(result, TaskResultStatus.RUNNING, timeout=START_TIMEOUT)
    first.kill()
    assert caches["default"].get(key) is None  # killed before the task's effect

    second = tasks.worker("--worker-id", "second", "--max-tasks", "1")
    assert second.wait() == 0, second.output()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.worker_ids == ["first", "second"]
    assert result.return_value == 1
    assert caches["default"].get(key) == 1


def test_a_task_longer_than_the_visibility_timeout_runs_once_among_two_workers(
        stack, tmp_path):
    tasks = stack(visibility=2)
    workers = [tasks.worker("--worker-id", name) for name in ("left", "right")]
    for worker in workers:
        worker.wait_for(r"worker=\S+ starting")
    runs = tmp_path / "runs.txt"
    result = process_jobs.nap.enqueue(5, note=str(runs))

    wait_for_status(result, TaskResultStatus.SUCCESSFUL)
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [worker.wait() for worker in workers] == [0, 0]
    assert len(runs.read_text().splitlines()) == 1
    assert len(result.worker_ids) == 1
    assert tasks.counts() == {"ApproximateNumberOfMessages": 0,
                              "ApproximateNumberOfMessagesNotVisible": 0,
                              "ApproximateNumberOfMessagesDelayed": 0}


def test_a_result_written_by_a_worker_process_is_read_here(stack):
    tasks = stack()
    result = jobs.add.enqueue(2, 3)
    worker = tasks.worker("--max-tasks", "1")
    assert worker.wait() == 0, worker.output()

    fetched = jobs.add.get_result(result.id)
    assert (fetched.status, fetched.return_value) == (TaskResultStatus.SUCCESSFUL, 5)
    result.refresh()
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 5)


def test_a_result_enqueued_here_is_ready_in_another_process(stack):
    tasks = stack()
    result = jobs.add.enqueue(4, 5)
    shell = tasks.manage("shell", "--no-imports", "-c", (
        "import json\n"
        "from tests.tasks import jobs\n"
        f"result = jobs.add.get_result({result.id!r})\n"
        "print(json.dumps([result.status, result.args, result.worker_ids]))\n"
    ))
    assert shell.wait() == 0, shell.output()
    assert json.loads(shell.stdout[-1]) == ["READY", [4, 5], []]


def test_task_signals_fire_in_the_worker_process(stack):
    tasks = stack()
    result = process_jobs.nap.enqueue(0)
    worker = tasks.worker("--max-tasks", "1")
    assert worker.wait() == 0, worker.output()

    signals = [line.split("signal=", 1)[1] for line in worker.stdout if "signal=" in line]
    assert signals == [
        f"task_started id={result.id} status=RUNNING pid={worker.pid}",
        f"task_finished id={result.id} status=SUCCESSFUL pid={worker.pid}",
    ]


def test_the_worker_logs_each_task_as_key_value_pairs(stack):
    tasks = stack()
    result = jobs.add.enqueue(1, 2)
    worker = tasks.worker("--worker-id", "logger-1", "--max-tasks", "1")
    assert worker.wait() == 0, worker.output()

    # On stdout, where the project's LOGGING sends every log line.
    line = (rf"worker=logger-1 task=tests\.tasks\.jobs\.add id={result.id} "
            r"status=SUCCESSFUL attempt=1 ms=\d+$")
    assert any(re.search(line, logged) for logged in worker.stdout), worker.output()


# -- poison messages and dying threads ---------------------------------------------------------
def dead_letters(tasks):
    """{body: reason} of the messages on the default queue's dead-letter queue."""
    sqs = aws.client("sqs")
    url = tasks.backend.sqs.dead_letter_url(tasks.backend.config.sqs_name("default"))
    found = {}
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=60, MessageAttributeNames=["All"])
        if not received.get("Messages"):
            return found
        found.update({m["Body"]: m["MessageAttributes"][REASON]["StringValue"]
                      for m in received["Messages"]})


def wait_until(condition, what, timeout=RUN_TIMEOUT):
    """Poll another process's effects until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)  # polling another process's writes, with the deadline above


def test_poison_messages_are_dead_lettered_by_a_worker_process_which_goes_on(stack):
    tasks = stack()
    envelope = json.loads(messages.encode(Payload(
        id=uuid.uuid4().hex, task_path="tests.tasks.jobs.add", backend="default",
        queue_name="default", priority=0, args=[1, 2], kwargs={},
        enqueued_at=datetime.now(UTC))))
    poison = {
        "[" * 10000 + "]" * 10000: "it nests arrays or objects",
        '{"v": ' + "9" * 5000 + "}": "not JSON",
        "q" * 256 * 1024: "not JSON",
        json.dumps({**envelope, "v": True}): "unknown message version: a bool",
        json.dumps({**envelope, "payload": 5}): "message has no payload",
        json.dumps({**envelope, "s3": "task-payloads/none.json"}): "is gone",
    }
    url = tasks.queue_url
    for body in poison:
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    good = [jobs.add.enqueue(n, n) for n in range(3)]
    worker = tasks.worker("--concurrency", "4")

    for result in good:
        wait_for_status(result, TaskResultStatus.SUCCESSFUL)
    wait_until(lambda: tasks.counts()["ApproximateNumberOfMessages"] == 0
               and tasks.counts()["ApproximateNumberOfMessagesNotVisible"] == 0,
               "the task queue emptied")
    later = jobs.add.enqueue(20, 22)
    wait_for_status(later, TaskResultStatus.SUCCESSFUL)  # its receiver still receives
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0, worker.output()
    found = dead_letters(tasks)
    assert found.keys() == poison.keys()
    for body, reason in poison.items():
        assert reason in found[body], (reason, found[body])


@pytest.mark.parametrize("thread", ["receiver-0", "flusher-0", "heartbeat", "marker"])
def test_a_worker_whose_thread_dies_hands_back_its_messages_and_exits_non_zero(stack, thread):
    tasks = stack(visibility=30)
    running = process_jobs.nap.enqueue(30)
    worker = tasks.worker("--concurrency", "4")
    worker.wait_for(rf"job=nap id={running.id} .* started")
    process_jobs.kill_thread.enqueue(thread)

    assert worker.wait() == 1, worker.output()
    assert any(f"thread={thread} died" in line for line in worker.stdout), worker.output()
    assert any(f"sqs_worker stopped: thread {thread} died: ThreadKilled" in line
               for line in worker.stderr), worker.output()
    # Handed back, visible at once: not hidden for the 30 s visibility timeout.
    assert running.id in tasks.visible_ids()


def test_make_runs_worker_is_started_again_after_a_thread_dies_and_stops_on_ctrl_c(stack):
    tasks = stack(visibility=30)
    env = {**tasks.env,
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=RUN_TIMEOUT)
    supervised = ManageProcess([], env, command=["bin/start-worker"])
    tasks.processes.append(supervised)
    supervised.wait_for(r"starting queues=")
    process_jobs.kill_thread.enqueue("heartbeat")
    supervised.wait_for(r"thread=heartbeat died")

    # Only a worker started again can run it: the first one stops receiving as its thread
    # dies, and hands back at once what a receive in flight brings it (kept, the message
    # would stay hidden for the 30 s visibility timeout).
    restarted = process_jobs.nap.enqueue(0)
    wait_for_status(restarted, TaskResultStatus.SUCCESSFUL, timeout=20)
    assert any("sqs_worker exited with status 1; starting it again" in line
               for line in supervised.stderr), supervised.output()
    # Ctrl-C under honcho: SIGINT to the whole process group, the loop ends with the worker.
    os.killpg(supervised.pid, signal.SIGINT)
    assert supervised.wait() == 0, supervised.output()


def test_sqs_worker_on_a_scaled_in_instance_drains_completes_its_lifecycle_action_and_exits_0(
        stack, scaling_group):
    """As in production: the hook named by a setting, the group asked of Auto Scaling, the
    instance metadata at botocore's endpoint variable."""
    tasks = stack(visibility=60, grace=20)
    tasks.env.update({
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": scaling_group.metadata.base_url,
        "STRATUS_WORKER_LIFECYCLE_HOOK": scaling_group.hook,
        "STRATUS_WORKER_LIFECYCLE_POLL": "0.2",
    })
    running = process_jobs.nap.enqueue(2)
    worker = tasks.worker()
    worker.wait_for(rf"job=nap id={running.id} .* started")

    scaling_group.scale_in()
    worker.wait_for(r"lifecycle=terminating hook=drain-worker: draining")
    assert worker.wait() == 0, worker.output()
    worker.wait_for(rf"lifecycle=completed hook=drain-worker group={scaling_group.name} "
                    rf"instance={scaling_group.instance_id} result=CONTINUE")
    running.refresh()
    assert (running.status, running.return_value) == (TaskResultStatus.SUCCESSFUL, 2)
    assert scaling_group.lifecycle_state() is None


def test_sqs_worker_with_a_lifecycle_hook_and_no_metadata_service_keeps_working(stack):
    tasks = stack()
    tasks.env.update({
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": closed_port_url(),
        "STRATUS_WORKER_LIFECYCLE_HOOK": "drain-worker",
        "STRATUS_WORKER_LIFECYCLE_POLL": "0.2",
    })
    results = [jobs.add.enqueue(n, 1) for n in range(3)]
    worker = tasks.worker("--batch")
    assert worker.wait() == 0, worker.output()
    assert worker.output().count("lifecycle=unknown") == 1, worker.output()
    for result in results:
        wait_for_status(result, TaskResultStatus.SUCCESSFUL)
