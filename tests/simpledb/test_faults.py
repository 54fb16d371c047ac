"""Latency, failure and stale-read injection, and the control endpoint that changes them."""

import json
import time

import pytest
from botocore.auth import SigV2Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.control import PATH as CONTROL_PATH
from localaws.simpledb.control import change_faults
from localaws.simpledb.faults import Faults
from tests.fixtures.simpledb import ACCESS_KEY, SECRET_KEY, raw_request, sdb_client

ZERO = {"latency_ms": 0.0, "fail_rate": 0.0, "stale_read_rate": 0.0}


@pytest.fixture
def faults(simpledb_server, domain):
    """The session server's injection settings, zeroed again before `domain` is deleted."""
    yield simpledb_server.faults
    simpledb_server.faults.update(**ZERO)


def control(server, settings=None, method=None, **signing):
    """GET (no settings) or POST the control endpoint, signed with the test keys unless
    `signing` says otherwise; returns (status, decoded JSON)."""
    method = method or ("POST" if settings else "GET")
    response = raw_request(server.endpoint_url, settings or {}, method=method,
                           path=CONTROL_PATH, **signing)
    return response.status, json.loads(response.body)


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


# -- authentication comes before injected faults -----------------------------------------
def test_unsigned_call_is_refused_403_even_when_every_call_fails(simpledb_server, faults):
    faults.update(fail_rate=1.0)
    response = raw_request(simpledb_server.endpoint_url, {"Action": "ListDomains"}, sign=False)
    assert (response.status, response.error_code) == (403, "AuthMissingFailure")


def test_wrong_secret_is_refused_403_even_when_every_call_fails(simpledb_server, faults):
    faults.update(fail_rate=1.0)
    client = sdb_client(simpledb_server.endpoint_url, secret_key="not-the-secret")
    assert error_of(client.list_domains) == (403, "AuthFailure")


# -- the control endpoint and the in-process API -----------------------------------------
def test_control_get_returns_the_settings_as_json(simpledb_server, faults):
    faults.update(latency_ms=5, fail_rate=0.25, stale_read_rate=0.5)
    assert control(simpledb_server) == (
        200, {"latency_ms": 5.0, "fail_rate": 0.25, "stale_read_rate": 0.5}
    )


def test_control_post_changes_the_settings(simpledb_server, faults):
    status, settings = control(simpledb_server, {"stale_read_rate": "0.75"})
    assert (status, settings) == (200, {**ZERO, "stale_read_rate": 0.75})
    assert faults.as_dict() == {**ZERO, "stale_read_rate": 0.75}


def test_control_post_takes_effect_on_the_next_call(simpledb_server, sdb, faults):
    control(simpledb_server, {"fail_rate": "1"})
    assert error_of(sdb.list_domains) == (503, "ServiceUnavailable")


@pytest.mark.parametrize("settings", [
    {"fail_rate": "2"},
    {"latency_ms": "10", "fail_rate": "2"},
    {"latency": "10"},
    {"fail_rate": "half"},
    {"latency_ms": "1e999"},
], ids=["rate-above-one", "valid-with-invalid", "unknown-key", "not-a-number",
        "infinite-latency"])
def test_control_post_rejects_invalid_settings_with_400_and_changes_nothing(
        simpledb_server, faults, settings):
    faults.update(stale_read_rate=0.5)
    before = control(simpledb_server)[1]
    status, body = control(simpledb_server, settings)
    assert status == 400
    assert isinstance(body.get("error"), str) and body["error"]
    assert control(simpledb_server)[1] == before


def test_control_get_with_settings_is_refused_and_changes_nothing(simpledb_server, faults):
    assert control(simpledb_server, {"fail_rate": "1"}, method="GET")[0] == 400
    assert faults.as_dict() == ZERO


@pytest.mark.parametrize("signing", [
    {"sign": False},
    {"secret_key": "not-the-secret"},
    {"access_key": "AKIDSOMEONEELSE"},
], ids=["unsigned", "wrong-secret", "unknown-key"])
def test_control_refuses_requests_not_signed_with_the_key_pair(simpledb_server, faults, signing):
    for method, settings in (("GET", None), ("POST", {"fail_rate": "1"})):
        status, body = control(simpledb_server, settings, method=method, **signing)
        assert status == 403, body
        assert body["error"] in ("AuthFailure", "AuthMissingFailure")
    assert faults.as_dict() == ZERO


def test_control_signature_covers_its_path(simpledb_server, faults):
    """A request signed for the API path cannot be replayed to the control endpoint."""
    params = {"fail_rate": "1"}
    request = AWSRequest(method="POST", url=simpledb_server.endpoint_url + "/", data=params)
    SigV2Auth(Credentials(ACCESS_KEY, SECRET_KEY)).add_auth(request)
    response = raw_request(simpledb_server.endpoint_url, dict(request.data), sign=False,
                           path=CONTROL_PATH)
    assert response.status == 403
    assert faults.as_dict() == ZERO


@pytest.fixture
def server_without_control():
    server = SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY}).start()
    yield server
    server.stop()


def test_control_endpoint_is_off_unless_asked_for(server_without_control):
    status, body = control(server_without_control, {"fail_rate": "1"})
    assert status == 404 and "--control" in body["error"]
    assert server_without_control.faults.as_dict() == ZERO


@pytest.fixture
def open_server_with_control():
    server = SimpleDBServer(keys=None, control=True).start()
    yield server
    server.stop()


def test_control_of_an_emulator_taking_any_credentials_takes_any_request(
        open_server_with_control):
    status, settings = control(open_server_with_control, {"latency_ms": "1"}, sign=False)
    assert (status, settings["latency_ms"]) == (200, 1.0)


def test_change_faults_signs_its_requests(simpledb_server, faults):
    settings = change_faults(simpledb_server.endpoint_url, ACCESS_KEY, SECRET_KEY,
                             fail_rate=0.5)
    assert settings == {**ZERO, "fail_rate": 0.5}
    assert change_faults(simpledb_server.endpoint_url, ACCESS_KEY, SECRET_KEY) == settings
    with pytest.raises(RuntimeError, match="403"):
        change_faults(simpledb_server.endpoint_url, fail_rate=0)


def test_in_process_update_takes_effect_on_the_next_call(simpledb_server, sdb, faults):
    simpledb_server.faults.update(fail_rate=1.0)
    assert error_of(sdb.list_domains) == (503, "ServiceUnavailable")


def test_in_process_update_rejects_invalid_values(simpledb_server, faults):
    with pytest.raises(ValueError):
        simpledb_server.faults.update(stale_read_rate=-0.1)
    assert simpledb_server.faults.as_dict() == ZERO
