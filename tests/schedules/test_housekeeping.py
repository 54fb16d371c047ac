"""The tasks the site's schedules run: each does on a worker what its command does."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone

from apps.exports.models import ZipExport
from apps.exports.tasks import clear_exports
from apps.uploads.tasks import clear_uploads
from storage_backends import housekeeping

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("simpledb_state_store")]


def ran(tasks, run_worker, task):
    result = task.enqueue()
    run_worker()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    return result.return_value


def test_clear_exports_forgets_an_export_never_finished_within_a_day(tasks, run_worker,
                                                                     django_user_model):
    owner = django_user_model.objects.create_user("exporter")
    stale = ZipExport.objects.create(owner=owner, public_id="x" * 20)
    ZipExport.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert ran(tasks, run_worker, clear_exports) == 1
    assert not ZipExport.objects.exists()


def test_clear_uploads_returns_how_many_uploads_it_cleared(tasks, run_worker):
    assert ran(tasks, run_worker, clear_uploads) == 0


def test_purge_cache_returns_what_the_command_says(tasks, run_worker):
    assert "expired entr" in ran(tasks, run_worker, housekeeping.purge_cache)


def test_prune_task_results_returns_what_the_command_says(tasks, run_worker):
    assert "expired results from SimpleDB domain stratus-task-results" in ran(
        tasks, run_worker, housekeeping.prune_task_results)


def test_clear_sessions_runs_clearsessions(tasks, run_worker):
    assert ran(tasks, run_worker, housekeeping.clear_sessions) == ""


@pytest.mark.usefixtures("each_state_store")
def test_prune_task_results_deletes_expired_schedule_claims(task_options, request):
    task_options["SCHEDULES"] = {"often": {"TASK": "tests.tasks.jobs.noop", "INTERVAL": 60}}
    claims = request.getfixturevalue("claims")
    expired, live = f"default/old-{time.time_ns()}@1", f"default/live-{time.time_ns()}@2"
    claims.claim(expired, {"state": "enqueued", "expires": "001000000000"})
    claims.claim(live, {"state": "enqueued", "expires": "009000000000"})
    out = StringIO()
    call_command("prune_task_results", stdout=out)
    assert "expired schedule claim" in out.getvalue()
    assert (claims.get(expired), bool(claims.get(live))) == ({}, True)
