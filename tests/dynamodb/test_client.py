"""The shared DynamoDB client against the local stack's DynamoDB (moto), over real HTTP."""

import time

import pytest

from storage_backends import aws
from storage_backends.dynamodb.client import DynamoDBTable, live
from storage_backends.dynamodb.errors import ConditionFailed, NoSuchTable, Unavailable
from tests.fixtures.localaws import reset_aws_clients


@pytest.fixture
def table(dynamodb_table):
    return DynamoDBTable(dynamodb_table, aws.client("dynamodb"))


def test_an_item_reads_back_as_plain_values(table):
    table.put("a", {"v": b"\x00bytes", "n": 3, "s": "text"})
    assert table.get("a", consistent=True) == {"k": "a", "v": b"\x00bytes", "n": 3,
                                               "s": "text"}
    assert table.get("missing") is None


def test_a_failed_condition_is_condition_failed(table):
    table.put("a", {"n": 1}, condition="attribute_not_exists(k)")
    with pytest.raises(ConditionFailed):
        table.put("a", {"n": 2}, condition="attribute_not_exists(k)")
    assert table.get("a", consistent=True)["n"] == 1


def test_update_adds_atomically_and_returns_the_new_value(table):
    table.put("c", {"n": 5})
    assert table.update("c", "ADD n :one", values={":one": 1}, returning="UPDATED_NEW") == {
        "n": 6}


def test_many_items_are_written_read_and_deleted_in_batches(table):
    table.put_many({f"i{n}": {"n": n} for n in range(60)})
    found = table.get_many([f"i{n}" for n in range(0, 120, 2)], consistent=True)
    assert sorted(found) == sorted(f"i{n}" for n in range(0, 60, 2))
    table.delete_many([f"i{n}" for n in range(60)])
    assert list(table.scan(consistent=True)) == []


def test_scan_filters_and_pages(table):
    table.put_many({f"i{n}": {"x": n} for n in range(30)})
    old = table.scan(condition="#x < :t", names={"#x": "x"}, values={":t": 10},
                     attributes=["k"])
    assert sorted(item["k"] for item in old) == sorted(f"i{n}" for n in range(10))


def test_an_expired_item_is_not_live_though_still_stored(table):
    table.put("old", {"x": int(time.time()) - 1})
    item = table.get("old", consistent=True)
    assert item is not None and not live(item)
    assert live({"k": "new", "x": int(time.time()) + 60}) and live({"k": "forever"})


def test_a_missing_table_is_no_such_table(django_on_local_aws):
    with pytest.raises(NoSuchTable):
        DynamoDBTable("no-such-table", aws.client("dynamodb")).get("a")


def test_an_unreachable_endpoint_is_unavailable(settings, dynamodb_table):
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS,
                                  "dynamodb": "http://127.0.0.1:9"}
    settings.AWS_MAX_ATTEMPTS = 1
    reset_aws_clients()
    try:
        with pytest.raises(Unavailable):
            DynamoDBTable(dynamodb_table, aws.client("dynamodb")).get("a")
    finally:
        reset_aws_clients()
