"""Time limits: a run past its limit fails, and its task thread is replaced.

Every CHECK_EVERY seconds the watchdog looks, locally (no AWS call), for runs past their
deadline (`Ledger.overdue`). For each it:

1. takes the run's outcome (`Ledger.end_run`), unless the task returned just now;
2. asks the task to stop (`should_stop()` is then true, `stop_reason()` "time limit"):
   a task that checks between steps ends soon, one that does not runs on;
3. abandons its thread (pool.py): another takes its place at once, so the worker keeps
   running as many tasks as before, and the old one retires when its task returns, its
   late outcome ignored;
4. hands the flushers a failed attempt whose error is `TimeLimitExceeded: exceeded its
   time limit of N s`, with the stack where the task was: retried after the backoff
   while attempts are left, else FAILED and dead-lettered, like any failure.

Threads that never return pile up: once more are abandoned than the worker has task
threads, the worker drains and exits non-zero (`on_too_many`), so that its supervisor
starts a fresh process (the only way to end such a thread).
"""

import logging
import time

from ..context import TIME_LIMIT
from .deliveries import LIMIT
from .running import FAULT_BACKOFF

logger = logging.getLogger("storage_backends.tasks.worker")

#: Seconds between two looks for runs past their time limit.
CHECK_EVERY = 0.1


class TimeLimits:
    """The watchdog loop (see the module docstring)."""

    def __init__(self, runner, ledger, outcomes, control, concurrency, worker_id,
                 on_too_many):
        self.runner = runner
        self.ledger = ledger
        self.outcomes = outcomes
        self.control = control
        self.concurrency = concurrency
        self.worker_id = worker_id
        self.on_too_many = on_too_many
        self._gave_up = False

    def loop(self):
        while not self.control.stop_now.wait(CHECK_EVERY):
            self.check(time.monotonic())

    def check(self, now):
        for delivery in self.ledger.overdue(now):
            self.expire(delivery)
        abandoned = self.runner.threads.abandoned
        if abandoned > self.concurrency and not self._gave_up:
            self._gave_up = True
            self.on_too_many(f"{abandoned} tasks past their time limit still run in "
                             f"abandoned threads (more than --concurrency "
                             f"{self.concurrency})")

    def expire(self, delivery):
        if not self.ledger.end_run(delivery, LIMIT):
            return  # the task returned just now: its own outcome stands
        delivery.run.request_stop(TIME_LIMIT)
        thread = self.runner.threads.abandon(delivery)
        logger.warning("worker=%s task=%s id=%s time_limit=%gs exceeded: thread %s "
                       "abandoned", self.worker_id, delivery.payload.task_path,
                       delivery.payload.id, delivery.run.time_limit,
                       thread.name if thread is not None else "-")
        try:
            outcome = self.runner.expire(delivery, thread)
        except Exception:  # noqa: BLE001 - one delivery's fault must not stop the watchdog
            logger.exception("worker=%s could not fail message=%s past its time limit; "
                             "handed back for %ds", self.worker_id, delivery.message_id,
                             FAULT_BACKOFF)
            self.runner.settler.hand_back([delivery], FAULT_BACKOFF)
            return
        self.outcomes.put(outcome)
