"""The scheduler, in this process against the local stack, with a clock the test sets:
one enqueue per slot however many schedulers race, the catch-up policies, and claims left
by a scheduler that crashed between claiming and enqueueing."""

import json
import logging
import threading

import pytest
from django.tasks import TaskResultStatus

from storage_backends import aws
from storage_backends.tasks.schedules import slots
from storage_backends.tasks.schedules.claims import (
    Claim,
    Head,
    claim_key,
    head_key,
    result_id,
)
from storage_backends.tasks.schedules.scheduler import CLAIM_LEASE, GRACE_SECONDS, Scheduler
from tests.tasks import jobs

pytestmark = pytest.mark.usefixtures("each_state_store")


@pytest.fixture
def scheduler(tasks, claims, clock):
    """`scheduler(schedule, worker_id)`: a Scheduler of one schedule on the test's clock."""
    def make(schedule, worker_id="w1"):
        return Scheduler(tasks, [schedule], worker_id, clock=clock)
    return make


def queued_ids(tasks):
    """Result ids of the messages waiting in the default queue (received, so hidden)."""
    url = tasks.sqs.url(tasks.config.sqs_name("default"))
    found = []
    while True:
        response = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                     WaitTimeSeconds=0)
        if not response.get("Messages"):
            return sorted(found)
        found += [json.loads(m["Body"])["id"] for m in response["Messages"]]


def the_id(claims, schedule, slot):
    return result_id(claims.location, schedule, slot)


def test_of_three_schedulers_racing_for_a_slot_one_enqueues_it(tasks, claims, clock,
                                                                scheduler, schedule):
    hourly = schedule(INTERVAL=3600)
    slot = slots.latest(hourly, clock.now)
    racers = [scheduler(hourly, f"w{n}") for n in range(3)]
    start = threading.Barrier(3)

    def tick(racer):
        start.wait()
        racer.tick(clock.now)

    threads = [threading.Thread(target=tick, args=(racer,)) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert queued_ids(tasks) == [the_id(claims, hourly, slot)]
    assert tasks.get_result(the_id(claims, hourly, slot)).status == TaskResultStatus.READY
    assert Claim.of(claims.get(claim_key(hourly, slot))).state == "enqueued"


def test_the_losers_checks_find_the_claim_enqueued_and_send_nothing(tasks, claims, clock,
                                                                     scheduler, schedule):
    hourly = schedule(INTERVAL=3600)
    winner, loser = scheduler(hourly, "winner"), scheduler(hourly, "loser")
    winner.tick(clock.now)
    loser.tick(clock.now)
    clock.now += CLAIM_LEASE + 1
    loser.tick(clock.now)
    assert len(queued_ids(tasks)) == 1
    assert loser.checks == {}


def test_a_scheduler_ticking_again_in_the_same_slot_sends_nothing_more(tasks, clock,
                                                                       scheduler, schedule):
    every_minute = schedule(INTERVAL=60)
    ticking = scheduler(every_minute)
    ticking.tick(clock.now)
    ticking.tick(clock.now + 30)
    assert len(queued_ids(tasks)) == 1


def test_each_slot_is_enqueued_under_its_own_result_id(tasks, claims, clock, scheduler,
                                                       schedule):
    every_minute = schedule(INTERVAL=60)
    ticking = scheduler(every_minute)
    first = slots.latest(every_minute, clock.now)
    ticking.tick(clock.now)
    clock.now += 60
    ticking.tick(clock.now)
    assert queued_ids(tasks) == sorted([the_id(claims, every_minute, first),
                                        the_id(claims, every_minute, first + 60)])


def test_the_head_records_the_last_run(claims, clock, scheduler, schedule):
    every_minute = schedule(INTERVAL=60)
    scheduler(every_minute, "w7").tick(clock.now)
    head = Head.of(claims.get(head_key(every_minute)))
    slot = slots.latest(every_minute, clock.now)
    assert (head.slot, head.result_id, head.worker) == (
        slot, the_id(claims, every_minute, slot), "w7")


def test_a_scheduler_that_starts_takes_the_heads_last_run_as_done(tasks, claims, clock,
                                                                  scheduler, schedule):
    every_minute = schedule(INTERVAL=60)
    scheduler(every_minute, "first").tick(clock.now)
    later = scheduler(every_minute, "second")
    later.tick(clock.now)
    assert len(queued_ids(tasks)) == 1
    assert later.checks == {}  # it did not even try to claim the slot


def test_the_task_is_sent_with_the_schedules_arguments(tasks, claims, clock, scheduler,
                                                       schedule, run_worker):
    adding = schedule(TASK="tests.tasks.jobs.add", INTERVAL=60, ARGS=[2], KWARGS={"b": 3})
    scheduler(adding).tick(clock.now)
    run_worker()
    result = tasks.get_result(the_id(claims, adding, slots.latest(adding, clock.now)))
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 5)


# -- catch-up ---------------------------------------------------------------------------------
def test_skip_runs_a_slot_seen_within_the_grace_period(tasks, clock, scheduler, schedule):
    every_hour = schedule(INTERVAL=3600, CATCH_UP="skip")
    clock.now = slots.latest(every_hour, clock.now) + GRACE_SECONDS - 1
    scheduler(every_hour).tick(clock.now)
    assert len(queued_ids(tasks)) == 1


def test_skip_does_not_run_a_slot_first_seen_after_the_grace_period(tasks, clock, scheduler,
                                                                    schedule):
    every_hour = schedule(INTERVAL=3600, CATCH_UP="skip")
    clock.now = slots.latest(every_hour, clock.now) + GRACE_SECONDS + 1
    late = scheduler(every_hour)
    late.tick(clock.now)
    assert queued_ids(tasks) == []
    clock.now = slots.following(every_hour, clock.now)
    late.tick(clock.now)  # the next slot, on time
    assert len(queued_ids(tasks)) == 1


def outage(clock, scheduler, schedule):
    """A scheduler sees the schedule first 30 s after a slot; then no scheduler runs for
    five slots; a new one starts 30 s after the grace period of the latest slot."""
    clock.now = slots.latest(schedule, clock.now) + 30
    scheduler(schedule, "before").tick(clock.now)
    clock.now += 5 * schedule.interval + GRACE_SECONDS
    return scheduler(schedule, "after")


def test_skip_leaves_the_slots_missed_in_an_outage_unrun(tasks, claims, clock, scheduler,
                                                         schedule):
    every_ten_minutes = schedule(INTERVAL=600, CATCH_UP="skip")
    first = slots.latest(every_ten_minutes, clock.now)
    after = outage(clock, scheduler, every_ten_minutes)
    after.tick(clock.now)
    # Only the slot the first scheduler saw within the grace period ran.
    assert queued_ids(tasks) == [the_id(claims, every_ten_minutes, first)]


def test_once_runs_the_slots_missed_in_an_outage_once_as_the_latest(tasks, claims, clock,
                                                                    scheduler, schedule):
    every_ten_minutes = schedule(INTERVAL=600, CATCH_UP="once")
    after = outage(clock, scheduler, every_ten_minutes)
    after.tick(clock.now)
    after.tick(clock.now + 1)
    # Not the first slot (before the schedule was first seen), one run for the five missed.
    assert queued_ids(tasks) == [the_id(claims, every_ten_minutes,
                                        slots.latest(every_ten_minutes, clock.now))]


def test_once_does_not_run_a_slot_from_before_the_schedule_was_first_seen(tasks, clock,
                                                                          scheduler, schedule):
    daily = schedule(CRON="0 3 * * *", CATCH_UP="once")
    scheduler(daily).tick(clock.now)  # 08:00: today's 03:00 is before the schedule existed
    assert queued_ids(tasks) == []


# -- a scheduler that crashed between claiming and enqueueing -----------------------------
def crashed_claim(tasks, claims, clock, schedule, send=False):
    """What a scheduler leaves if it dies after its claim (and after sending, if `send`)."""
    crashed = Scheduler(tasks, [schedule], "crashed", clock=clock)
    slot = slots.latest(schedule, clock.now)
    crashed.since[schedule.name] = 0
    record = crashed._claim_record(schedule, slot, "crashed-token", clock.now)
    assert claims.claim(claim_key(schedule, slot), record)
    if send:
        crashed._send(schedule, the_id(claims, schedule, slot), write_result=True)
    return slot


def test_a_claim_left_unsent_is_taken_over_after_the_lease_and_sent_once(
        tasks, claims, clock, scheduler, schedule, caplog):
    hourly = schedule(INTERVAL=3600)
    slot = crashed_claim(tasks, claims, clock, hourly)
    survivor = scheduler(hourly, "survivor")
    survivor.tick(clock.now)
    assert queued_ids(tasks) == []  # it lost the claim, and the lease is not over
    clock.now += CLAIM_LEASE - 1
    survivor.tick(clock.now)
    assert queued_ids(tasks) == []
    with caplog.at_level(logging.WARNING, "storage_backends.tasks.schedules"):
        clock.now += 2
        survivor.tick(clock.now)
    assert queued_ids(tasks) == [the_id(claims, hourly, slot)]
    assert "took over the claim of crashed" in caplog.text
    claim = Claim.of(claims.get(claim_key(hourly, slot)))
    assert (claim.state, claim.worker) == ("enqueued", "survivor")


def test_a_claim_taken_over_keeps_its_expiry_and_result_id(tasks, claims, clock, scheduler,
                                                           schedule):
    hourly = schedule(INTERVAL=3600)
    slot = crashed_claim(tasks, claims, clock, hourly)
    survivor = scheduler(hourly, "survivor")
    survivor.tick(clock.now)
    clock.now += CLAIM_LEASE + 1
    survivor.tick(clock.now)
    record = claims.get(claim_key(hourly, slot))
    assert record["result_id"] == the_id(claims, hourly, slot)
    assert int(record["expires"]) > slot + 3600


def test_a_take_over_after_the_message_went_out_runs_the_task_once(
        tasks, claims, clock, scheduler, schedule, run_worker):
    remembering = schedule(TASK="tests.tasks.jobs.remember", INTERVAL=3600,
                           ARGS=["crash-after-send", 1])
    slot = crashed_claim(tasks, claims, clock, remembering, send=True)
    survivor = scheduler(remembering, "survivor")
    survivor.tick(clock.now)
    clock.now += CLAIM_LEASE + 1
    survivor.tick(clock.now)  # sends the message again: its READY result says nothing ran
    run_worker()
    assert jobs.calls["crash-after-send"] == [1]
    result = tasks.get_result(the_id(claims, remembering, slot))
    assert (result.status, len(result.worker_ids)) == (TaskResultStatus.SUCCESSFUL, 1)


def test_a_take_over_after_the_task_ran_sends_nothing(tasks, claims, clock, scheduler,
                                                      schedule, run_worker):
    remembering = schedule(TASK="tests.tasks.jobs.remember", INTERVAL=3600,
                           ARGS=["crash-after-run", 1])
    slot = crashed_claim(tasks, claims, clock, remembering, send=True)
    run_worker()
    survivor = scheduler(remembering, "survivor")
    survivor.tick(clock.now)
    clock.now += CLAIM_LEASE + 1
    survivor.tick(clock.now)
    assert queued_ids(tasks) == []
    assert jobs.calls["crash-after-run"] == [1]
    assert Claim.of(claims.get(claim_key(remembering, slot))).state == "enqueued"


# -- faults -----------------------------------------------------------------------------------
def test_a_store_that_cannot_be_used_is_logged_and_tried_again_soon(task_options, clock,
                                                                    caplog, request):
    task_options.update(SCHEDULES_DOMAIN="stratus-no-such-domain",
                        SCHEDULES_TABLE="stratus-no-such-table")
    missing = request.getfixturevalue("tasks")
    every_minute = request.getfixturevalue("schedule")(INTERVAL=60)
    broken = Scheduler(missing, [every_minute], "w1", clock=clock)
    with caplog.at_level(logging.ERROR, "storage_backends.tasks.schedules"):
        broken.tick(clock.now)
    assert f"schedule={every_minute.name} failed; retrying in 5s" in caplog.text
    assert broken.wake_at(clock.now) == clock.now + 5
    assert queued_ids(missing) == []


def test_a_claim_holding_garbage_is_logged_and_left_alone(tasks, claims, clock, scheduler,
                                                          schedule, caplog):
    hourly = schedule(INTERVAL=3600)
    slot = slots.latest(hourly, clock.now)
    claims.claim(claim_key(hourly, slot), {"state": "<script>", "claimed_at": "yesterday"})
    survivor = scheduler(hourly, "survivor")
    survivor.tick(clock.now)
    clock.now += CLAIM_LEASE + 1
    with caplog.at_level(logging.WARNING, "storage_backends.tasks.schedules"):
        survivor.tick(clock.now)
    assert "claim unreadable; left alone" in caplog.text
    assert queued_ids(tasks) == [] and survivor.checks == {}


def test_an_enqueue_that_fails_after_the_claim_is_retried_by_the_claimer(
        tasks, claims, clock, scheduler, schedule, caplog):
    from storage_backends import resources
    from storage_backends.provisioning import Provisioner

    hourly = schedule(TASK="tests.tasks.jobs.noop", INTERVAL=3600)
    queue = next(q for q in resources.queues() if q.name == tasks.config.sqs_name("default"))
    sqs = aws.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue.name)["QueueUrl"])
    claimer = scheduler(hourly, "claimer")
    with caplog.at_level(logging.ERROR, "storage_backends.tasks.schedules"):
        claimer.tick(clock.now)  # claims, writes the READY result, then SQS refuses
    assert "enqueue failed; retrying in 5s" in caplog.text
    Provisioner().ensure_queue(queue)
    clock.now += 5
    claimer.tick(clock.now)
    slot = slots.latest(hourly, clock.now)
    assert queued_ids(tasks) == [the_id(claims, hourly, slot)]
    assert Claim.of(claims.get(claim_key(hourly, slot))).state == "enqueued"


# -- calls --------------------------------------------------------------------------------------
WRITE = {"simpledb": "PutAttributes", "dynamodb": "PutItem"}
UPDATE = {"simpledb": "PutAttributes", "dynamodb": "UpdateItem"}
READ = {"simpledb": "GetAttributes", "dynamodb": "GetItem"}


def test_a_slot_costs_the_winner_four_store_writes_and_one_send_and_a_loser_two_calls(
        tasks, clock, scheduler, schedule, each_state_store):
    from tests.tasks.calls import aws_calls

    hourly = schedule(INTERVAL=3600)
    winner, loser = scheduler(hourly, "winner"), scheduler(hourly, "loser")
    winner.tick(clock.now)  # each reads the head once, at its first tick
    loser.tick(clock.now)
    clock.now += 3600
    with aws_calls(tasks) as won:
        winner.tick(clock.now)
    with aws_calls(tasks) as lost:
        loser.tick(clock.now)
    clock.now += CLAIM_LEASE
    with aws_calls(tasks) as checked:
        loser.tick(clock.now)
    store = each_state_store
    # The claim, the READY result, the claim marked enqueued, the head's last run.
    assert won.of("results") == [WRITE[store], UPDATE[store], UPDATE[store], UPDATE[store]]
    assert won.of("sqs") == ["SendMessage"]
    # A refused claim, then one read of it a lease later.
    assert (lost, checked) == ([WRITE[store]], [READ[store]])
