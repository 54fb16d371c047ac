"""The admin's page of periodic tasks: every SQSBackend's SCHEDULES, with last and next run.

One row per schedule: its task, how it repeats, time zone and catch-up policy; its last
run (the slot, when it was enqueued, and a link to its result in the task results pages,
with the result's status) from the schedule's head record; its next slot, computed here.
An invalid entry is listed with what is wrong with it. Reading the heads and the results
costs one batch read per backend each; if the store cannot be reached, the schedules are
still listed and the page says so (status 503).
"""

from django.urls import path, reverse
from django.utils import timezone

from ... import resources
from ..admin_views import _TaskPages
from ..worker import SERVICE_ERRORS
from . import entries, slots
from .claims import Head, claim_store, head_key


def _local(slot, zone):
    """A slot as text in the schedule's own time zone."""
    return slots.as_datetime(slot).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


class TaskScheduleAdmin(_TaskPages):
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [path("", self.admin_site.admin_view(self.changelist_view),
                     name=self._name("changelist"))]

    def changelist_view(self, request, extra_context=None):
        self._require(self.has_view_permission(request))
        rows, problems, unreachable = [], [], ""
        now = timezone.now().timestamp()
        for backend in resources.task_backends():
            schedules, found = entries.read(backend.alias, backend.config.schedules)
            problems += found
            heads, statuses = {}, {}
            if schedules and not unreachable:
                try:
                    heads, statuses = self._last_runs(backend, schedules)
                except SERVICE_ERRORS as error:
                    unreachable = (f"The schedules' records cannot be read, so their last runs "
                                   f"are not shown: {type(error).__name__}: {error}")
            rows += [self._row(backend, schedule, heads.get(schedule.name), statuses, now)
                     for schedule in schedules]
        return self._render(request, "schedules/list.html", "Task schedules", {
            "rows": rows, "problems": problems, "unreachable": unreachable,
            "backends": resources.task_backends()}, status=503 if unreachable else 200)

    @staticmethod
    def _last_runs(backend, schedules):
        """({name: Head}, {result id: status}): one read of the heads, one of the results."""
        records = claim_store(backend).get_many([head_key(s) for s in schedules])
        heads = {s.name: Head.of(records.get(head_key(s))) for s in schedules}
        ids = [head.result_id for head in heads.values() if head.result_id]
        found = backend.results.records_of(ids) if ids else {}
        return heads, {rid: record.get("status", "") for rid, record in found.items()}

    def _row(self, backend, schedule, head, statuses, now):
        following = slots.following(schedule, now)
        row = {"backend": backend.alias, "name": schedule.name, "task": schedule.task_path,
               "expression": schedule.expression, "zone": schedule.zone.key,
               "catch_up": schedule.catch_up,
               "next_run": _local(following, schedule.zone) if following else None,
               "last_run": None}
        if head is not None and head.slot is not None:
            row["last_run"] = {
                "slot": _local(head.slot, schedule.zone), "run_at": head.run_at,
                "worker": head.worker, "result_id": head.result_id,
                "status": statuses.get(head.result_id, "gone"),
                "url": reverse(f"admin:{self.opts.app_label}_taskresultrecord_change",
                               args=[head.result_id], current_app=self.admin_site.name)
                + f"?backend={backend.alias}" if head.result_id else None,
            }
        return row
