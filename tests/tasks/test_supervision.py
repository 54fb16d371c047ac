"""The worker's own threads: a death is noticed, and the heartbeat keeps hidden only what the
worker is going to run. No AWS here: these are the worker's bookkeeping units (the
process tests in test_worker_process.py kill real threads of a real worker)."""

import threading

from storage_backends.tasks.worker.deliveries import LIMIT, THREAD, Delivery, Ledger
from storage_backends.tasks.worker.supervision import Control, Crew

#: Seconds a test waits for a thread to end.
DEADLINE = 10


class Died(BaseException):
    """Not an Exception: what no guard inside a loop catches."""


def test_a_thread_that_raises_is_recorded_as_the_crews_death():
    crew = Crew("w-1")

    def loop():
        raise RuntimeError("the loop broke")

    crew.start("receiver-0", loop)
    assert crew.died.wait(DEADLINE)
    assert crew.death == "thread receiver-0 died: RuntimeError: the loop broke"


def test_a_thread_ended_by_a_base_exception_is_a_death_too():
    crew = Crew("w-1")

    def loop():
        raise Died("killed")

    crew.start("heartbeat", loop)
    assert crew.died.wait(DEADLINE)
    assert crew.death.startswith("thread heartbeat died: Died")


def test_the_first_death_is_the_one_recorded():
    crew = Crew("w-1")
    first_died = threading.Event()

    def first():
        try:
            raise RuntimeError("first")
        finally:
            first_died.set()

    def second():
        first_died.wait(DEADLINE)
        raise RuntimeError("second")

    crew.start("flusher-0", first)
    crew.start("flusher-1", second)
    for thread in crew.threads:
        thread.join(DEADLINE)
    assert crew.death == "thread flusher-0 died: RuntimeError: first"


def test_a_thread_that_returns_is_no_death():
    crew = Crew("w-1")
    thread = crew.start("receiver-0", lambda: None)
    thread.join(DEADLINE)
    assert not crew.died.is_set() and crew.death is None
    assert not crew.alive("receiver-")


def test_a_second_stop_stops_now():
    control = Control()
    control.stop()
    assert control.stopping.is_set() and not control.stop_now.is_set()
    control.stop()
    assert control.stop_now.is_set()


def delivery(name, visible_until=0.0):
    return Delivery(sqs_name="q", url="u", message_id=name, receipt=name, body="{}",
                    visible_until=visible_until)


def test_the_heartbeat_extends_only_deliveries_handed_to_the_task_pool():
    ledger = Ledger(concurrency=4)
    received = ledger.track(delivery("received"))  # being checked, or left by a fault
    started = ledger.track(delivery("started"))
    ledger.started_task(started)
    assert ledger.to_extend(now=100.0, visibility=30) == [started]
    assert received in ledger.unsettled()


def test_the_heartbeat_extends_a_delivery_whose_outcome_is_being_written():
    ledger = Ledger(concurrency=4)
    finishing = ledger.track(delivery("finishing"))
    ledger.started_task(finishing)
    ledger.task_began(finishing)
    ledger.end_run(finishing, THREAD)
    finishing.finished = True
    assert ledger.to_extend(now=100.0, visibility=30) == [finishing]


def test_the_heartbeat_leaves_a_settled_delivery_and_one_with_time_left():
    ledger = Ledger(concurrency=4)
    settled = ledger.track(delivery("settled"))
    fresh = ledger.track(delivery("fresh", visible_until=125.0))
    for each in (settled, fresh):
        ledger.started_task(each)
    ledger.settle([settled])
    assert ledger.to_extend(now=100.0, visibility=30) == []


def test_a_run_ended_by_its_time_limit_is_known_to_have_been_ended_by_it():
    # The task thread, returning late, checks this to drop its own outcome.
    ledger = Ledger(concurrency=4)
    overrun = ledger.track(delivery("overrun"))
    ledger.started_task(overrun)
    ledger.task_began(overrun)
    assert ledger.end_run(overrun, LIMIT)
    assert overrun.ended == LIMIT
    assert not ledger.end_run(overrun, THREAD)
    assert overrun.ended == LIMIT and ledger.running == 0
