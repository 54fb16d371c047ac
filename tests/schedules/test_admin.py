"""The admin's schedules page: each schedule with its task, repetition, zone, policy, last
run (linked to its result) and next run."""

import re
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from storage_backends.tasks.schedules import schedules_of, slots
from storage_backends.tasks.schedules.scheduler import Scheduler

pytestmark = pytest.mark.django_db(transaction=True)

SCHEDULES = "admin:storage_backends_taskschedule_changelist"


@pytest.fixture
def configured(task_options, request):
    """The `tasks` backend with these SCHEDULES (their claims' store provisioned)."""
    def configure(entries):
        task_options["SCHEDULES"] = entries
        request.getfixturevalue("claims")
        return request.getfixturevalue("tasks")
    return configure


def rows(response):
    assert response.status_code == 200, response.content[:2000]
    return {row["name"]: row for row in response.context["rows"]}


def test_the_admin_index_links_the_schedules_page(admin_client):
    content = admin_client.get("/admin/").content.decode()
    assert f'href="{reverse(SCHEDULES)}"' in content and "Task schedules" in content


def test_each_schedule_is_listed_with_its_task_repetition_zone_and_policy(admin_client,
                                                                          configured):
    configured({
        "nightly": {"TASK": "tests.tasks.jobs.noop", "CRON": "17 3 * * *",
                    "TIME_ZONE": "Europe/London", "CATCH_UP": "once"},
        "often": {"TASK": "tests.tasks.jobs.add", "INTERVAL": 30, "ARGS": [1, 2]},
    })
    listed = rows(admin_client.get(reverse(SCHEDULES)))
    assert [(row["task"], row["expression"], row["zone"], row["catch_up"])
            for row in listed.values()] == [
        ("tests.tasks.jobs.noop", "17 3 * * *", "Europe/London", "once"),
        ("tests.tasks.jobs.add", "every 30 s", "UTC", "skip")]


def test_the_next_run_is_shown_in_the_schedules_own_time_zone(admin_client, configured):
    configured({"nightly": {"TASK": "tests.tasks.jobs.noop", "CRON": "17 3 * * *",
                            "TIME_ZONE": "Europe/London"}})
    row = rows(admin_client.get(reverse(SCHEDULES)))["nightly"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 03:17:00 (GMT|BST)", row["next_run"])
    assert row["last_run"] is None


def test_the_last_run_links_to_its_result(admin_client, configured, clock):
    tasks = configured({"often": {"TASK": "tests.tasks.jobs.noop", "INTERVAL": 60}})
    [often] = schedules_of(tasks)
    clock.now = slots.latest(often, clock.now) + 1
    Scheduler(tasks, [often], "w-admin", clock=clock).tick(clock.now)

    response = admin_client.get(reverse(SCHEDULES))
    last = rows(response)["often"]["last_run"]
    assert last["slot"] == slots.as_datetime(slots.latest(often, clock.now)).strftime(
        "%Y-%m-%d %H:%M:%S UTC")
    assert (last["worker"], last["status"]) == ("w-admin", "READY")
    assert f'href="{last["url"]}"' in response.content.decode()
    result_page = admin_client.get(last["url"])
    assert result_page.status_code == 200 and last["result_id"] in result_page.content.decode()


def test_an_invalid_schedule_is_shown_with_what_is_wrong(admin_client, configured):
    configured({"broken": {"TASK": "tests.tasks.jobs.noop", "CRON": "every day"}})
    response = admin_client.get(reverse(SCHEDULES))
    assert response.status_code == 200
    assert "schedule &#x27;broken&#x27;: CRON &#x27;every day&#x27; is not a valid cron" in \
        response.content.decode()


def test_a_store_that_cannot_be_read_is_said_and_the_schedules_still_listed(
        admin_client, task_options, request):
    task_options.update(SCHEDULES_DOMAIN="stratus-no-such-domain",
                        SCHEDULES_TABLE="stratus-no-such-table",
                        SCHEDULES={"often": {"TASK": "tests.tasks.jobs.noop", "INTERVAL": 60}})
    request.getfixturevalue("tasks")
    response = admin_client.get(reverse(SCHEDULES))
    assert response.status_code == 503
    assert "cannot be read, so their last runs are not shown" in response.content.decode()
    assert [row["name"] for row in response.context["rows"]] == ["often"]


@pytest.fixture
def staff_client(django_user_model):
    client = Client()
    client.user = django_user_model.objects.create_user(f"staff-{uuid.uuid4().hex[:6]}",
                                                        is_staff=True)
    client.force_login(client.user)
    return client


def test_a_staff_user_without_view_permission_is_forbidden(staff_client):
    assert staff_client.get(reverse(SCHEDULES)).status_code == 403


def test_a_staff_user_with_view_permission_sees_the_schedules(staff_client):
    staff_client.user.user_permissions.add(Permission.objects.get(
        content_type__app_label="storage_backends", codename="view_taskschedule"))
    assert staff_client.get(reverse(SCHEDULES)).status_code == 200
