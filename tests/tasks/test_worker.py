"""The worker, in this process: running tasks, retries, dead letters, duplicates, priorities,
deferral, S3 offload, results, signals, pruning and its call budget.

Each test drains its own freshly provisioned queues with `run_worker` (batch mode), or, where
a task only becomes due later, runs a worker in a thread until what it waits for happens.
"""

import json
import logging
import random
import re
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.crypto import get_random_string

from storage_backends import aws
from storage_backends.provisioning import Provisioner
from storage_backends.tasks import messages, options
from storage_backends.tasks.messages import MAX_MESSAGE_BYTES, Payload
from storage_backends.tasks.queues import REASON
from storage_backends.tasks.results import epoch
from storage_backends.tasks.worker import Worker, heartbeat, outcomes, settling
from tests.tasks import jobs
from tests.tasks.calls import aws_calls
from tests.tasks.stores import READ_MANY, WRITE_MANY, WRITE_ONE, on_both_stores

#: Seconds a test waits for a worker in a thread to do what it expects.
DEADLINE = 30


# -- helpers --------------------------------------------------------------------------------
def queue_url(tasks, queue="default", band=""):
    return tasks.sqs.url(tasks.config.sqs_name(queue, band))


def left_in(tasks, queue="default", band=""):
    """Messages an SQS queue still holds: visible, in flight or delayed."""
    return sum(tasks.sqs.counts(tasks.config.sqs_name(queue, band)).values())


def dead_letters(tasks, queue="default", band=""):
    """(body, reason) of each message on a queue's dead-letter queue."""
    sqs = tasks.sqs.sqs
    url = tasks.sqs.dead_letter_url(tasks.config.sqs_name(queue, band))
    found = []
    while True:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=60, MessageAttributeNames=["All"])
        if not received.get("Messages"):
            return found
        found += [(m["Body"], m["MessageAttributes"][REASON]["StringValue"])
                  for m in received["Messages"]]


def send_raw(tasks, body, queue="default"):
    """Put a message body on the task queue with plain boto3, as any SQS client could."""
    tasks.sqs.sqs.send_message(QueueUrl=queue_url(tasks, queue), MessageBody=body)


def body_of(result):
    """The message body the backend sent for an enqueued task (signing is deterministic)."""
    return messages.encode(Payload(
        id=result.id, task_path=result.task.module_path, backend=result.backend,
        queue_name=result.task.queue_name, priority=result.task.priority, args=result.args,
        kwargs=result.kwargs, enqueued_at=result.enqueued_at, run_after=result.task.run_after,
    ))


def signed(task_path="tests.tasks.jobs.remember", args=("bad", 1)):
    """A correctly signed message body for a task path, as the backend would send it."""
    return messages.encode(Payload(
        id=get_random_string(32), task_path=task_path, backend="default",
        queue_name="default", priority=0, args=list(args), kwargs={},
        enqueued_at=timezone.now(),
    ))


def tampered():
    envelope = json.loads(signed())
    envelope["payload"] = envelope["payload"].replace('"bad"', '"evil"')
    return json.dumps(envelope)


def with_version(version):
    return json.dumps({**json.loads(signed()), "v": version})


def eventually(condition, message, timeout=DEADLINE):
    """Poll `condition` until it is true; fail saying `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {message}")
        time.sleep(0.05)


@contextmanager
def worker_in_thread(tasks, **options):
    """A worker (not in batch mode) running in a thread while the block runs."""
    worker = Worker(tasks, **options)
    thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(DEADLINE)
    assert not thread.is_alive(), "the worker did not stop"


@contextmanager
def signals_received():
    """(signal, status, result id) for each task_started and task_finished, in order."""
    received = []

    def started(sender, task_result, **kwargs):
        received.append(("task_started", task_result.status, task_result.id))

    def finished(sender, task_result, **kwargs):
        received.append(("task_finished", task_result.status, task_result.id))

    task_started.connect(started)
    task_finished.connect(finished)
    try:
        yield received
    finally:
        task_started.disconnect(started)
        task_finished.disconnect(finished)


# -- running --------------------------------------------------------------------------------
def test_a_task_runs_and_its_return_value_is_stored(tasks, run_worker):
    result = jobs.add.enqueue(2, 3)
    run_worker()
    assert tasks.get_result(result.id).return_value == 5


def test_a_coroutine_task_runs_and_its_return_value_is_stored(tasks, run_worker):
    result = jobs.async_double.enqueue("async", 21)
    run_worker()
    assert tasks.get_result(result.id).return_value == 42
    assert jobs.calls["async"] == [42]


@on_both_stores
def test_a_finished_result_has_its_times_worker_and_arguments(tasks, run_worker):
    result = jobs.remember.enqueue("times", value={"a": [1]})
    worker = run_worker(worker_id="worker-under-test")
    found = tasks.get_result(result.id)
    assert found.status == TaskResultStatus.SUCCESSFUL
    assert found.worker_ids == [worker.worker_id] == ["worker-under-test"]
    assert found.enqueued_at <= found.started_at <= found.last_attempted_at <= found.finished_at
    assert (found.args, found.kwargs, found.errors) == (["times"], {"value": {"a": [1]}}, [])
    assert found.return_value == {"a": [1]}


def test_refresh_brings_an_enqueued_result_up_to_date(tasks, run_worker):
    result = jobs.add.enqueue(20, 22)
    run_worker()
    assert result.status == TaskResultStatus.READY
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42
    assert result.attempts == 1


def test_task_started_and_task_finished_fire_with_running_and_successful(tasks, run_worker):
    result = jobs.add.enqueue(1, 1)
    with signals_received() as received:
        run_worker()
    assert received == [("task_started", TaskResultStatus.RUNNING, result.id),
                        ("task_finished", TaskResultStatus.SUCCESSFUL, result.id)]


def test_task_finished_fires_with_failed_for_a_last_failed_attempt(tasks, run_worker):
    result = jobs.fails_once_only.enqueue("signals")
    with signals_received() as received:
        run_worker()
    assert received == [("task_started", TaskResultStatus.RUNNING, result.id),
                        ("task_finished", TaskResultStatus.FAILED, result.id)]


def test_a_signal_receiver_that_raises_does_not_keep_the_outcome_from_being_written(
        tasks, run_worker):
    def broken(sender, task_result, **kwargs):
        raise RuntimeError("a receiver broke")

    task_started.connect(broken)
    task_finished.connect(broken)
    try:
        result = jobs.add.enqueue(1, 2)
        run_worker()
    finally:
        task_started.disconnect(broken)
        task_finished.disconnect(broken)
    assert tasks.get_result(result.id).return_value == 3
    assert left_in(tasks) == 0


# -- failures and retries -------------------------------------------------------------------
class TestFailures:
    """Retries come back at once (RETRY_DELAY 0), so that these tests take no time."""

    @pytest.fixture
    def task_options(self, task_options):
        return {**task_options, "RETRY_DELAY": 0}

    def test_a_task_with_context_sees_its_attempt_number(self, tasks, run_worker):
        result = jobs.attempt_until.enqueue("attempts", 3)
        run_worker()
        assert jobs.calls["attempts"] == [1, 2, 3]
        assert tasks.get_result(result.id).return_value == 3

    @on_both_stores
    def test_a_task_that_fails_twice_succeeds_on_its_third_attempt(self, tasks, run_worker):
        result = jobs.fail_until.enqueue("retried", 3)
        run_worker()
        found = tasks.get_result(result.id)
        assert found.status == TaskResultStatus.SUCCESSFUL
        assert found.return_value == 3
        assert [e.exception_class_path for e in found.errors] == ["builtins.ValueError"] * 2
        assert "attempt 2 of retried fails" in found.errors[1].traceback
        assert len(found.worker_ids) == 3
        assert left_in(tasks) == 0

    def test_a_task_that_always_fails_is_failed_after_max_attempts(self, tasks, run_worker):
        result = jobs.always_fails.enqueue("doomed")
        run_worker()
        found = tasks.get_result(result.id)
        assert found.status == TaskResultStatus.FAILED
        assert len(jobs.calls["doomed"]) == 3 == found.attempts
        assert [e.exception_class_path for e in found.errors] == ["builtins.RuntimeError"] * 3
        assert all("RuntimeError: doomed always fails" in e.traceback for e in found.errors)
        assert found.errors[0].exception_class is RuntimeError
        with pytest.raises(ValueError, match="Task failed"):
            found.return_value

    def test_a_failed_task_is_dead_lettered_saying_why(self, tasks, run_worker):
        jobs.always_fails.enqueue("dead")
        run_worker()
        [(body, reason)] = dead_letters(tasks)
        assert reason == "failed after 3 attempt(s): RuntimeError: dead always fails"
        assert messages.decode(body).task_path == "tests.tasks.jobs.always_fails"
        assert left_in(tasks) == 0

    def test_a_tasks_own_max_attempts_is_honoured(self, tasks, run_worker):
        result = jobs.fails_once_only.enqueue("once")
        run_worker()
        assert len(jobs.calls["once"]) == 1
        assert tasks.get_result(result.id).status == TaskResultStatus.FAILED
        [(_body, reason)] = dead_letters(tasks)
        assert reason.startswith("failed after 1 attempt(s): RuntimeError")

    def test_a_return_value_that_is_not_json_fails_the_task(self, tasks, run_worker):
        result = jobs.returns_unserialisable.enqueue()
        run_worker()
        found = tasks.get_result(result.id)
        assert found.status == TaskResultStatus.FAILED
        assert found.errors[-1].exception_class_path == "builtins.TypeError"
        assert "TypeError: Unsupported type: <class 'object'>" in found.errors[-1].traceback


def test_retries_wait_longer_after_each_failed_attempt(tasks, run_worker):
    """RETRY_DELAY 1 and RETRY_DELAY_MAX 2 (the `tasks` defaults): the second attempt comes
    at least 1 s after the first, the third at least 2 s after the second."""
    jobs.fail_until.enqueue("backoff", 3)
    run_worker()
    first, second, third = jobs.calls["backoff"]
    assert second - first >= 0.9
    assert third - second >= 1.8


# -- bad messages ---------------------------------------------------------------------------
BAD_MESSAGES = {
    "garbage text": (lambda: "run rm -rf / please", "not JSON"),
    "bad JSON": (lambda: '{"v": 1, "id": "x", "payload": ', "not JSON"),
    "JSON that is not an object": (lambda: '["v", 1]', "the body is not a JSON object"),
    "an unknown version": (lambda: with_version(2), "unknown message version 2"),
    "a tampered payload": (tampered, "bad signature"),
    "an unknown task path": (lambda: signed("tests.tasks.jobs.no_such_task"),
                             "unknown task 'tests.tasks.jobs.no_such_task'"),
    "a path naming a non-Task": (lambda: signed("tests.tasks.jobs.record"),
                                 "'tests.tasks.jobs.record' is not a django.tasks Task"),
}


@pytest.mark.parametrize("kind", BAD_MESSAGES)
def test_a_bad_message_is_dead_lettered_and_the_worker_goes_on(tasks, run_worker, kind):
    make_body, reason = BAD_MESSAGES[kind]
    body = make_body()
    send_raw(tasks, body)
    good = jobs.remember.enqueue("good", "ran")
    run_worker()
    [(dead_body, dead_reason)] = dead_letters(tasks)
    assert dead_body == body
    assert reason in dead_reason
    assert "bad" not in jobs.calls
    assert tasks.get_result(good.id).status == TaskResultStatus.SUCCESSFUL
    assert left_in(tasks) == 0


# -- poison messages: whatever a body holds, it is dead-lettered and the worker goes on ----
def envelope_with(**fields):
    """A correctly signed body with some envelope fields replaced."""
    return json.dumps({**json.loads(signed()), **fields})


def garbage(size):
    """`size` characters SQS accepts, no structure to them (seeded: the same each run)."""
    chars = "".join(chr(c) for c in range(0x20, 0x800))
    return "".join(random.Random(size).choices(chars, k=size))


def pointer_to(settings, data):
    """A signed body whose payload is an S3 object holding `data` (None: no object)."""
    key = f"task-payloads/poison/{uuid.uuid4().hex}.json"
    if data is not None:
        aws.client("s3").put_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key, Body=data)
    envelope = json.loads(signed())
    text = envelope.pop("payload")
    return json.dumps({**envelope, "s3": key, "sig": messages._signer().signature(text)})


POISON = {
    "nested brackets (the audit's body)": (lambda s: "[" * 10000 + "]" * 10000,
                                           "it nests arrays or objects"),
    "an envelope nesting objects": (lambda s: '{"v": ' + '{"a":' * 5000 + "}" * 5001,
                                    "it nests arrays or objects"),
    "a number past the int-string limit": (lambda s: '{"v": ' + "9" * 5000 + "}", "not JSON"),
    "256 KiB of garbage": (lambda s: garbage(256 * 1024), "not JSON|nests arrays or objects"),
    "a version of the wrong type": (lambda s: envelope_with(v=True),
                                    "unknown message version: a bool"),
    "an id of the wrong type": (lambda s: envelope_with(id=5), "message has no id"),
    "a signature of the wrong type": (lambda s: envelope_with(sig=5), "unsigned message"),
    "a payload of the wrong type": (lambda s: envelope_with(payload=5), "message has no payload"),
    "a pointer of the wrong type": (lambda s: envelope_with(s3=5), "payload pointer is not text"),
    "a pointer to a missing object": (lambda s: pointer_to(s, None), "is gone"),
    "a pointer to an object that is not UTF-8": (lambda s: pointer_to(s, b"\xff\xfe{"),
                                                 "is not UTF-8 text"),
}


@pytest.mark.parametrize("kind", POISON)
def test_a_poison_message_is_dead_lettered_and_the_rest_of_its_batch_runs(tasks, settings,
                                                                         kind):
    make_body, reason = POISON[kind]
    body = make_body(settings)
    send_raw(tasks, body)
    good = [jobs.remember.enqueue("good", n) for n in range(3)]
    # In a thread, with a deadline: a receiver killed by the body would leave a batch worker
    # waiting for ever.
    with worker_in_thread(tasks, concurrency=4, wait_seconds=0):
        eventually(lambda: all(tasks.get_result(r.id).status == TaskResultStatus.SUCCESSFUL
                               for r in good), "the good tasks ran")
        eventually(lambda: left_in(tasks) == 0, "the poison message left its queue")
        later = jobs.remember.enqueue("later", 1)
        eventually(lambda: tasks.get_result(later.id).status == TaskResultStatus.SUCCESSFUL,
                   "a task sent afterwards ran: the receiver lives")
    [(dead_body, dead_reason)] = dead_letters(tasks)
    assert dead_body == body
    assert re.search(reason, dead_reason), dead_reason
    assert "bad" not in jobs.calls


def test_a_body_that_fills_sqs_limit_is_dead_lettered_cut_to_fit_its_reason(tasks):
    body = "x" * MAX_MESSAGE_BYTES
    send_raw(tasks, body)
    with worker_in_thread(tasks, wait_seconds=0):
        eventually(lambda: left_in(tasks) == 0, "the message left its queue")
    [(dead_body, dead_reason)] = dead_letters(tasks)
    assert dead_reason.startswith("not JSON")
    assert dead_reason.endswith("bytes to fit)")
    assert body.startswith(dead_body) and len(dead_body) > MAX_MESSAGE_BYTES - 10_000


@on_both_stores
def test_a_garbage_result_record_dead_letters_its_message_alone(tasks, run_worker):
    """A record in the shared results domain is input too: one whose worker_ids is not a
    list makes that message fail to start, not the receiver."""
    corrupt = jobs.remember.enqueue("corrupt", 1)
    tasks.results.put(corrupt.id, {"worker_ids": "{not json"})
    others = [jobs.remember.enqueue("others", n) for n in range(3)]
    run_worker()
    [(body, reason)] = dead_letters(tasks)
    assert json.loads(body)["id"] == corrupt.id
    assert reason.startswith("the worker could not start it: JSONDecodeError")
    assert "corrupt" not in jobs.calls
    assert sorted(jobs.calls["others"]) == [0, 1, 2]
    assert all(tasks.get_result(r.id).status == TaskResultStatus.SUCCESSFUL for r in others)


@on_both_stores
def test_a_running_record_with_a_garbage_lease_dead_letters_its_message_alone(tasks,
                                                                              run_worker):
    corrupt = jobs.remember.enqueue("corrupt", 1)
    tasks.results.put(corrupt.id, {"status": "RUNNING", "lease": "zzzz"})
    others = [jobs.remember.enqueue("others", n) for n in range(3)]
    run_worker()
    [(body, reason)] = dead_letters(tasks)
    assert json.loads(body)["id"] == corrupt.id
    assert reason.startswith("the worker could not read its result record: ValueError")
    assert sorted(jobs.calls["others"]) == [0, 1, 2]
    assert all(tasks.get_result(r.id).status == TaskResultStatus.SUCCESSFUL for r in others)


def test_a_task_whose_exception_cannot_be_printed_is_still_failed_and_dead_lettered(
        tasks, run_worker):
    result = jobs.fails_unprintably.enqueue()
    run_worker()
    assert tasks.get_result(result.id).status == TaskResultStatus.FAILED
    [(_body, reason)] = dead_letters(tasks)
    assert reason == ("failed after 1 attempt(s): Unprintable: "
                      "<str() of the exception failed>")
    assert left_in(tasks) == 0


def test_a_fault_while_running_one_delivery_hands_it_back_alone_and_it_runs_again(tasks):
    """send_robust passes on what is not an Exception: a task_started receiver's SystemExit
    happens before the task runs, outside what counts as the task's own failure."""
    faults = []

    def exits_once(sender, task_result, **kwargs):
        if not faults and task_result.args == ["faulty", 1]:
            faults.append(task_result.id)
            raise SystemExit("a signal receiver exits")

    task_started.connect(exits_once)
    try:
        faulty = jobs.remember.enqueue("faulty", 1)
        others = [jobs.remember.enqueue("others", n) for n in range(3)]
        with worker_in_thread(tasks, wait_seconds=0):
            eventually(lambda: all(tasks.get_result(r.id).status == TaskResultStatus.SUCCESSFUL
                                   for r in others), "the rest of the batch ran")
            eventually(lambda: tasks.get_result(faulty.id).status
                       == TaskResultStatus.SUCCESSFUL, "the faulty delivery came back and ran")
    finally:
        task_started.disconnect(exits_once)
    assert faults == [faulty.id]
    assert jobs.calls["faulty"] == [1]
    assert left_in(tasks) == 0


@pytest.mark.parametrize("results_store", ["simpledb"])  # reads SimpleDB's write parameters
def test_a_task_that_has_run_is_not_marked_running_while_its_outcome_waits(tasks, monkeypatch):
    # The flusher waits for the held task's outcome to join the quick one's, long enough for
    # the marker to see the quick one in the worker's hands for over a quarter of a second.
    monkeypatch.setattr(outcomes, "FLUSH_GATHER", 1.0)
    written = []

    def record_statuses(params, **kwargs):
        written.extend((item["Name"], attribute["Value"]) for item in params["Items"]
                       for attribute in item["Attributes"] if attribute["Name"] == "status")

    client = tasks.results.client
    event = "before-parameter-build.simpledb.BatchPutAttributes"
    client.meta.events.register(event, record_statuses)
    jobs.release.clear()
    try:
        quick, held = jobs.noop.enqueue(), jobs.held.enqueue("marks", DEADLINE)
        with worker_in_thread(tasks, wait_seconds=0):
            eventually(lambda: tasks.get_result(quick.id).status == TaskResultStatus.SUCCESSFUL,
                       "the quick task's outcome was written")
            jobs.release.set()
    finally:
        jobs.release.set()
        client.meta.events.unregister(event, record_statuses)
    assert [status for name, status in written if name == quick.id] == ["SUCCESSFUL"]
    assert (held.id, "RUNNING") in written


# -- duplicates -----------------------------------------------------------------------------
@on_both_stores
class TestDuplicates:
    """A short visibility timeout: a duplicate handed back comes back within 2 s."""

    @pytest.fixture
    def task_options(self, task_options):
        return {**task_options, "VISIBILITY_TIMEOUT": 2}

    def test_a_message_delivered_twice_runs_its_task_once(self, tasks, run_worker):
        result = jobs.remember.enqueue("twice", 1)
        send_raw(tasks, body_of(result))
        run_worker()
        assert jobs.calls["twice"] == [1]
        assert tasks.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
        assert left_in(tasks) == 0

    def test_a_copy_received_while_its_task_runs_in_the_same_worker_does_not_run_it_again(
            self, tasks, monkeypatch, caplog):
        # No RUNNING mark while the task runs, so the result store still says READY when
        # the copy is checked: only the worker itself can tell that it runs the task.
        monkeypatch.setattr(heartbeat, "RUNNING_MARK_AFTER", 3600)
        caplog.set_level(logging.INFO, logger="storage_backends.tasks.worker")
        jobs.release.clear()
        result = jobs.held.enqueue("copy", DEADLINE)
        try:
            with worker_in_thread(tasks, wait_seconds=0):
                eventually(lambda: jobs.calls.get("copy") == ["started"], "the task started")
                send_raw(tasks, body_of(result))  # SQS delivers a second copy meanwhile
                eventually(lambda: len(jobs.calls["copy"]) > 1 or any(
                    "second copies" in r.getMessage() for r in caplog.records),
                    "the copy was received")
                jobs.release.set()
                eventually(lambda: left_in(tasks) == 0, "both copies were deleted")
        finally:
            jobs.release.set()
        assert jobs.calls["copy"] == ["started"]
        assert tasks.get_result(result.id).status == TaskResultStatus.SUCCESSFUL

    def test_a_redelivered_message_of_a_finished_task_is_deleted_without_running(
            self, tasks, run_worker):
        result = jobs.remember.enqueue("again", 1)
        run_worker()
        send_raw(tasks, body_of(result))
        run_worker()
        assert jobs.calls["again"] == [1]
        assert left_in(tasks) == 0
        assert tasks.get_result(result.id).attempts == 1


# -- which tasks, in which order --------------------------------------------------------------
def test_higher_priority_tasks_run_first(tasks, run_worker):
    for n in range(3):
        jobs.remember.using(priority=0).enqueue("order", f"low-{n}")
    for n in range(3):
        jobs.remember.using(priority=10).enqueue("order", f"high-{n}")
    assert left_in(tasks, band="high") == 3
    run_worker(concurrency=1)
    assert sorted(jobs.calls["order"][:3]) == ["high-0", "high-1", "high-2"]
    assert sorted(jobs.calls["order"][3:]) == ["low-0", "low-1", "low-2"]


def test_a_worker_runs_only_the_queues_it_is_given(tasks, run_worker):
    jobs.remember.enqueue("queues", "default")
    jobs.remember.using(queue_name="other").enqueue("queues", "other")
    run_worker(queue_names=["other"])
    assert jobs.calls["queues"] == ["other"]
    assert left_in(tasks, "default") == 1


def test_a_worker_refuses_a_queue_its_backend_does_not_have(tasks):
    with pytest.raises(ValueError, match="unknown queue.*nowhere; the backend has default, other"):
        Worker(tasks, queue_names=["nowhere"])


def test_a_worker_stops_after_max_tasks(tasks, run_worker):
    tasks.enqueue_many(jobs.remember, [(("limited", n), {}) for n in range(5)])
    worker = run_worker(max_tasks=2)
    assert worker.processed == 2
    assert len(jobs.calls["limited"]) == 2
    assert left_in(tasks) == 3


def test_a_task_deferred_beyond_sqs_longest_delay_is_sent_again_and_runs_after_run_after(
        tasks, monkeypatch, caplog):
    """Time controlled: SQS's longest delay made 1 s, run_after 3 s away."""
    monkeypatch.setattr(options, "MAX_DELAY_SECONDS", 1)
    caplog.set_level(logging.INFO, logger="storage_backends.tasks.worker")
    run_after = timezone.now() + timedelta(seconds=3)
    result = jobs.record_time.using(run_after=run_after).enqueue("deferred")
    with worker_in_thread(tasks, wait_seconds=1):
        eventually(lambda: "deferred" in jobs.calls, "the deferred task ran")
        eventually(lambda: tasks.get_result(result.id).is_finished, "its result is stored")
    [ran_at] = jobs.calls["deferred"]
    assert ran_at >= run_after.timestamp()
    deferrals = [r for r in caplog.records if f"deferred id={result.id}" in r.getMessage()]
    assert deferrals, "the worker logs each time it sends the message again"
    assert tasks.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
    assert left_in(tasks) == 0


# -- large payloads and results -----------------------------------------------------------------
def test_arguments_larger_than_a_message_run_from_s3_and_their_object_is_deleted(
        tasks, run_worker, settings):
    s3 = aws.client("s3")
    result = jobs.echo_size.enqueue("x" * MAX_MESSAGE_BYTES)
    folder = f"{tasks.config.payload_prefix}{result.id}/"
    assert s3.list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET, Prefix=folder)["KeyCount"] == 1
    run_worker()
    assert tasks.get_result(result.id).return_value == MAX_MESSAGE_BYTES
    assert s3.list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET, Prefix=folder)["KeyCount"] == 0


@on_both_stores
def test_a_return_value_larger_than_an_item_is_stored_in_s3_and_read_back(tasks, run_worker):
    result = jobs.random_text.enqueue("large", 600_000)
    run_worker()
    assert tasks.results.record(result.id)["vs3"].startswith(
        f"{tasks.config.payload_prefix}results/")
    [returned] = jobs.calls["large"]
    assert tasks.get_result(result.id).return_value == returned


# -- pruning ----------------------------------------------------------------------------------
@on_both_stores
class TestPruning:
    """Results in a domain (or table) of their own, kept for RESULT_RETENTION = 60 s."""

    @pytest.fixture
    def task_options(self, task_options, results_store):
        name = f"t{uuid.uuid4().hex[:10]}-results"
        if results_store == "dynamodb":
            Provisioner().ensure_table(name)
            yield {**task_options, "RESULTS_TABLE": name, "RESULT_RETENTION": 60}
            aws.client("dynamodb").delete_table(TableName=name)
        else:
            Provisioner().ensure_domain(name)
            yield {**task_options, "RESULTS_DOMAIN": name, "RESULT_RETENTION": 60}
            aws.client("sdb").delete_domain(DomainName=name)

    def test_results_are_pruned_once_past_their_retention(self, tasks, run_worker):
        results = [jobs.add.enqueue(n, n) for n in range(3)]
        run_worker()
        assert tasks.results.prune() == 0
        assert tasks.results.prune(now=time.time() + 120) == 3
        for result in results:
            with pytest.raises(TaskResultDoesNotExist):
                tasks.get_result(result.id)

    def test_pruning_a_result_stored_in_s3_deletes_its_object(self, tasks, run_worker, settings):
        result = jobs.random_text.enqueue("pruned", 600_000)
        run_worker()
        key = tasks.results.record(result.id)["vs3"]
        assert tasks.results.prune(now=time.time() + 120) == 1
        listing = aws.client("s3").list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                                   Prefix=key)
        assert listing["KeyCount"] == 0

    def test_prune_task_results_deletes_expired_results_and_reports_the_count(
            self, tasks, run_worker):
        expired = [jobs.add.enqueue(n, n) for n in range(2)]
        kept = jobs.add.enqueue(9, 9)
        run_worker()
        for result in expired:
            tasks.results.put(result.id, {"expires": epoch(time.time() - 1)})
        out = StringIO()
        call_command("prune_task_results", stdout=out)
        assert out.getvalue() == (f"tasks default: deleted 2 expired results from "
                                  f"{tasks.results.location}\n")
        for result in expired:
            with pytest.raises(TaskResultDoesNotExist):
                tasks.get_result(result.id)
        assert tasks.get_result(kept.id).return_value == 18


# -- call budget ------------------------------------------------------------------------------
@on_both_stores
class TestCallBudget:
    """One priority band and one queue: each extra band costs one ReceiveMessage per batch
    (polling the higher bands first is how priorities work), which is not what is measured
    here: how well the worker batches."""

    @pytest.fixture
    def task_options(self, task_options):
        return {**task_options, "PRIORITY_BANDS": {"": -100}}

    def test_draining_200_tasks_takes_at_most_a_quarter_sqs_call_per_task(
            self, tasks, run_worker, results_store):
        tasks.enqueue_many(jobs.noop, [((), {})] * 200)
        with aws_calls(tasks) as calls:
            worker = run_worker(concurrency=40, queue_names=["default"])
        assert worker.processed == 200
        # A receive of 10 and a delete of 10 make 0.2 a task. Not counted: the drain's end,
        # whatever the number of tasks (each of the 4 receivers' last, empty receive, and
        # batch mode's looks at the queues' counts).
        sqs = calls.of("sqs")
        ending = 4 + sqs.count("GetQueueAttributes")
        assert len(sqs) - ending <= 0.25 * 200, sqs

    def test_finished_tasks_messages_are_deleted_ten_to_a_call(
            self, tasks, run_worker, results_store, monkeypatch):
        # Gathered across outcome batches. A batch left short goes after DELETE_LINGER,
        # which a loaded machine's slow flushes can reach: lengthened here, so that what is
        # counted is the gathering, not how fast this machine is today.
        monkeypatch.setattr(settling, "DELETE_LINGER", DEADLINE)
        tasks.enqueue_many(jobs.noop, [((), {})] * 200)
        with aws_calls(tasks) as calls:
            run_worker(concurrency=40, queue_names=["default"])
        assert calls.of("sqs").count("DeleteMessageBatch") <= 0.11 * 200, calls.of("sqs")

    def test_draining_200_tasks_reads_and_writes_results_in_batches(
            self, tasks, run_worker, results_store):
        tasks.enqueue_many(jobs.noop, [((), {})] * 200)
        with aws_calls(tasks) as calls:
            run_worker(concurrency=40, queue_names=["default"])
        results = calls.of("results")
        assert set(results) == {READ_MANY[results_store], WRITE_MANY[results_store]}, results
        assert results.count(READ_MANY[results_store]) <= 0.15 * 200, results
        assert results.count(WRITE_MANY[results_store]) <= 0.1 * 200, results


@pytest.mark.parametrize("results_store", ["simpledb"])  # a SimpleDB write sets what it names
def test_the_outcome_of_a_quick_task_that_returns_none_writes_only_what_changed(
        tasks, run_worker):
    jobs.noop.enqueue()
    written = []

    def record_attributes(params, **kwargs):
        written.extend({a["Name"] for a in item["Attributes"]} for item in params["Items"])

    client = tasks.results.client
    event = "before-parameter-build.simpledb.BatchPutAttributes"
    client.meta.events.register(event, record_attributes)
    try:
        run_worker()
    finally:
        client.meta.events.unregister(event, record_attributes)
    # Not its document (unchanged since enqueue), nor a message id (never marked RUNNING).
    assert written == [{"status", "started_at", "last_attempted_at", "worker_ids", "lease",
                        "finished_at", "expires"}]
