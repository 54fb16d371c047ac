"""The task commands in this process: `sqs_worker`, its argument checks, `prune_task_results`
refusals, and `provision_aws --check` on the task queues."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus

from storage_backends import aws
from tests.tasks import jobs


def sqs_worker(*args):
    out = StringIO()
    call_command("sqs_worker", *args, stdout=out)
    return out.getvalue()


def provision(*args):
    out = StringIO()
    call_command("provision_aws", *args, stdout=out)
    return out.getvalue()


def left_in(tasks, queue="default"):
    return sum(tasks.sqs.counts(tasks.config.sqs_name(queue)).values())


# -- sqs_worker -----------------------------------------------------------------------------
def test_sqs_worker_in_batch_mode_runs_the_tasks_and_exits(tasks):
    results = [jobs.add.enqueue(n, 1) for n in range(3)]
    sqs_worker("--batch", "--wait-seconds", "1")
    assert [tasks.get_result(r.id).return_value for r in results] == [1, 2, 3]
    assert left_in(tasks) == 0


def test_sqs_worker_records_the_worker_id_it_is_given(tasks):
    result = jobs.add.enqueue(1, 1)
    sqs_worker("--batch", "--wait-seconds", "1", "--worker-id", "cli-worker-1")
    assert tasks.get_result(result.id).worker_ids == ["cli-worker-1"]


def test_sqs_worker_works_only_on_the_queues_named(tasks):
    on_default = jobs.add.enqueue(1, 1)
    on_other = jobs.add.using(queue_name="other").enqueue(2, 2)
    sqs_worker("--batch", "--wait-seconds", "1", "--queue", "other")
    assert tasks.get_result(on_other.id).status == TaskResultStatus.SUCCESSFUL
    assert tasks.get_result(on_default.id).status == TaskResultStatus.READY


def test_sqs_worker_exits_after_max_tasks(tasks):
    tasks.enqueue_many(jobs.remember, [(("cli", n), {}) for n in range(3)])
    sqs_worker("--max-tasks", "1", "--wait-seconds", "1")
    assert len(jobs.calls["cli"]) == 1
    assert left_in(tasks) == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--concurrency", "0"], "argument --concurrency: must be at least 1, not 0"),
    (["--concurrency", "ten"], "argument --concurrency: 'ten' is not a whole number"),
    (["--max-tasks", "-1"], "argument --max-tasks: must be at least 1, not -1"),
    (["--wait-seconds", "21"], "argument --wait-seconds: must be from 0 to 20, not 21"),
    (["--wait-seconds", "-1"], "argument --wait-seconds: must be from 0 to 20, not -1"),
    (["--worker-id", ""], "argument --worker-id: must be 1 to 64 printable characters"),
    (["--worker-id", "w" * 65], "argument --worker-id: must be 1 to 64 printable characters"),
])
def test_sqs_worker_refuses_bad_arguments_saying_which(tasks, args, message):
    with pytest.raises(CommandError, match=message):
        sqs_worker("--batch", *args)


def test_sqs_worker_refuses_a_queue_the_backend_does_not_have(tasks):
    with pytest.raises(CommandError, match="unknown queue.*nowhere; the backend has default, "
                                           "other"):
        sqs_worker("--batch", "--queue", "default", "--queue", "nowhere")


def test_sqs_worker_refuses_an_unknown_backend_alias(tasks):
    with pytest.raises(CommandError, match=r"no TASKS backend 'elsewhere' \(there are: default\)"):
        sqs_worker("--batch", "--backend", "elsewhere")


def test_sqs_worker_refuses_a_backend_that_is_not_on_sqs(tasks, settings):
    settings.TASKS = {**settings.TASKS, "inline": {
        "BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    with pytest.raises(CommandError, match=r"TASKS\['inline'\] is ImmediateBackend, not an "
                                           r"SQSBackend"):
        sqs_worker("--batch", "--backend", "inline")


# -- prune_task_results -----------------------------------------------------------------------
def test_prune_task_results_refuses_an_unknown_backend_alias(tasks):
    with pytest.raises(CommandError, match="no TASKS backend 'elsewhere'"):
        call_command("prune_task_results", "--backend", "elsewhere", stdout=StringIO())


# -- provision_aws --check --------------------------------------------------------------------
def test_provision_check_passes_on_freshly_provisioned_task_queues(tasks):
    assert "All AWS resources are in place." in provision("--check")


def test_provision_check_reports_a_queue_whose_visibility_timeout_drifted(tasks):
    name = tasks.config.sqs_name("other", "high")
    aws.client("sqs").set_queue_attributes(QueueUrl=tasks.sqs.url(name),
                                           Attributes={"VisibilityTimeout": "30"})
    with pytest.raises(CommandError) as caught:
        provision("--check")
    assert f"queue {name} has VisibilityTimeout '30', not '5'" in str(caught.value)


def test_provision_repairs_a_queue_whose_visibility_timeout_drifted(tasks):
    name = tasks.config.sqs_name("default")
    aws.client("sqs").set_queue_attributes(QueueUrl=tasks.sqs.url(name),
                                           Attributes={"VisibilityTimeout": "30"})
    provision()
    assert "All AWS resources are in place." in provision("--check")
