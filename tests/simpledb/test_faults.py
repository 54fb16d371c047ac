"""Latency, failure and stale-read injection, and the control endpoint that changes them."""

import json
import time
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from botocore.exceptions import ClientError

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.faults import Faults
from tests.fixtures.simpledb import ACCESS_KEY, SECRET_KEY, sdb_client

ZERO = {"latency_ms": 0.0, "fail_rate": 0.0, "stale_read_rate": 0.0}


@pytest.fixture
def faults(simpledb_server, domain):
    """The session server's injection settings, zeroed again before `domain` is deleted."""
    yield simpledb_server.faults
    simpledb_server.faults.update(**ZERO)


def control(server, payload=None):
    """GET (payload None) or POST the control endpoint; returns (status, decoded JSON)."""
    url = server.endpoint_url + "/_localaws/simpledb/faults"
    if payload is None:
        request = Request(url, method="GET")
    else:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        request = Request(url, data=data, method="POST",
                          headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def put(sdb, domain, item, value):
    sdb.put_attributes(DomainName=domain, ItemName=item,
                       Attributes=[{"Name": "a", "Value": value, "Replace": True}])


def read(sdb, domain, item, consistent):
    response = sdb.get_attributes(DomainName=domain, ItemName=item, ConsistentRead=consistent)
    return {pair["Name"]: pair["Value"] for pair in response.get("Attributes", [])}


def selected(sdb, domain, consistent):
    response = sdb.select(SelectExpression=f"select * from `{domain}`",
                          ConsistentRead=consistent)
    return {item["Name"]: {pair["Name"]: pair["Value"] for pair in item["Attributes"]}
            for item in response.get("Items", [])}


def error_of(call):
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


# -- latency and failures ----------------------------------------------------------------
def test_latency_makes_a_call_take_at_least_that_long(sdb, faults):
    faults.update(latency_ms=300)
    started = time.monotonic()
    sdb.list_domains()
    assert time.monotonic() - started >= 0.3


def test_fail_rate_one_answers_503_service_unavailable(sdb, faults):
    faults.update(fail_rate=1.0)
    assert error_of(sdb.list_domains) == (503, "ServiceUnavailable")


def test_failed_call_does_not_write(sdb, domain, faults):
    faults.update(fail_rate=1.0)
    with pytest.raises(ClientError):
        put(sdb, domain, "item", "v1")
    faults.update(fail_rate=0)
    assert read(sdb, domain, "item", consistent=True) == {}


@pytest.fixture
def flaky_server():
    """An emulator failing half of all calls, with seeded dice so the run is repeatable."""
    server = SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY}, faults=Faults(seed=20260101)).start()
    yield server
    server.stop()


def test_retried_puts_all_succeed_and_are_stored_at_half_fail_rate(flaky_server):
    sdb = sdb_client(flaky_server.endpoint_url,
                     retries={"mode": "standard", "max_attempts": 10})
    sdb.create_domain(DomainName="flaky")
    flaky_server.faults.update(fail_rate=0.5)
    retries = 0
    for number in range(30):
        response = sdb.put_attributes(
            DomainName="flaky", ItemName=f"item{number:02}",
            Attributes=[{"Name": "n", "Value": str(number)}],
        )
        retries += response["ResponseMetadata"]["RetryAttempts"]
    flaky_server.faults.update(fail_rate=0)
    stored = selected(sdb, "flaky", consistent=True)
    assert stored == {f"item{number:02}": {"n": str(number)} for number in range(30)}
    assert retries > 0  # the dice did fail some attempts, so retries were exercised


# -- stale reads -------------------------------------------------------------------------
def test_stale_get_attributes_returns_the_value_before_the_latest_write(sdb, domain, faults):
    put(sdb, domain, "item", "v1")
    put(sdb, domain, "item", "v2")
    faults.update(stale_read_rate=1.0)
    assert read(sdb, domain, "item", consistent=False) == {"a": "v1"}


def test_consistent_get_attributes_is_never_stale(sdb, domain, faults):
    put(sdb, domain, "item", "v1")
    put(sdb, domain, "item", "v2")
    faults.update(stale_read_rate=1.0)
    assert read(sdb, domain, "item", consistent=True) == {"a": "v2"}


def test_stale_select_sees_the_earlier_state(sdb, domain, faults):
    put(sdb, domain, "one", "v1")
    put(sdb, domain, "one", "v2")
    put(sdb, domain, "two", "w1")
    put(sdb, domain, "two", "w2")
    faults.update(stale_read_rate=1.0)
    assert selected(sdb, domain, consistent=False) == {"one": {"a": "v1"}, "two": {"a": "w1"}}


def test_consistent_select_sees_the_latest_state(sdb, domain, faults):
    put(sdb, domain, "one", "v1")
    put(sdb, domain, "one", "v2")
    faults.update(stale_read_rate=1.0)
    assert selected(sdb, domain, consistent=True) == {"one": {"a": "v2"}}


def test_item_created_by_its_first_write_is_invisible_to_stale_get(sdb, domain, faults):
    put(sdb, domain, "new", "v1")
    faults.update(stale_read_rate=1.0)
    assert read(sdb, domain, "new", consistent=False) == {}


def test_item_created_by_its_first_write_is_invisible_to_stale_select(sdb, domain, faults):
    put(sdb, domain, "old", "v1")
    put(sdb, domain, "old", "v2")
    put(sdb, domain, "new", "v1")
    faults.update(stale_read_rate=1.0)
    assert selected(sdb, domain, consistent=False) == {"old": {"a": "v1"}}


def test_stale_read_rate_zero_never_reads_stale(sdb, domain, faults):
    put(sdb, domain, "item", "v1")
    put(sdb, domain, "item", "v2")
    faults.update(stale_read_rate=0)
    assert all(read(sdb, domain, "item", consistent=False) == {"a": "v2"} for _ in range(20))


# -- the control endpoint and the in-process API -----------------------------------------
def test_control_get_returns_the_settings_as_json(simpledb_server, faults):
    faults.update(latency_ms=5, fail_rate=0.25, stale_read_rate=0.5)
    assert control(simpledb_server) == (
        200, {"latency_ms": 5.0, "fail_rate": 0.25, "stale_read_rate": 0.5}
    )


def test_control_post_changes_the_settings(simpledb_server, faults):
    status, settings = control(simpledb_server, {"stale_read_rate": 0.75})
    assert (status, settings) == (200, {**ZERO, "stale_read_rate": 0.75})
    assert faults.as_dict() == {**ZERO, "stale_read_rate": 0.75}


def test_control_post_takes_effect_on_the_next_call(simpledb_server, sdb, faults):
    control(simpledb_server, {"fail_rate": 1})
    assert error_of(sdb.list_domains) == (503, "ServiceUnavailable")


@pytest.mark.parametrize("payload", [
    {"fail_rate": 2},
    {"latency_ms": 10, "fail_rate": 2},
    {"latency": 10},
    b"fail_rate=1",
    b"[0.5]",
    b'{"latency_ms": 1e999}',
], ids=["rate-above-one", "valid-with-invalid", "unknown-key", "not-json", "not-an-object",
        "infinite-latency"])
def test_control_post_rejects_invalid_settings_with_400_and_changes_nothing(
        simpledb_server, faults, payload):
    faults.update(stale_read_rate=0.5)
    before = control(simpledb_server)[1]
    status, body = control(simpledb_server, payload)
    assert status == 400
    assert isinstance(body.get("error"), str) and body["error"]
    assert control(simpledb_server)[1] == before


def test_in_process_update_takes_effect_on_the_next_call(simpledb_server, sdb, faults):
    simpledb_server.faults.update(fail_rate=1.0)
    assert error_of(sdb.list_domains) == (503, "ServiceUnavailable")


def test_in_process_update_rejects_invalid_values(simpledb_server, faults):
    with pytest.raises(ValueError):
        simpledb_server.faults.update(stale_read_rate=-0.1)
    assert simpledb_server.faults.as_dict() == ZERO
