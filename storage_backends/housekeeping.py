"""storage_backends' periodic housekeeping as tasks, for a worker to run on a schedule.

Each runs the management command of the same work (the same code, with the same output,
which becomes the task's return value, shown with its result in the admin): schedule them
in the task backend's SCHEDULES (docs/tasks.md, "Periodic tasks"). On DynamoDB the tables'
TTL already deletes what they delete, lazily and for nothing, while they scan whole tables.
"""

from io import StringIO

from django.core.management import call_command
from django.tasks import task


def _command(name):
    output = StringIO()
    call_command(name, stdout=output)
    return output.getvalue().strip()


@task
def clear_sessions():
    """`manage.py clearsessions`: delete expired sessions."""
    return _command("clearsessions")


@task
def purge_cache():
    """`manage.py purge_cache`: delete the expired entries of SimpleDB and DynamoDB caches."""
    return _command("purge_cache")


@task
def prune_task_results():
    """`manage.py prune_task_results`: delete task results (and schedule claims) past their
    retention."""
    return _command("prune_task_results")
