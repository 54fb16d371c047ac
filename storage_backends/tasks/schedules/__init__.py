"""Periodic tasks: schedules in an SQSBackend's OPTIONS, enqueued once per slot by the fleet.

One module per concern:

- `entries`: the SCHEDULES option, read and checked (the system check reports its problems);
- `slots`: when a schedule fires (cron in a time zone, or an interval), as epoch seconds;
- `claims`: the records that make each slot's enqueue happen once (SimpleDB or DynamoDB);
- `scheduler`: the loop each `sqs_worker` runs on a thread of its own;
- `admin_views`: the admin's page of schedules, their last and next run.

docs/tasks.md, "Periodic tasks", says how they behave and why a slot is enqueued once.
"""

from django.core.exceptions import ImproperlyConfigured

from . import entries


def schedules_of(backend):
    """The backend's schedules (entries.Schedule); ImproperlyConfigured naming every
    invalid entry (the system check reports them first)."""
    schedules, problems = entries.read(backend.alias, backend.config.schedules)
    if problems:
        raise ImproperlyConfigured("; ".join(problems))
    return schedules


def scheduler_for(backend, worker_id):
    """A Scheduler of the backend's schedules, or None if it has none."""
    from .scheduler import Scheduler

    schedules = schedules_of(backend)
    return Scheduler(backend, schedules, worker_id) if schedules else None
