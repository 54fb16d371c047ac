"""Unique tasks, on both result stores: within its window, a second enqueue of the same
work returns the first one's result and sends nothing; the claim is one conditional write."""

import threading
import time

import pytest
from django.db import transaction
from django.tasks import TaskResultStatus
from django.tasks.exceptions import InvalidTask

from storage_backends.tasks import SQSTask, unique
from storage_backends.tasks.results import epoch
from tests.tasks import jobs
from tests.tasks.calls import aws_calls
from tests.tasks.stores import on_both_stores
from tests.tasks.test_worker import eventually, left_in

pytestmark = on_both_stores


def test_a_second_enqueue_within_the_window_returns_the_first_result(tasks, run_worker):
    first = jobs.unique_add.enqueue(1, 2)
    second = jobs.unique_add.enqueue(1, 2)
    assert second.id == first.id
    assert left_in(tasks) == 1
    run_worker()
    second.refresh()
    assert (second.status, second.return_value) == (TaskResultStatus.SUCCESSFUL, 3)
    third = jobs.unique_add.enqueue(1, 2)  # finished, but still within the window
    assert (third.id, third.status) == (first.id, TaskResultStatus.SUCCESSFUL)


def test_other_arguments_make_another_task(tasks):
    assert jobs.unique_add.enqueue(1, 2).id != jobs.unique_add.enqueue(2, 1).id
    assert jobs.unique_add.enqueue(a=1, b=2).id == jobs.unique_add.enqueue(b=2, a=1).id
    assert left_in(tasks) == 3


def test_a_key_makes_enqueues_alike_whatever_their_arguments(tasks):
    keyed = jobs.add.unique("report-7", within=60)
    first = keyed.enqueue(1, 2)
    assert keyed.enqueue(5, 5).id == first.id
    assert jobs.add.unique("report-8", within=60).enqueue(5, 5).id != first.id
    assert jobs.add.enqueue(1, 2).id != first.id  # not unique without a window


def test_after_the_window_an_enqueue_runs_again(tasks):
    once = jobs.add.unique("brief", within=1)
    first = once.enqueue(1, 1)
    until = time.time() + 1
    eventually(lambda: epoch(time.time()) > epoch(until), "the window passed", timeout=5)
    assert once.enqueue(1, 1).id != first.id
    assert left_in(tasks) == 2


def test_concurrent_enqueues_of_one_key_send_one_task(tasks):
    keyed = jobs.add.unique("raced", within=60)
    ids, start = [], threading.Barrier(8)

    def enqueue():
        start.wait()
        ids.append(keyed.enqueue(1, 2).id)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ids) == 8 and len(set(ids)) == 1
    assert left_in(tasks) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_second_enqueue_returns_the_first_one_to_come(tasks):
    keyed = jobs.add.unique("in-a-transaction", within=60)
    with transaction.atomic():
        first = keyed.enqueue(1, 2)
        second = keyed.enqueue(1, 2)
        assert (second.id, second.status) == (first.id, TaskResultStatus.READY)
        assert left_in(tasks) == 0
    assert left_in(tasks) == 1
    assert tasks.get_result(first.id).status == TaskResultStatus.READY


@pytest.mark.django_db(transaction=True)
def test_a_claim_left_by_a_rolled_back_transaction_is_taken_over(tasks):
    keyed = jobs.add.unique("rolled-back", within=600)
    with pytest.raises(RuntimeError), transaction.atomic():
        keyed.enqueue(1, 2)
        raise RuntimeError("roll back")
    name = unique.claim_name(tasks, keyed, [1, 2], {})
    held = tasks.results.record(name)
    # As if the rollback were PENDING_GRACE seconds ago.
    tasks.results.put(name, {"claimed_at": epoch(time.time() - unique.PENDING_GRACE - 1)})
    again = keyed.enqueue(1, 2)
    assert again.id != held["result"]
    assert tasks.get_result(again.id).status == TaskResultStatus.READY
    assert left_in(tasks) == 1


def test_a_claim_whose_result_is_not_one_is_taken_over(tasks):
    keyed = jobs.add.unique("planted", within=600)
    name = unique.claim_name(tasks, keyed, [1, 2], {})
    tasks.results.put(name, {"result": "../../etc/passwd", "claimed_at": epoch(time.time()),
                             "expires": epoch(time.time() + 600)})
    result = keyed.enqueue(1, 2)
    assert tasks.results.record(name)["result"] == result.id
    assert left_in(tasks) == 1


def test_the_first_enqueue_costs_one_conditional_write_more(tasks):
    with aws_calls(tasks) as calls:
        jobs.unique_add.enqueue(3, 4)
    plain = calls.of("results")
    with aws_calls(tasks) as calls:
        jobs.add.enqueue(3, 4)
    assert len(plain) == len(calls.of("results")) + 1
    assert calls.of("sqs") == ["SendMessage"]


@pytest.mark.parametrize("options, problem", [
    ({"unique_for": 0}, "unique_for"), ({"unique_for": True}, "unique_for"),
    ({"unique_for": 31 * 24 * 3600}, "unique_for"), ({"unique_key": "k"}, "needs a window"),
    ({"unique_for": 60, "unique_key": ""}, "unique key"),
    ({"unique_for": 60, "unique_key": "k" * 501}, "unique key"),
])
def test_unique_options_out_of_bounds_are_invalid(tasks, options, problem):
    with pytest.raises(InvalidTask, match=problem):
        SQSTask(func=jobs.add.func, **options)
