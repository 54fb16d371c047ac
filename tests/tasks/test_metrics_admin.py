"""The admin's task metrics page, through Django's test client against the local stack."""

import time
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from storage_backends.tasks.metrics import records
from storage_backends.tasks.metrics.collector import Collector
from tests.fixtures.localaws import reset_aws_clients
from tests.tasks import jobs
from tests.tasks.stores import on_both_stores

pytestmark = pytest.mark.django_db(transaction=True)

METRICS = "admin:storage_backends_taskqueue_metrics"
QUEUES = "admin:storage_backends_taskqueue_changelist"


def page(client):
    response = client.get(reverse(METRICS))
    assert response.status_code == 200, response.content[:2000]
    return response


def row(rows, **match):
    [found] = [r for r in rows if all(r[key] == value for key, value in match.items())]
    return found


def test_the_task_queues_page_links_the_metrics_page(admin_client, tasks):
    content = admin_client.get(reverse(QUEUES)).content.decode()
    assert f'href="{reverse(METRICS)}"' in content


@on_both_stores
def test_the_page_shows_what_a_worker_ran_per_task(admin_client, tasks, run_worker):
    jobs.add.enqueue(1, 2)
    jobs.add.enqueue(2, 3)
    jobs.fails_once_only.enqueue(f"m-{uuid.uuid4().hex}")
    run_worker()
    response = page(admin_client)
    queue = tasks.config.sqs_name("default")
    added = row(response.context["tasks"], task="tests.tasks.jobs.add", queue=queue)
    assert (added["succeeded"], added["retried"], added["failed"]) == (2, 0, 0)
    assert all(value != "—" for value in added["run"] + added["wait"])
    failing = row(response.context["tasks"], task="tests.tasks.jobs.fails_once_only")
    assert (failing["failed"], failing["failure_rate"]) == (1, "100.0 %")
    assert b"tests.tasks.jobs.fails_once_only" in response.content


def test_the_page_shows_each_queues_counts_and_dead_letters(admin_client, tasks):
    name = tasks.config.sqs_name("default")
    tasks.sqs.send(name, "{}")
    tasks.sqs.dead_letter(name, "{}", "test")
    response = page(admin_client)
    queue = row(response.context["queues"], name=name)
    assert (queue["counts"]["visible"], queue["dead_letters"]) == (1, 1)
    dead_letters = reverse("admin:storage_backends_deadletter_queue", args=[name + "-dlq"])
    assert f'href="{dead_letters}"' in response.content.decode()


def test_the_page_lists_workers_with_their_state(admin_client, tasks):
    queues = tuple(tasks.config.sqs_names())
    now = time.time()
    for worker, at in (("alive", now), ("gone-quiet", now - 300)):
        collector = Collector()
        taken = collector.take_interval()
        tasks.metrics.write(f"{worker}-{queues[0]}", records.document(
            worker=f"{worker}-{queues[0]}", started=at - 60, at=at, interval=15,
            stopped=False, queues=queues, concurrency=8, running=3, processed=42,
            series=taken.series, longest_wait=taken.longest_wait), now)
    response = page(admin_client)
    workers = response.context["workers"]
    assert row(workers, id=f"alive-{queues[0]}")["state"] == "running"
    assert row(workers, id=f"gone-quiet-{queues[0]}")["state"] == "silent"
    assert response.context["running_workers"] == 1
    assert row(response.context["queues"], name=queues[0])["workers"] == 1
    assert b"worker-silent" in response.content


def test_the_page_needs_the_task_queues_view_permission(tasks, django_user_model):
    client = Client()
    user = django_user_model.objects.create_user(f"staff-{uuid.uuid4().hex[:6]}",
                                                 is_staff=True)
    client.force_login(user)
    assert client.get(reverse(METRICS)).status_code == 403
    user.user_permissions.add(Permission.objects.get(
        content_type__app_label="storage_backends", codename="view_taskqueue"))
    assert client.get(reverse(METRICS)).status_code == 200


def test_the_page_sends_anyone_not_staff_to_log_in(client, tasks):
    response = client.get(reverse(METRICS))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.fixture
def sqs_down(settings, tasks):
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "sqs": "http://127.0.0.1:9"}
    settings.AWS_MAX_ATTEMPTS = 1
    reset_aws_clients()
    settings.TASKS = {**settings.TASKS}
    yield
    reset_aws_clients()


def test_the_page_says_when_sqs_cannot_be_reached_and_still_shows_the_workers(
        admin_client, sqs_down):
    response = page(admin_client)
    assert b"SQS at http://127.0.0.1:9 cannot be reached" in response.content
    assert b"metrics-workers" in response.content
