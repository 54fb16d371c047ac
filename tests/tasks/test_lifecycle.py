"""The worker on an instance Auto Scaling terminates (a terminate lifecycle hook): it
drains as on SIGTERM, then completes the lifecycle action (storage_backends.tasks.lifecycle).

The group, its hook and CompleteLifecycleAction are moto's (with localaws's lifecycle
actions); the instance metadata is localaws's IMDS stand-in, flipped by `scale_in()`.
"""

import logging
import socket
import threading

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus

from storage_backends.tasks.lifecycle import InstanceMetadata, LifecycleHook
from storage_backends.tasks.worker import Worker
from storage_backends.tasks.worker.supervision import Control
from tests.fixtures.lifecycle import closed_port_url
from tests.tasks import jobs
from tests.tasks.test_worker import DEADLINE, eventually, left_in

LOGGER = "storage_backends.tasks.worker"


@pytest.fixture(autouse=True)
def released_at_the_end():
    """`held` tasks wait until the test ends, at the latest."""
    jobs.release.clear()
    yield
    jobs.release.set()


def hook_for(scaling_group, poll_seconds=0.05, **options):
    return LifecycleHook(scaling_group.hook, poll_seconds=poll_seconds,
                         metadata=InstanceMetadata(scaling_group.metadata.base_url), **options)


def start(worker):
    thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
    thread.start()
    return thread


def finished(thread):
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the worker did not stop"


def test_a_running_task_finishes_before_the_lifecycle_action_completes(tasks, scaling_group):
    running = jobs.held.enqueue("finishing", DEADLINE)
    hook = hook_for(scaling_group)
    worker = Worker(tasks, wait_seconds=0, shutdown_grace=DEADLINE, lifecycle=hook)
    thread = start(worker)
    eventually(lambda: "finishing" in jobs.calls, "the task started")

    scaling_group.scale_in()
    eventually(worker.control.stopping.is_set, "the worker drains")
    waiting = jobs.add.enqueue(1, 2)  # a draining worker receives nothing more
    assert scaling_group.lifecycle_state() == "Terminating:Wait"
    assert not hook.completed
    jobs.release.set()
    finished(thread)

    assert tasks.get_result(running.id).status == TaskResultStatus.SUCCESSFUL
    assert hook.completed
    assert scaling_group.lifecycle_state() is None  # released, hence terminated
    assert tasks.get_result(waiting.id).status == TaskResultStatus.READY
    assert left_in(tasks) == 1


def test_a_task_that_outlasts_the_grace_is_handed_back_then_the_action_completes(
        tasks, scaling_group):
    running = jobs.held.enqueue("outlasting", DEADLINE)
    hook = hook_for(scaling_group)
    worker = Worker(tasks, wait_seconds=0, shutdown_grace=0.2, lifecycle=hook)
    thread = start(worker)
    eventually(lambda: "outlasting" in jobs.calls, "the task started")

    scaling_group.scale_in()
    finished(thread)

    assert worker.abandoned_tasks == 1
    assert tasks.get_result(running.id).status != TaskResultStatus.SUCCESSFUL
    received = tasks.sqs.sqs.receive_message(
        QueueUrl=tasks.sqs.url(tasks.config.sqs_name("default")), WaitTimeSeconds=0)
    assert len(received.get("Messages", [])) == 1, "handed back: visible at once"
    assert hook.completed
    assert scaling_group.lifecycle_state() is None


def test_a_worker_stopped_by_sigterm_on_a_terminating_instance_completes_the_action(
        tasks, scaling_group):
    """A supervisor may signal the worker before the worker's next metadata poll."""
    hook = hook_for(scaling_group, poll_seconds=3600)
    worker = Worker(tasks, wait_seconds=0, lifecycle=hook)
    thread = start(worker)
    eventually(lambda: scaling_group.metadata.reads.get("autoscaling/target-lifecycle-state"),
               "the worker read its instance's state once (in service)")
    scaling_group.scale_in()
    worker.stop()
    finished(thread)
    assert hook.completed
    assert scaling_group.lifecycle_state() is None


def test_a_worker_on_an_instance_in_service_keeps_working_and_completes_nothing(
        tasks, scaling_group, run_worker):
    tasks.enqueue_many(jobs.remember, [(("in-service", n), {}) for n in range(3)])
    hook = hook_for(scaling_group)
    run_worker(lifecycle=hook)
    assert sorted(jobs.calls["in-service"]) == [0, 1, 2]
    assert not hook.completed
    assert scaling_group.lifecycle_state() == "InService"


def test_an_unreachable_metadata_service_is_not_terminating_and_is_logged_once(
        tasks, run_worker, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    tasks.enqueue_many(jobs.remember, [(("unreachable", n), {}) for n in range(3)])
    hook = LifecycleHook("drain-worker", poll_seconds=0.01,
                         metadata=InstanceMetadata(closed_port_url()))
    for _ in range(3):
        assert not hook.poll()
    run_worker(lifecycle=hook)
    assert sorted(jobs.calls["unreachable"]) == [0, 1, 2]
    assert not hook.completed
    warnings = [r for r in caplog.records if "lifecycle=unknown" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.parametrize("answer", [
    (200, b"Terminated" + b" " * 1000),  # oversized
    (200, b"Termin\xe4ted"),  # not ASCII
    (200, b"Terminated; and more"),  # not a lifecycle state
    (500, b"Terminated"),  # an error status
    (404, b""),
], ids=["oversized", "not-ascii", "not-a-state", "server-error", "missing"])
def test_a_garbled_target_lifecycle_state_is_taken_as_not_terminating(
        tasks, scaling_group, run_worker, answer):
    scaling_group.metadata.answers["autoscaling/target-lifecycle-state"] = answer
    jobs.remember.enqueue("garbled", 1)
    hook = hook_for(scaling_group)
    run_worker(lifecycle=hook)
    assert jobs.calls["garbled"] == [1]
    assert not hook.terminating and not hook.completed
    assert scaling_group.lifecycle_state() == "InService"


def test_a_metadata_service_that_never_answers_is_given_up_on(tasks):
    """Reads are bounded in time as well as in bytes: a silent service is "not terminating"."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        host, port = silent.getsockname()
        hook = LifecycleHook("drain-worker", metadata=InstanceMetadata(
            f"http://{host}:{port}", timeout=0.2))
        assert not hook.poll()


def test_a_garbled_instance_id_leaves_the_action_uncompleted(tasks, scaling_group, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    scaling_group.metadata.answers["instance-id"] = (200, b"../../etc")
    scaling_group.scale_in()
    hook = hook_for(scaling_group)
    assert not hook.finish()
    assert scaling_group.lifecycle_state() == "Terminating:Wait"
    assert any("lifecycle=complete-failed" in r.getMessage() for r in caplog.records)


def test_a_group_named_in_settings_is_the_one_completed(tasks, scaling_group):
    hook = hook_for(scaling_group, group=scaling_group.name)
    scaling_group.scale_in()
    assert hook.finish()
    assert scaling_group.lifecycle_state() is None


def test_a_wrong_group_named_in_settings_completes_nothing(tasks, scaling_group, caplog):
    caplog.set_level(logging.ERROR, logger=LOGGER)
    hook = hook_for(scaling_group, group="some-other-group")
    scaling_group.scale_in()
    assert not hook.finish()
    assert scaling_group.lifecycle_state() == "Terminating:Wait"
    assert any("ValidationError" in r.getMessage() for r in caplog.records)


# -- the command's options ------------------------------------------------------------------
@pytest.mark.parametrize("arguments, message", [
    (["--autoscaling-group", "workers"], "without a lifecycle hook"),
    (["--lifecycle-hook", "bad name!"], "lifecycle hook name"),
], ids=["group-without-hook", "bad-hook-name"])
def test_sqs_worker_refuses_bad_lifecycle_options(tasks, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("sqs_worker", "--batch", *arguments)


def test_sqs_worker_refuses_a_metadata_endpoint_botocore_refuses(tasks, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "not a url")
    with pytest.raises(CommandError, match="instance metadata endpoint"):
        call_command("sqs_worker", "--batch", "--lifecycle-hook", "drain-worker")


def test_a_sigterm_after_a_lifecycle_drain_is_still_a_first_stop():
    """So running tasks still get their grace period when a supervisor signals too."""
    control = Control()
    control.drain()
    control.stop()
    assert control.stopping.is_set() and not control.stop_now.is_set()
    control.stop()
    assert control.stop_now.is_set()


def test_lifecycle_hooks_are_off_by_default(settings):
    assert settings.STRATUS_WORKER_LIFECYCLE_HOOK == ""
