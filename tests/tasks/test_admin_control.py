"""The admin's result pages about a run: progress, time limit, cancel state, and Cancel."""

import pytest
from django.contrib.admin.models import LogEntry
from django.tasks import TaskResultStatus
from django.urls import reverse

from tests.tasks import jobs
from tests.tasks.test_admin import (  # noqa: F401 - a fixture
    RESULTS,
    grant,
    messages_of,
    result_url,
    staff_client,
)
from tests.tasks.test_worker import eventually, worker_in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def cancel_url(result_id):
    return reverse("admin:storage_backends_taskresultrecord_cancel", args=[result_id])


@pytest.fixture(autouse=True)
def released():
    jobs.release.clear()
    yield
    jobs.release.set()


def test_a_results_page_shows_the_progress_reported(admin_client, tasks, run_worker):
    result = jobs.reports_progress.enqueue("steps", 4)
    run_worker()
    content = admin_client.get(result_url(result.id)).content.decode()
    assert '<progress max="100" value="100">' in content
    assert "4 of 4 — step 4" in content


def test_the_results_list_shows_each_results_progress(admin_client, tasks, run_worker):
    reported = jobs.reports_progress.enqueue("steps", 4)
    silent = jobs.add.enqueue(1, 1)
    run_worker()
    rows = {row["id"]: row for row in admin_client.get(reverse(RESULTS)).context["rows"]}
    assert (rows[reported.id]["progress"], rows[silent.id]["progress"]) == ("100%", "")


def test_a_results_page_shows_its_tasks_time_limit(admin_client, tasks):
    limited, unlimited = jobs.overruns.enqueue("x", 1), jobs.add.enqueue(1, 1)
    assert "0.5 s per attempt" in admin_client.get(result_url(limited.id)).content.decode()
    page = admin_client.get(result_url(unlimited.id))
    assert page.context["time_limit"] is None


def test_cancel_on_a_queued_tasks_page_cancels_it(admin_client, tasks, django_user_model):
    result = jobs.add.enqueue(1, 1)
    assert admin_client.get(result_url(result.id)).context["can_cancel"]
    response = admin_client.post(cancel_url(result.id), follow=True)
    assert messages_of(response) == ["Cancelled: the task will not run."]
    result.refresh()
    assert (result.status, result.cancelled) == (TaskResultStatus.FAILED, True)
    assert "(cancelled " in response.content.decode()
    assert not response.context["can_cancel"]
    assert LogEntry.objects.filter(object_id=result.id,
                                   change_message="Cancel: cancelled").exists()


def test_cancel_on_a_running_tasks_page_asks_it_to_stop(admin_client, tasks):
    result = jobs.runs_until_cancelled.enqueue("admin", 60)
    with worker_in_thread(tasks, concurrency=1):
        eventually(lambda: result.refresh() or result.status == TaskResultStatus.RUNNING,
                   "the task is marked RUNNING")
        response = admin_client.post(cancel_url(result.id), follow=True)
        assert messages_of(response)[0].startswith("Cancel requested")
        assert "Requested: the worker asks the task to stop." in response.content.decode()
        eventually(lambda: result.refresh() or result.is_finished, "the task stopped")
    assert result.cancelled


def test_cancelling_a_finished_task_says_so(admin_client, tasks, run_worker):
    result = jobs.add.enqueue(1, 1)
    run_worker()
    assert not admin_client.get(result_url(result.id)).context["can_cancel"]
    response = admin_client.post(cancel_url(result.id), follow=True)
    assert messages_of(response) == ["Not cancelled: the task had already finished."]


def test_cancel_needs_the_change_permission(staff_client, tasks):  # noqa: F811
    result = jobs.add.enqueue(1, 1)
    grant(staff_client.user, "view_taskresultrecord")
    assert not staff_client.get(result_url(result.id)).context["can_cancel"]
    assert staff_client.post(cancel_url(result.id)).status_code == 403
    result.refresh()
    assert result.status == TaskResultStatus.READY


def test_cancel_is_a_post(admin_client, tasks):
    result = jobs.add.enqueue(1, 1)
    assert admin_client.get(cancel_url(result.id)).status_code == 405
