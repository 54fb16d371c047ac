"""Three real `manage.py sqs_worker` processes, each running the scheduler, with a schedule
every second: each slot is enqueued by exactly one of them and runs exactly once."""

import os
import re
import signal
import time
import uuid
from collections import Counter

import pytest
from django.tasks import TaskResultStatus, task_backends

from storage_backends import resources
from storage_backends.provisioning import Provisioner
from storage_backends.tasks.schedules.claims import Claim, claim_store
from tests.fixtures.state_store import use_state_store
from tests.tasks.test_worker_process import START_TIMEOUT, ManageProcess

pytestmark = pytest.mark.slow

#: Slots seen enqueued and run before the workers are stopped.
SLOTS = 5
#: Seconds the test waits for them.
RUN_TIMEOUT = 90
ENQUEUED = re.compile(r"worker=(\S+) schedule=(\S+) slot=(\d+) task=\S+ id=(\w+) enqueued")


def enqueued(workers, name):
    """(slot, worker, result id) of every enqueue the workers have logged for `name`."""
    found = []
    for worker in workers:
        for line in list(worker.stdout):
            match = ENQUEUED.search(line)
            if match and match.group(2) == name:
                found.append((int(match.group(3)), match.group(1), match.group(4)))
    return sorted(found)


def runs(note):
    """The result id of each run so far, one per line the task appended."""
    return [line.split()[0] for line in note.read_text().splitlines()] if note.exists() else []


def worker_env(store, settings, tmp_path, name, note):
    """The environment of workers on fresh queues, with the schedule `name` (and this
    process's settings.TASKS on the same queues, provisioned)."""
    use_state_store(settings, store)
    prefix = f"s{uuid.uuid4().hex[:10]}-"
    tasks = settings.TASKS["default"]
    settings.TASKS = {"default": {**tasks, "OPTIONS": {
        **tasks["OPTIONS"], "QUEUE_PREFIX": prefix, "WAIT_SECONDS": 1,
        "VISIBILITY_TIMEOUT": 5}}}
    provisioner = Provisioner()
    for queue in resources.queues():
        provisioner.ensure_queue(queue)
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.schedules.worker_settings",
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}", "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1", "STRATUS_STATE_STORE": store,
            "STRATUS_SQS_QUEUE_PREFIX": prefix, "STRATUS_TASK_WAIT_SECONDS": "1",
            "STRATUS_TASK_VISIBILITY_TIMEOUT": "5", "STRATUS_TASK_SHUTDOWN_GRACE": "5",
            "TEST_SCHEDULE_NAME": name, "TEST_SCHEDULE_NOTE": str(note)}


@pytest.mark.parametrize("store", ["simpledb", "dynamodb"])
def test_three_workers_enqueue_each_slot_once_and_it_runs_once(
        store, settings, aws_env, tmp_path):
    name, note = f"every-second-{uuid.uuid4().hex[:8]}", tmp_path / "runs.txt"
    env = worker_env(store, settings, tmp_path, name, note)
    workers = [ManageProcess(["sqs_worker", "--worker-id", f"w{n}", "--concurrency", "2"], env)
               for n in range(3)]
    try:
        for worker in workers:
            worker.wait_for(r"scheduler starting", timeout=START_TIMEOUT)
        # Slots from here on are raced for by all three schedulers.
        first = int(time.time()) + 1
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            counted = [entry for entry in enqueued(workers, name) if entry[0] >= first]
            ran = set(runs(note))
            if len({slot for slot, _, _ in counted}) >= SLOTS and \
                    all(rid in ran for _, _, rid in counted[:SLOTS]):
                break
            assert time.monotonic() < deadline, "\n".join(w.output() for w in workers)
            time.sleep(0.1)  # polling other processes' output, with the deadline above
        for worker in workers:
            worker.signal(signal.SIGTERM)
        assert [worker.wait() for worker in workers] == [0, 0, 0], \
            "\n".join(w.output() for w in workers)
    finally:
        for worker in workers:
            worker.kill()

    every = enqueued(workers, name)
    by_slot = Counter(slot for slot, _, _ in every)
    assert [slot for slot, count in by_slot.items() if count > 1] == [], every
    run_counts = Counter(runs(note))
    assert [rid for rid, count in run_counts.items() if count > 1] == [], run_counts
    backend, claims = task_backends["default"], claim_store(task_backends["default"])
    for slot, _worker, rid in [e for e in every if e[0] >= first][:SLOTS]:
        assert run_counts[rid] == 1
        result = backend.get_result(rid)
        assert (result.status, len(result.worker_ids)) == (TaskResultStatus.SUCCESSFUL, 1)
        key = f"default/{name}@{slot:012d}"
        assert Claim.of(claims.get(key)).state == "enqueued"


def test_a_worker_with_no_schedules_runs_no_scheduler(settings, aws_env, tmp_path):
    env = worker_env("simpledb", settings, tmp_path, f"off-{uuid.uuid4().hex[:8]}",
                     tmp_path / "runs.txt")
    worker = ManageProcess(["sqs_worker", "--no-schedules"], env)
    try:
        worker.wait_for(r"worker=\S+ starting", timeout=START_TIMEOUT)
        worker.signal(signal.SIGTERM)
        assert worker.wait() == 0, worker.output()
    finally:
        worker.kill()
    # A scheduler logs that it starts before it looks at whether the worker stops.
    assert "scheduler" not in worker.output()
    assert not (tmp_path / "runs.txt").exists()
