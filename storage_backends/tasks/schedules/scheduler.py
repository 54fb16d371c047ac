"""The scheduler loop: every worker may run it; each slot is enqueued once by the fleet.

A `Scheduler` wakes at each slot of its backend's schedules (and at least every MAX_SLEEP
seconds) and, for each schedule whose latest slot it has not yet handled:

1. decides whether the slot runs: "skip" runs it only if it is seen within GRACE_SECONDS of
   its time (slots missed for longer are skipped; the next runs on time); "once" runs the
   latest slot however late, so several missed slots make one run, but never a slot from
   before the schedule was first seen (its head's `since`: a new schedule does not run at
   once for a slot it never had);
2. claims it: one conditional write of the slot's claim (claims/__init__.py); every other
   scheduler's write fails, so exactly one goes on;
3. enqueues the task with a result id derived from the slot, then marks the claim
   "enqueued" and records the last run in the schedule's head.

A crash between 2 and 3 leaves a claim "claimed". Each scheduler that lost the claim
reads it again CLAIM_LEASE seconds later; if it is still "claimed" and older than the
lease, one of them takes it over (a conditional write on the old token) and enqueues again
under the same result id: if the task's result shows it was sent (it has run or is
running), nothing is sent; if its READY result is there, only the message is sent (the
worker runs one result id once: a copy finds it finished or leased); otherwise both.
The slot then runs late by up to the lease, and at most once more than it should only
if the first message had been sent and both copies reach two workers at the same instant
(the at-least-once case of any task).

Nothing here is held between processes but the records: a scheduler that starts reads each
schedule's head (its last run) and goes on from there. Errors of the store or SQS are
logged and retried RETRY_SECONDS later; they never end the thread.
"""

import logging
import time
from dataclasses import dataclass, replace

from django.utils.crypto import get_random_string

from ..results import epoch, format_time
from . import slots
from .claims import (
    CLAIMED,
    ENQUEUED,
    Claim,
    Head,
    claim_key,
    claim_store,
    head_key,
    result_id,
    slot_text,
)

logger = logging.getLogger("storage_backends.tasks.schedules")

#: "skip": a slot runs only if a scheduler sees it within this many seconds of its time.
GRACE_SECONDS = 60
#: Seconds after which a claim not marked enqueued is taken to be a crashed scheduler's.
CLAIM_LEASE = 60
#: Seconds before a scheduler tries again after the store or SQS failed.
RETRY_SECONDS = 5
#: The longest the loop sleeps without looking at the clock (it may be set back or forth).
MAX_SLEEP = 30
#: Times a scheduler reads a claim that stays "claimed" and fresh before leaving it be.
MAX_CHECKS = 5
#: Seconds a claim is kept after its slot stops being the latest: by then no scheduler
#: tries that slot again.
CLAIM_KEPT = 24 * 3600


@dataclass
class Check:
    """A claim to read again at `due`, in case its claimer crashed before enqueueing."""

    schedule: object
    slot: int
    due: float
    count: int = 0


class Scheduler:
    """Enqueues the slots of `schedules` (entries.Schedule, all of `backend`)."""

    def __init__(self, backend, schedules, worker_id, lease=CLAIM_LEASE,
                 grace=GRACE_SECONDS, clock=time.time):
        self.backend = backend
        self.schedules = list(schedules)
        self.worker_id = worker_id
        self.lease = lease
        self.grace = grace
        self.clock = clock
        self.store = claim_store(backend)
        #: name -> the latest slot this process has decided about.
        self.handled = {}
        #: name -> the schedule's `since` (epoch seconds), once its head is read.
        self.since = {}
        #: claim key -> the token this process wrote it with.
        self.tokens = {}
        #: claim key -> Check.
        self.checks = {}
        self.retry_at = None

    # -- the loop ---------------------------------------------------------------------------
    def loop(self, control):
        """Tick at each slot until the worker stops (`control.stopping`)."""
        logger.info("worker=%s scheduler starting schedules=%s", self.worker_id,
                    ",".join(s.name for s in self.schedules))
        while not control.stopping.is_set():
            now = self.clock()
            self.tick(now)
            control.stopping.wait(max(0.0, self.wake_at(now) - self.clock()))
        logger.info("worker=%s scheduler stopped", self.worker_id)

    def wake_at(self, now):
        """When the loop should next tick."""
        times = [now + MAX_SLEEP, *(check.due for check in self.checks.values())]
        times += [slot for slot in (slots.following(s, now) for s in self.schedules)
                  if slot is not None]
        if self.retry_at is not None:
            times.append(self.retry_at)
        return min(times)

    def tick(self, now):
        """Handle every schedule's latest slot, and every claim check that is due."""
        self.retry_at = None
        for schedule in self.schedules:
            try:
                self._tick(schedule, now)
            except Exception:  # noqa: BLE001 - a store or SQS fault: try again shortly
                logger.exception("worker=%s schedule=%s failed; retrying in %ss",
                                 self.worker_id, schedule.name, RETRY_SECONDS)
                self.retry_at = now + RETRY_SECONDS
        for key, check in list(self.checks.items()):
            if check.due <= now:
                try:
                    self._check(key, check, now)
                except Exception:  # noqa: BLE001 - as above
                    logger.exception("worker=%s schedule=%s claim check failed",
                                     self.worker_id, check.schedule.name)
                    check.due = now + RETRY_SECONDS

    # -- one schedule -----------------------------------------------------------------------
    def _tick(self, schedule, now):
        if schedule.name not in self.since:
            self._read_head(schedule, now)
        slot = slots.latest(schedule, now)
        if slot is None or slot <= self.handled.get(schedule.name, -1):
            return
        late = now - slot
        if schedule.catch_up == "skip" and late > self.grace:
            logger.info("worker=%s schedule=%s slot=%s skipped late=%ds", self.worker_id,
                        schedule.name, slot_text(slot), late)
        elif schedule.catch_up == "once" and slot < self.since[schedule.name]:
            pass  # before the schedule existed
        else:
            self._claim(schedule, slot, now)
        self.handled[schedule.name] = slot

    def _read_head(self, schedule, now):
        """Learn when the schedule was first seen (saying so if this is the first), and its
        last run."""
        key = head_key(schedule)
        head = Head.of(self.store.get(key))
        since = head.since
        if since is None:
            if self.store.start(key, slot_text(now)):
                since = int(now)
            else:
                since = Head.of(self.store.get(key)).since
        self.since[schedule.name] = int(now) if since is None else since
        if head.slot is not None:
            # Marked after its task was sent: nothing to claim or check.
            self.handled[schedule.name] = max(head.slot, self.handled.get(schedule.name, -1))

    def _claim(self, schedule, slot, now):
        key = claim_key(schedule, slot)
        tried = key in self.tokens
        token = self.tokens.setdefault(key, f"{self.worker_id}-{get_random_string(12)}")
        won = self.store.claim(key, self._claim_record(schedule, slot, token, now))
        if not won and tried:
            # The earlier try failed with no answer; it may have written the claim.
            claim = Claim.of(self.store.get(key))
            won = claim is not None and claim.token == token
        if not won:
            self.tokens.pop(key, None)
            self.checks.setdefault(key, Check(schedule, slot, now + self.lease))
            return
        logger.info("worker=%s schedule=%s slot=%s claimed", self.worker_id, schedule.name,
                    slot_text(slot))
        try:
            self._enqueue(schedule, slot, sent=False)
        except Exception:  # noqa: BLE001 - the claim is ours: its check sends it again
            logger.exception("worker=%s schedule=%s slot=%s enqueue failed; retrying in %ss",
                             self.worker_id, schedule.name, slot_text(slot), RETRY_SECONDS)
            self.checks[key] = Check(schedule, slot, now + RETRY_SECONDS)
            return
        self.tokens.pop(key, None)

    def _claim_record(self, schedule, slot, token, now):
        """A whole claim record (a take-over replaces the item on DynamoDB)."""
        following = slots.following(schedule, slot) or slot
        return {"state": CLAIMED, "token": token, "worker": self.worker_id,
                "claimed_at": format_time(slots.as_datetime(now)),
                "result_id": self._result_id(schedule, slot), "schedule": schedule.name,
                "slot": slot_text(slot), "expires": epoch(following + CLAIM_KEPT)}

    def _result_id(self, schedule, slot):
        return result_id(self.store.location, schedule, slot)

    def _enqueue(self, schedule, slot, sent):
        """Send the slot's task (unless `sent`: a retry checks what its result shows), then
        mark the claim and the head."""
        rid = self._result_id(schedule, slot)
        if sent:
            record = self.backend.results.record(rid)
            if record.get("status", "READY") != "READY" or \
                    record.get("worker_ids", "[]") != "[]":
                pass  # received by a worker: the message went out
            else:
                self._send(schedule, rid, write_result=not record)
        else:
            self._send(schedule, rid, write_result=True)
        at = format_time(slots.as_datetime(self.clock()))
        self.store.update(claim_key(schedule, slot), {"state": ENQUEUED, "enqueued_at": at})
        self.store.update(head_key(schedule), {"slot": slot_text(slot), "result_id": rid,
                                               "run_at": at, "worker": self.worker_id})
        logger.info("worker=%s schedule=%s slot=%s task=%s id=%s enqueued", self.worker_id,
                    schedule.name, slot_text(slot), schedule.task_path, rid)

    def _send(self, schedule, rid, write_result):
        payload, result = self.backend._prepare(schedule.task, schedule.args, schedule.kwargs)
        self.backend.send([(replace(payload, id=rid), replace(result, id=rid))],
                          write_results=write_result)

    # -- claims of crashed schedulers -------------------------------------------------------
    def _check(self, key, check, now):
        """Read a claim again; take it over if it is still "claimed" and ours or stale."""
        claim = Claim.of(self.store.get(key))
        if claim is None or claim.state == ENQUEUED:
            del self.checks[key]
            return
        if claim.state is None or claim.token is None or claim.claimed_at is None:
            logger.warning("worker=%s schedule=%s slot=%s claim unreadable; left alone",
                           self.worker_id, check.schedule.name, slot_text(check.slot))
            del self.checks[key]
            return
        stale_at = claim.claimed_at.timestamp() + self.lease
        if claim.token != self.tokens.get(key) and now < stale_at:
            check.count += 1
            check.due = stale_at
            if check.count >= MAX_CHECKS:
                del self.checks[key]
            return
        del self.checks[key]
        token = f"{self.worker_id}-{get_random_string(12)}"
        record = self._claim_record(check.schedule, check.slot, token, now)
        if not self.store.take_over(key, claim.token, record):
            return  # another scheduler took it over first: it enqueues
        self.tokens[key] = token
        logger.warning("worker=%s schedule=%s slot=%s took over the claim of %s",
                       self.worker_id, check.schedule.name, slot_text(check.slot),
                       claim.worker)
        try:
            self._enqueue(check.schedule, check.slot, sent=True)
        except Exception:
            self.checks[key] = Check(check.schedule, check.slot, now + RETRY_SECONDS)
            raise
        self.tokens.pop(key, None)
