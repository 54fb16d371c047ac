"""The SCHEDULES option of an SQSBackend: each entry read, checked and made a `Schedule`.

    "SCHEDULES": {
        "purge-trash": {"TASK": "apps.trash.tasks.purge_trash", "CRON": "17 3 * * *",
                        "TIME_ZONE": "Europe/London", "CATCH_UP": "once"},
        "ping": {"TASK": "myapp.tasks.ping", "INTERVAL": 30, "ARGS": ["hello"]},
    }

Keys: `TASK` (module path of a django.tasks task), exactly one of `CRON` (5 fields, or 6
with seconds first: cronsim's syntax) and `INTERVAL` (whole seconds), and optionally
`TIME_ZONE` (a zoneinfo name; default settings.TIME_ZONE), `CATCH_UP` ("skip", the
default, or "once"), `ARGS` (a list) and `KWARGS` (a dict), which must survive JSON.

Reading resolves each task path, so it runs once the apps are loaded (the system check, the
worker's scheduler, the admin), never in the backend's __init__: a task module imports the
backend. `read` gives the valid schedules and a problem for each invalid one;
`storage_backends.checks` turns each problem into an error of `manage.py check`.
"""

import json
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.tasks.exceptions import InvalidTask
from django.utils import timezone

from ..messages import BadMessage, resolve_task

#: What a schedule may be called: it is part of the names of its records.
NAME = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
#: The catch-up policies: what happens to slots no scheduler saw on time.
CATCH_UP = ("skip", "once")
#: The keys an entry may have.
KEYS = ("TASK", "CRON", "INTERVAL", "TIME_ZONE", "CATCH_UP", "ARGS", "KWARGS")
#: The longest interval: a year.
MAX_INTERVAL = 366 * 24 * 3600
#: The longest cron expression read (six fields of lists and ranges fit well within it).
MAX_CRON_CHARS = 500


@dataclass(frozen=True)
class Schedule:
    """One valid SCHEDULES entry of the backend `alias`."""

    alias: str
    name: str
    task_path: str
    cron: str | None
    interval: int | None
    zone: ZoneInfo
    catch_up: str
    args: list = field(default_factory=list)
    kwargs: dict = field(default_factory=dict)
    #: The django.tasks Task, bound to the backend `alias`.
    task: object = field(default=None, compare=False, repr=False)

    @property
    def expression(self):
        """How it repeats, for people: the cron expression or "every N s"."""
        return self.cron if self.cron is not None else f"every {self.interval} s"


class Invalid(ValueError):
    """Why a SCHEDULES entry cannot be used."""


def read(alias, entries):
    """(schedules, problems) of a backend's SCHEDULES: the valid entries as `Schedule`s,
    and one message per invalid entry, naming it."""
    schedules, problems = [], []
    for name, entry in entries.items():
        try:
            schedules.append(_schedule(alias, name, entry))
        except Invalid as error:
            problems.append(f"TASKS[{alias!r}] schedule {name!r}: {error}")
    return schedules, problems


def _schedule(alias, name, entry):
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise Invalid("a schedule's name must be 1 to 100 letters, digits or _ . : -")
    if not isinstance(entry, dict):
        raise Invalid(f"the entry must be a dict, not {type(entry).__name__}")
    unknown = sorted(map(str, set(entry) - set(KEYS)))
    if unknown:
        raise Invalid(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(KEYS)})")
    zone = _zone(entry.get("TIME_ZONE", settings.TIME_ZONE))
    cron, interval = _repetition(entry, zone)
    catch_up = entry.get("CATCH_UP", "skip")
    if catch_up not in CATCH_UP:
        raise Invalid(f"CATCH_UP must be one of {', '.join(map(repr, CATCH_UP))}, "
                      f"not {catch_up!r}")
    args, kwargs = _arguments(entry)
    task = _task(alias, entry.get("TASK"))
    return Schedule(alias=alias, name=name, task_path=task.module_path, cron=cron,
                    interval=interval, zone=zone, catch_up=catch_up, args=args,
                    kwargs=kwargs, task=task)


def _zone(name):
    if not isinstance(name, str) or not name:
        raise Invalid(f"TIME_ZONE must be a time zone name, not {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise Invalid(f"TIME_ZONE {name!r} is not a time zone zoneinfo knows") from error


def _repetition(entry, zone):
    """(cron, interval): exactly one of them set."""
    cron, interval = entry.get("CRON"), entry.get("INTERVAL")
    if (cron is None) == (interval is None):
        raise Invalid("give exactly one of CRON and INTERVAL"
                      + (", not both" if cron is not None else ""))
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int) or \
                not 1 <= interval <= MAX_INTERVAL:
            raise Invalid(f"INTERVAL must be a whole number of seconds from 1 to "
                          f"{MAX_INTERVAL}, not {interval!r}")
        return None, interval
    if not isinstance(cron, str) or len(cron) > MAX_CRON_CHARS:
        raise Invalid(f"CRON must be a cron expression (text), not {cron!r}")
    try:
        next(CronSim(cron, timezone.now().astimezone(zone)))
    except CronSimError as error:
        raise Invalid(f"CRON {cron!r} is not a valid cron expression: {error}") from error
    except StopIteration as error:
        raise Invalid(f"CRON {cron!r} never fires (no matching time within 50 years)") \
            from error
    return " ".join(cron.split()), None


def _arguments(entry):
    args, kwargs = entry.get("ARGS", []), entry.get("KWARGS", {})
    if not isinstance(args, (list, tuple)):
        raise Invalid(f"ARGS must be a list, not {type(args).__name__}")
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise Invalid("KWARGS must be a dict with string keys")
    try:
        # As Django's TaskResult normalises them: what a worker will be given.
        return json.loads(json.dumps(list(args))), json.loads(json.dumps(kwargs))
    except (TypeError, ValueError) as error:
        raise Invalid(f"ARGS and KWARGS must survive JSON: {error}") from error


def _task(alias, path):
    if not isinstance(path, str) or not path:
        raise Invalid("TASK must be the module path of a task (e.g. 'myapp.tasks.cleanup')")
    try:
        task = resolve_task(path)
    except BadMessage as error:
        raise Invalid(error.reason) from error
    try:
        return task if task.backend == alias else task.using(backend=alias)
    except InvalidTask as error:
        raise Invalid(f"task {path!r} cannot run on backend {alias!r}: {error}") from error
