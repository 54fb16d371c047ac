"""Task results in DynamoDB: the item, expiry on every read, hostile items, the bounded
listing and the worker's whole-item writes.

What does not depend on the store (enqueue, get_result, retries, duplicates, pruning, the
admin pages, call budgets) runs on both stores in tests/tasks; this module holds what is
DynamoDB's own. Each test keeps its results in a fresh table.
"""

import threading
import time
import zlib
from decimal import Decimal

import pytest
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse

from storage_backends import aws
from storage_backends.dynamodb.client import DynamoDBTable
from storage_backends.tasks import messages
from storage_backends.tasks.results import MAX_DOCUMENT_BYTES, epoch
from storage_backends.tasks.results import dynamodb as results_dynamodb
from storage_backends.tasks.worker import Delivery, Worker
from storage_backends.tasks.worker.deliveries import Ledger
from storage_backends.tasks.worker.heartbeat import Heartbeat
from storage_backends.tasks.worker.supervision import Control
from tests.fixtures.zlib_bombs import MIB, zlib_bomb
from tests.tasks import jobs

#: Seconds a test waits for a worker in a thread.
DEADLINE = 30
RETENTION = 3600


@pytest.fixture
def results_store():
    return "dynamodb"


@pytest.fixture
def task_options(dynamodb_table):
    return {"WAIT_SECONDS": 1, "VISIBILITY_TIMEOUT": 5, "RETRY_DELAY": 1, "RETRY_DELAY_MAX": 2,
            "MAX_ATTEMPTS": 3, "MAX_RECEIVE_COUNT": 10, "SHUTDOWN_GRACE": 5,
            "RESULTS_TABLE": dynamodb_table, "RESULT_RETENTION": RETENTION}


@pytest.fixture
def table(tasks):
    """The results table, read and written past the store, as anyone with access could."""
    return DynamoDBTable(tasks.config.results_table, aws.client("dynamodb"))


def plant(table, result_id, expression, values):
    """Change a stored item with an UpdateItem of our own."""
    table.update(result_id, expression, values=values)


def eventually(condition, message):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE} s: {message}")
        time.sleep(0.05)


# -- the item -------------------------------------------------------------------------------
def test_a_result_is_one_item_keyed_by_its_id_expiring_at_its_retention(tasks, table):
    before = time.time()
    result = jobs.add.enqueue(2, 3)
    item = table.get(result.id, consistent=True)
    assert item["k"] == result.id
    assert isinstance(item["x"], Decimal)
    assert before + RETENTION - 1 <= item["x"] <= time.time() + RETENTION
    assert "expires" not in item
    assert (item["status"], item["task"], item["queue"]) == ("READY", "tests.tasks.jobs.add",
                                                             "default")
    assert isinstance(item["v"], bytes) and item["vs3"] == ""


def test_a_document_too_large_for_an_item_goes_to_s3_and_a_smaller_one_stays(tasks):
    text = jobs.random_text.func("sizes", 250_000)
    kept = tasks.results.body("kept", [text], {}, [], None)
    assert isinstance(kept["v"], bytes) and kept["vs3"] == ""
    spilled = tasks.results.body("spilled", [text + text], {}, [], None)
    assert spilled["v"] is None
    assert spilled["vs3"].startswith(f"{tasks.config.payload_prefix}results/")
    assert tasks.results.codec.decode(spilled) == (
        f'{{"args":["{text + text}"],"kwargs":{{}},"errors":[],"return_value":null}}'.encode())


def test_put_sets_the_attributes_it_names_and_keeps_the_others(tasks):
    result = jobs.add.enqueue(2, 3)
    tasks.results.put(result.id, {"status": "RUNNING", "lease": epoch(time.time() + 30)})
    found = tasks.get_result(result.id)
    assert found.status == TaskResultStatus.RUNNING
    assert found.args == [2, 3]


# -- expiry ---------------------------------------------------------------------------------
def test_a_result_past_its_expiry_but_still_stored_does_not_exist(tasks, table):
    result = jobs.add.enqueue(2, 3)
    tasks.results.put(result.id, {"expires": epoch(time.time() - 1)})
    assert table.get(result.id, consistent=True) is not None  # the TTL has not deleted it
    with pytest.raises(TaskResultDoesNotExist):
        tasks.get_result(result.id)
    assert tasks.results.records_of([result.id]) == {}


def test_a_redelivered_task_whose_result_expired_runs_again(tasks, run_worker):
    result = jobs.remember.enqueue("expired", 1)
    run_worker()
    tasks.results.put(result.id, {"expires": epoch(time.time() - 1)})
    tasks.sqs.send(tasks.config.sqs_name("default"), _body_of(result))
    run_worker()
    assert jobs.calls["expired"] == [1, 1]
    assert tasks.get_result(result.id).status == TaskResultStatus.SUCCESSFUL


def _body_of(result):
    return messages.encode(messages.Payload(
        id=result.id, task_path=result.task.module_path, backend=result.backend,
        queue_name=result.task.queue_name, priority=result.task.priority, args=result.args,
        kwargs=result.kwargs, enqueued_at=result.enqueued_at, run_after=None))


def test_an_expiry_that_is_not_a_number_is_no_result(tasks, table):
    result = jobs.add.enqueue(2, 3)
    plant(table, result.id, "SET x = :x", {":x": "tomorrow"})
    with pytest.raises(TaskResultDoesNotExist):
        tasks.get_result(result.id)


# -- hostile items --------------------------------------------------------------------------
def test_an_attribute_stored_as_a_number_reads_as_its_text(tasks, table):
    result = jobs.add.using(priority=7).enqueue(2, 3)
    plant(table, result.id, "SET priority = :p", {":p": 7})
    assert tasks.results.record(result.id)["priority"] == "7"
    assert tasks.get_result(result.id).task.priority == 7


def test_a_planted_time_that_is_no_time_is_an_unreadable_result(tasks, table):
    result = jobs.add.enqueue(2, 3)
    plant(table, result.id, "SET enqueued_at = :t", {":t": 5})
    with pytest.raises(TaskResultDoesNotExist, match="ValueError"):
        tasks.get_result(result.id)


def test_a_zlib_bomb_in_a_result_is_refused_without_being_inflated(tasks, table):
    result = jobs.add.enqueue(2, 3)
    plant(table, result.id, "SET v = :v, vz = :z", {":v": zlib_bomb(64 * MIB), ":z": "1"})
    with pytest.raises(TaskResultDoesNotExist, match=f"more than {MAX_DOCUMENT_BYTES}"):
        tasks.get_result(result.id)


def test_a_document_that_is_not_binary_is_an_unreadable_result(tasks, table):
    result = jobs.add.enqueue(2, 3)
    plant(table, result.id, "SET v = :v, vz = :z", {":v": '{"args": []}', ":z": "0"})
    with pytest.raises(TaskResultDoesNotExist, match="not binary"):
        tasks.get_result(result.id)


def test_a_spill_pointer_outside_the_result_prefix_is_an_unreadable_result(tasks, table):
    result = jobs.add.enqueue(2, 3)
    plant(table, result.id, "SET vs3 = :p REMOVE v", {":p": "media/someone-else"})
    with pytest.raises(TaskResultDoesNotExist, match="outside"):
        tasks.get_result(result.id)


def test_a_document_that_decompresses_to_garbage_is_an_unreadable_result(tasks, table):
    result = jobs.add.enqueue(2, 3)
    plant(table, result.id, "SET v = :v, vz = :z", {":v": zlib.compress(b"[1, 2]"), ":z": "1"})
    with pytest.raises(TaskResultDoesNotExist, match="TypeError"):
        tasks.get_result(result.id)


# -- the listing ----------------------------------------------------------------------------
def test_the_listing_is_complete_when_the_table_holds_no_more_than_it_looks_at(tasks):
    results = tasks.enqueue_many(jobs.add, [((n, n), {}) for n in range(3)])
    listing = tasks.results.listing(limit=10)
    assert listing.complete and listing.scanned == 3
    assert {result_id for result_id, _record in listing} == {r.id for r in results}


def test_the_listing_stops_after_max_scanned_items_and_says_so(tasks, monkeypatch):
    monkeypatch.setattr(results_dynamodb, "MAX_SCANNED", 3)
    tasks.enqueue_many(jobs.add, [((n, n), {}) for n in range(5)])
    listing = tasks.results.listing(limit=10)
    assert not listing.complete and listing.scanned == 3
    assert len(listing) == 3


@pytest.mark.django_db(transaction=True)  # enqueued at once, not on a commit
def test_the_results_page_says_when_the_listing_is_incomplete(tasks, admin_client,
                                                              monkeypatch):
    monkeypatch.setattr(results_dynamodb, "MAX_SCANNED", 2)
    tasks.enqueue_many(jobs.add, [((n, n), {}) for n in range(3)])
    response = admin_client.get(reverse("admin:storage_backends_taskresultrecord_changelist"))
    assert response.status_code == 200
    assert b'id="listing-incomplete"' in response.content
    assert b"more results than the 2 looked at" in response.content


# -- whole-item writes ----------------------------------------------------------------------
def received(tasks, result):
    """A delivery of the result's message, held by this test for 30 s and marked RUNNING
    (a lease of 10 s) as a worker would have marked it."""
    url = tasks.sqs.url(tasks.config.sqs_name("default"))
    [message] = tasks.sqs.receive(url, 1, 0, 30)
    delivery = Delivery(sqs_name=tasks.config.sqs_name("default"), url=url,
                        message_id=message["MessageId"], receipt=message["ReceiptHandle"],
                        body=message["Body"], visible_until=0.0)
    delivery.payload = messages.decode(message["Body"])
    delivery.mark = tasks.results.revised(tasks.results.record(result.id), {
        "status": "RUNNING", "lease": epoch(time.time() + 10), "worker_ids": '["w"]'})
    tasks.results.put_many({result.id: delivery.mark})
    delivery.marked = True
    return delivery


def beat(tasks, delivery):
    ledger = Ledger(concurrency=4)
    ledger.track(delivery)
    ledger.started_task(delivery)
    Heartbeat(tasks, ledger, Control(), threading.Lock(), 30, "w").beat(time.time())


def test_the_heartbeat_extends_a_running_tasks_lease_keeping_the_rest_of_its_item(tasks):
    result = jobs.add.enqueue(2, 3)
    delivery = received(tasks, result)
    first_lease = delivery.mark["lease"]
    beat(tasks, delivery)
    record = tasks.results.record(result.id)
    assert record["lease"] > first_lease
    assert tasks.get_result(result.id).args == [2, 3]


def test_the_heartbeat_writes_no_lease_over_an_outcome_being_written(tasks):
    """A batch write replaces the whole item: a lease written after the outcome would make
    the task RUNNING again, its message already deleted."""
    result = jobs.add.enqueue(2, 3)
    delivery = received(tasks, result)
    tasks.results.put_many({result.id: {**delivery.mark, "status": "SUCCESSFUL",
                                        "lease": ""}})
    delivery.finished = True
    beat(tasks, delivery)
    assert tasks.results.record(result.id)["status"] == "SUCCESSFUL"


class TestLongTask:
    """A 2 s visibility timeout: the heartbeat extends the lease within a second."""

    @pytest.fixture
    def task_options(self, task_options):
        return {**task_options, "VISIBILITY_TIMEOUT": 2}

    def test_a_task_longer_than_its_visibility_ends_successful_with_its_lease_released(
            self, tasks):
        """Marked RUNNING, its lease extended, its outcome written last: all whole-item
        writes."""
        run_held_task(tasks)


def run_held_task(tasks):
    jobs.release.clear()
    result = jobs.held.enqueue("long", DEADLINE)
    worker = Worker(tasks, wait_seconds=0, concurrency=2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: tasks.results.record(result.id).get("status") == "RUNNING",
                   "the task was marked RUNNING")
        first_lease = tasks.results.record(result.id)["lease"]
        eventually(lambda: tasks.results.record(result.id)["lease"] > first_lease,
                   "the heartbeat extended its lease")
        jobs.release.set()
        eventually(lambda: tasks.get_result(result.id).status == TaskResultStatus.SUCCESSFUL,
                   "the task finished")
    finally:
        jobs.release.set()
        worker.stop()
        thread.join(DEADLINE)
    assert tasks.results.record(result.id)["lease"] == ""
    assert tasks.get_result(result.id).return_value == "long"
    assert jobs.calls["long"] == ["started"]
