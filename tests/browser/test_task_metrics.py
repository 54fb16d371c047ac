"""The admin's task metrics page in Chromium: reached from the task queues page, readable at
a laptop's width and a phone's (tables scroll inside the page, never the page sideways)."""

import time
import uuid

import pytest

from storage_backends.tasks.metrics import records
from storage_backends.tasks.metrics.collector import Collector
from tests.tasks import jobs

pytestmark = pytest.mark.django_db(transaction=True)

USERNAME, PASSWORD = "operator", "a-long-enough-password-1"


def plant_silent_worker(tasks):
    """A report of a worker that stopped reporting five minutes ago."""
    queues = tuple(tasks.config.sqs_names())
    collector = Collector()
    collector.ran(tasks.config.sqs_name("default"), "tests.tasks.jobs.add", "succeeded", 0.4,
                  wait_seconds=12)
    taken = collector.take_interval()
    at = time.time() - 300
    worker = f"ip-10-0-3-17-4242-{uuid.uuid4().hex[:4]}"
    tasks.metrics.write(worker, records.document(
        worker=worker, started=at - 3600, at=at, interval=15, stopped=False, queues=queues,
        concurrency=10, running=2, processed=1, series=taken.series,
        longest_wait=taken.longest_wait), time.time())
    return worker


def test_an_operator_reads_the_task_metrics_from_the_queues_page(
        page, django_user_model, tasks, run_worker, screenshots):
    django_user_model.objects.create_superuser(USERNAME, password=PASSWORD)
    for n in range(5):
        jobs.add.enqueue(n, n)
    jobs.fails_once_only.enqueue(f"browser-{uuid.uuid4().hex}")
    run_worker()
    silent = plant_silent_worker(tasks)
    jobs.add.enqueue(9, 9)  # waiting: no worker runs now
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)

    page.goto("/admin/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto("/admin/storage_backends/taskqueue/")
    page.click("#metrics-link")
    page.wait_for_selector("#metrics-tasks")

    added = page.locator(".metrics-task[data-task='tests.tasks.jobs.add']")
    assert added.locator(".succeeded").inner_text() == "6"  # 5 here, 1 by the silent worker
    failing = page.locator(".metrics-task[data-task='tests.tasks.jobs.fails_once_only']")
    assert failing.locator(".failed").inner_text() == "1"
    default = page.locator(f".metrics-queue[data-queue='{tasks.config.sqs_name('default')}']")
    assert default.locator(".visible").inner_text() == "1"
    assert page.locator(f".metrics-worker[data-worker='{silent}'] .state").inner_text() \
        == "silent"
    screenshots(page, "admin-task-metrics")

    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert errors == []
