"""What a worker holds: the messages it has received (deliveries) and its task threads.

A delivery goes through these states, each a flag of `Delivery`:

- received: tracked, being checked by its receiver (no heartbeat: a check takes a few
  calls, well inside the visibility the receive gave it);
- `running`: handed to the task pool, queued or running there, then its outcome waiting to
  be written; the heartbeat keeps it hidden from other workers until it is settled;
- `settled`: deleted, dead-lettered, handed back or left to expire; no longer tracked.

A task is held by one delivery at a time (`Ledger.claim`): SQS may deliver a message twice
at once (two copies, or one message to two receives), and a copy checked while the other
runs here would find the task READY and run it again.
"""

import threading
import time
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from ..queues import QueueError
from ..results import STORE_ERRORS

#: What a call to SQS, the result store or S3 raises when the service cannot be used.
SERVICE_ERRORS = (*STORE_ERRORS, ClientError, BotoCoreError, QueueError)
#: Messages one ReceiveMessage returns at most.
MAX_RECEIVE = 10
#: Seconds a receiver waits for a full batch of free task threads before taking fewer.
FILL_WAIT = 0.1
#: Who ended a run (`Delivery.ended`): its task thread, or its time limit.
THREAD, LIMIT = "thread", "limit"


@dataclass
class Delivery:
    """One received message, from receipt to deletion or hand-back."""

    sqs_name: str
    url: str
    message_id: str
    receipt: str
    body: str
    visible_until: float
    payload: object = None
    task: object = None
    record: dict = field(default_factory=dict)
    result: object = None
    attempt: int = 0
    running: bool = False    # handed to the task pool: queued, running, or its outcome due
    mark: dict = field(default_factory=dict)  # the RUNNING record, written if it runs long
    running_since: float = 0.0
    marked: bool = False     # RUNNING is in the result store
    finished: bool = False   # its outcome is being written: no RUNNING mark after that
    settled: bool = False    # deleted, dead-lettered, handed back or left to expire
    holds_slot: bool = True  # a task thread is kept for it (until its task has run)
    run: object = None       # its context.Run: progress, stop requests, time limit
    deadline: float = 0.0    # time.monotonic() its time limit ends (0: none)
    ended: str = ""          # who gave its run an outcome: THREAD or LIMIT ("" if none yet)


@dataclass
class Outcome:
    """What a run came to: the attributes to write, then what to do with the message."""

    delivery: Delivery
    record: dict          # attributes to write
    action: str           # "delete", "retry" or "dead-letter"
    delay: int = 0
    reason: str = ""


class Ledger:
    """The deliveries a worker holds, by receipt handle, and its free task threads.

    Every receive takes task threads first (`take_slots`), so a worker never holds more
    messages than it can run at once; a thread comes back when its task has run or its
    delivery is settled without running."""

    def __init__(self, concurrency):
        self.lock = threading.Lock()
        self._held = {}
        self._tasks = {}  # result id -> the delivery that holds its task
        self._capacity = threading.Condition()
        self._free = concurrency
        self._batch_slots = min(MAX_RECEIVE, concurrency)
        self.started = 0     # tasks handed to the pool
        self.running = 0     # tasks running in the pool now
        self.processed = 0   # tasks whose outcome was written

    # -- deliveries --------------------------------------------------------------------------
    def track(self, delivery):
        with self.lock:
            self._held[delivery.receipt] = delivery
        return delivery

    def claim(self, delivery):
        """Let `delivery` hold its task; the delivery that holds it already, or None."""
        with self.lock:
            holder = self._tasks.setdefault(delivery.payload.id, delivery)
        return None if holder is delivery else holder

    def settle(self, deliveries):
        """Forget deliveries (their message is dealt with) and free their task threads."""
        freed = 0
        with self.lock:
            for delivery in deliveries:
                delivery.settled = True
                self._held.pop(delivery.receipt, None)
                task_id = delivery.payload.id if delivery.payload is not None else None
                if self._tasks.get(task_id) is delivery:
                    del self._tasks[task_id]
                freed += delivery.holds_slot
                delivery.holds_slot = False
        if freed:
            self.release(freed)

    def unsettled(self):
        with self.lock:
            return [d for d in self._held.values() if not d.settled]

    def held(self):
        with self.lock:
            return len(self._held)

    def to_extend(self, now, visibility):
        """Deliveries the heartbeat extends now: those handed to the pool (queued, running
        or with an outcome to write) whose visibility is a third spent. A delivery still
        being checked, or one a failure left behind, is not kept hidden."""
        with self.lock:
            return [d for d in self._held.values()
                    if d.running and not d.settled
                    and d.visible_until - now < visibility * 2 / 3]

    def to_mark(self, started_before):
        """Deliveries handed to the pool before `started_before` whose task has not ended
        and is not marked RUNNING (an ended one's outcome, queued, is written soon)."""
        with self.lock:
            return [d for d in self._held.values()
                    if d.running and not d.marked and not d.ended and not d.finished
                    and not d.settled and d.running_since <= started_before]

    # -- task threads ------------------------------------------------------------------------
    def started_task(self, delivery):
        delivery.running_since = time.monotonic()
        delivery.running = True
        self.started += 1

    def task_began(self, delivery):
        limit = delivery.run.time_limit if delivery.run else None
        with self.lock:
            self.running += 1
            delivery.deadline = time.monotonic() + limit if limit else 0.0

    def end_run(self, delivery, by):
        """Give the run of a delivery its outcome, `by` its THREAD (the task returned) or
        its LIMIT: whether this caller is the first. The first frees the task thread while
        the outcome is written; a later one must drop its outcome."""
        with self.lock:
            if delivery.ended:
                return False
            delivery.ended = by
            self.running -= 1
            freed, delivery.holds_slot = delivery.holds_slot, False
        if freed:
            self.release(1)
        return True

    def overdue(self, now):
        """Deliveries whose run is past its time limit and has no outcome yet."""
        with self.lock:
            return [d for d in self._held.values()
                    if d.deadline and now >= d.deadline and not d.ended and not d.settled]

    def in_progress(self):
        """Deliveries whose task runs now, marked RUNNING in the result store, and whose
        outcome is not being written: what may still get progress or a stop request."""
        with self.lock:
            return [d for d in self._held.values()
                    if d.running and d.marked and not d.ended and not d.finished
                    and not d.settled]

    def free_thread(self, delivery):
        with self.lock:
            freed, delivery.holds_slot = delivery.holds_slot, False
        if freed:
            self.release(1)

    def written(self, count):
        with self.lock:
            self.processed += count

    def take_slots(self, most, stopping):
        """Up to `most` free task threads (0 once `stopping` is set); waits a little for a
        full batch, since fewer, larger receives cost fewer calls."""
        with self._capacity:
            fill_until = time.monotonic() + FILL_WAIT
            while self._free < min(most, self._batch_slots) and not stopping.is_set():
                remaining = fill_until - time.monotonic()
                if remaining <= 0 and self._free > 0:
                    break
                self._capacity.wait(remaining if remaining > 0 else 0.5)
            if stopping.is_set():
                return 0
            taken = min(most, self._free)
            self._free -= taken
            return taken

    def release(self, count=1):
        with self._capacity:
            self._free += count
            self._capacity.notify_all()

    def wake(self):
        """Wake receivers waiting for threads (to see that the worker stops)."""
        with self._capacity:
            self._capacity.notify_all()
