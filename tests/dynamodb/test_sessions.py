"""The DynamoDB session engine beyond the contract (tests/sessions/contract.py, run on it by
tests/sessions/test_contract.py): call budgets, stored items, conditional writes, expiry,
hostile data, failure."""

import logging
import math
import random
import string
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from storage_backends import aws
from storage_backends.checks import check_dynamodb_sessions
from storage_backends.dynamodb.client import DynamoDBTable
from storage_backends.dynamodb.errors import NoSuchTable, Unavailable, ValueTooLarge
from storage_backends import session_keys
from storage_backends.session_keys import CREATE_ATTEMPTS
from storage_backends.dynamodb.sessions import (
    MAX_ENCODED_BYTES,
    SessionStore,
)
from tests.fixtures.calls import counting_calls

ENGINE = "storage_backends.dynamodb.sessions"
LOGGER = "storage_backends.dynamodb.sessions"
#: A time long past and one far ahead, as stored expiries.
PAST, FUTURE = 1_000_000_000, 4_000_000_000


@pytest.fixture(autouse=True)
def table(settings, dynamodb_table):
    """A new, empty table as DYNAMODB_SESSIONS_TABLE: each test sees only its own items."""
    settings.DYNAMODB_SESSIONS_TABLE = dynamodb_table
    return DynamoDBTable(dynamodb_table, aws.client("dynamodb"))


@pytest.fixture
def ddb():
    """The process's boto3 DynamoDB client: the one the session engine calls through."""
    return aws.client("dynamodb")


@pytest.fixture
def site(settings, client):
    """Django's test client on this engine, with the views of tests/sessions/urls.py."""
    settings.SESSION_ENGINE = ENGINE
    settings.ROOT_URLCONF = "tests.sessions.urls"
    return client


@contextmanager
def capturing_params(client):
    """Record (operation, API parameters) of each DynamoDB call the client makes."""
    calls = []

    def record(params, model, **kwargs):
        calls.append((model.name, dict(params)))

    client.meta.events.register("before-parameter-build.dynamodb", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def saved(**data):
    """A new session holding `data`, saved; its key."""
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def items(table):
    """{key: item} of everything in the table, read consistently."""
    return {item["k"]: item for item in table.scan(consistent=True)}


# -- call budgets -------------------------------------------------------------------------
def test_load_is_one_consistent_get_of_the_whole_item(ddb, table):
    key = saved(cat="dog")
    store = SessionStore(key)
    with capturing_params(ddb) as calls:
        assert store["cat"] == "dog"
        assert store.get("bird") is None  # loaded once, then from memory
    assert calls == [("GetItem", {
        "TableName": table.table, "Key": {"k": {"S": key}}, "ConsistentRead": True,
    })]


def test_exists_is_one_consistent_get(ddb):
    key = saved(cat="dog")
    with capturing_params(ddb) as calls:
        assert SessionStore().exists(key)
    [(operation, params)] = calls
    assert operation == "GetItem"
    assert params["ConsistentRead"] is True


def test_create_with_a_free_key_is_one_put_conditional_on_its_absence(ddb):
    store = SessionStore()
    with capturing_params(ddb) as calls:
        store.create()
    [(operation, params)] = calls
    assert operation == "PutItem"
    assert params["ConditionExpression"] == "attribute_not_exists(#k)"
    assert params["ExpressionAttributeNames"] == {"#k": "k"}


def test_saving_a_new_session_is_one_put(ddb):
    store = SessionStore()
    store["cat"] = "dog"
    with counting_calls(ddb) as calls:
        store.save()
    assert calls == ["PutItem"]


def test_saving_a_loaded_session_is_one_put_conditional_on_its_presence(ddb):
    store = SessionStore(saved(cat="dog"))
    store["cat"] = "mouse"
    with capturing_params(ddb) as calls:
        store.save()
    [(operation, params)] = calls
    assert operation == "PutItem"
    assert params["ConditionExpression"] == "attribute_exists(#k)"


def test_delete_is_one_call(ddb):
    store = SessionStore(saved(cat="dog"))
    with counting_calls(ddb) as calls:
        store.delete()
    assert calls == ["DeleteItem"]


def test_cycle_key_of_a_loaded_session_is_one_put_and_one_delete(ddb):
    store = SessionStore(saved(cat="dog"))
    assert store["cat"] == "dog"
    with counting_calls(ddb) as calls:
        store.cycle_key()
    assert calls == ["PutItem", "DeleteItem"]


def test_a_request_without_a_session_cookie_makes_no_call(site, ddb):
    with counting_calls(ddb) as calls:
        assert site.get("/read/").content == b"None"
    assert calls == []


def test_a_request_that_reads_the_session_makes_one_call_and_no_write(site, ddb):
    site.get("/write/")
    with counting_calls(ddb) as calls:
        response = site.get("/read/")
    assert response.content == b"1"
    assert calls == ["GetItem"]


def test_a_request_that_changes_the_session_reads_once_and_writes_once(site, ddb):
    site.get("/write/")
    with counting_calls(ddb) as calls:
        assert site.get("/write/").content == b"2"
    assert calls == ["GetItem", "PutItem"]


def test_a_new_session_through_the_site_is_one_put(site, ddb, table):
    with counting_calls(ddb) as calls:
        response = site.get("/write/")
    assert calls == ["PutItem"]
    assert response.cookies["sessionid"].value in items(table)


# -- the stored item ----------------------------------------------------------------------
def test_a_session_is_one_item_of_key_encoded_data_and_expiry_seconds(table):
    store = SessionStore()
    store["cat"] = "dog"
    store.set_expiry(timedelta(seconds=100))
    store.save()
    [item] = items(table).values()
    assert set(item) == {"k", "d", "x"}
    assert item["k"] == store.session_key
    assert store.decode(item["d"])["cat"] == "dog"
    assert item["x"] == math.ceil(store.get_expiry_date().timestamp())


# -- conditional writes -------------------------------------------------------------------
def test_must_create_on_a_taken_key_raises_create_error_and_changes_nothing(table):
    key = saved(cat="dog")
    before = table.get(key, consistent=True)
    intruder = SessionStore(key)
    intruder._session_cache = {"cat": "mouse"}
    with pytest.raises(CreateError):
        intruder.save(must_create=True)
    assert table.get(key, consistent=True) == before


def test_create_tries_another_key_when_one_is_taken(ddb, monkeypatch):
    taken = saved(cat="dog")
    fresh = "f" * 32
    keys = iter([taken, fresh])
    monkeypatch.setattr(session_keys, "get_random_string", lambda length, chars: next(keys))
    store = SessionStore()
    with counting_calls(ddb) as calls:
        store.create()
    assert store.session_key == fresh
    assert calls == ["PutItem", "PutItem"]
    assert SessionStore(taken)["cat"] == "dog"


def test_create_gives_up_after_a_bounded_number_of_taken_keys(ddb, monkeypatch):
    taken = saved(cat="dog")
    monkeypatch.setattr(session_keys, "get_random_string", lambda length, chars: taken)
    with counting_calls(ddb) as calls, pytest.raises(RuntimeError, match="Unable to create"):
        SessionStore().create()
    assert calls == ["PutItem"] * CREATE_ATTEMPTS


def test_update_of_a_session_deleted_meanwhile_raises_update_error(ddb, table):
    key = saved(cat="dog")
    mine = SessionStore(key)
    mine["cat"] = "mouse"
    SessionStore(key).delete()
    with counting_calls(ddb) as calls, pytest.raises(UpdateError):
        mine.save()
    assert calls == ["PutItem"]
    assert table.get(key, consistent=True) is None  # not resurrected


def test_update_of_a_session_deleted_meanwhile_is_http_400(site, table):
    key = site.get("/write/").cookies["sessionid"].value
    response = site.get("/write-after-logout/")
    assert response.status_code == 400
    assert table.get(key, consistent=True) is None


# -- expiry and clear_expired -------------------------------------------------------------
def test_an_expired_item_still_in_the_table_is_no_session(table):
    # As TTL leaves it, for up to days: the item is there, its expiry passed.
    key = saved(cat="dog")
    table.put(key, {**table.get(key, consistent=True), "x": PAST})
    store = SessionStore(key)
    assert not store.exists(key)
    assert "cat" not in store
    assert store.session_key is None


def test_an_expired_item_is_not_resurrected_by_a_save(table):
    key = saved(cat="dog")
    table.put(key, {**table.get(key, consistent=True), "x": PAST})
    store = SessionStore(key)
    store["bird"] = "fish"
    store.save()
    assert store.session_key != key
    assert table.get(key, consistent=True)["x"] == PAST  # left for TTL or clearsessions


def _sessions_with_expiries():
    """Three live sessions and 30 expired ones (30 > one batch of 25): their keys."""
    live = [saved(n=1)]
    browser = SessionStore()
    browser["n"] = 2
    browser.set_expiry(0)  # until the browser closes: the cookie age in storage
    browser.save()
    live.append(browser.session_key)
    later = SessionStore()
    later["n"] = 3
    later.set_expiry(timedelta(days=30))
    later.save()
    live.append(later.session_key)
    expired = []
    for expiry in [-1, -3600, timedelta(seconds=-5)] + [-10] * 27:
        store = SessionStore()
        store["n"] = 0
        store.set_expiry(expiry)
        store.save()
        expired.append(store.session_key)
    return live, expired


def test_clear_expired_deletes_exactly_the_expired_items(ddb, table):
    live, expired = _sessions_with_expiries()
    with capturing_params(ddb) as calls:
        SessionStore.clear_expired()
    assert [operation for operation, _ in calls] == ["Scan", "BatchWriteItem",
                                                     "BatchWriteItem"]
    assert calls[0][1]["ConsistentRead"] is True
    assert sorted(items(table)) == sorted(live)
    assert [SessionStore(key)["n"] for key in live] == [1, 2, 3]


def test_clear_expired_with_nothing_expired_deletes_nothing(ddb):
    key = saved(n=1)
    with counting_calls(ddb) as calls:
        SessionStore.clear_expired()
    assert calls == ["Scan"]
    assert SessionStore(key)["n"] == 1


def test_clearsessions_command_clears_expired_sessions(settings, table):
    settings.SESSION_ENGINE = ENGINE
    live, _ = _sessions_with_expiries()
    call_command("clearsessions")
    assert sorted(items(table)) == sorted(live)


# -- hostile or damaged data --------------------------------------------------------------
def test_tampered_data_reads_as_an_empty_session_and_is_logged(table, caplog):
    key = saved(cat="dog")
    store = SessionStore(key)
    forged = signing.dumps({"_auth_user_id": "1"}, key="guessed secret", salt=store.key_salt,
                           compress=True)
    table.put(key, {"d": forged, "x": FUTURE})
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert store.load() == {}
    assert "Session data corrupted" in caplog.text


@pytest.mark.parametrize("item", [
    {"x": FUTURE},                            # no data
    {"d": 42, "x": FUTURE},                   # data of another type
    {"d": b"binary", "x": FUTURE},
    {"d": "text"},                            # no expiry
    {"d": "text", "x": "4000000000"},         # expiry of another type
], ids=["no-data", "numeric-data", "binary-data", "no-expiry", "string-expiry"])
def test_a_corrupt_item_is_no_session_and_is_logged_without_its_key(table, caplog, item):
    key = saved(cat="dog")
    table.put(key, item)
    store = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert store.load() == {}
    assert store.session_key is None
    assert "session unreadable" in caplog.text
    assert key not in caplog.text  # a session key is a credential: never in logs


def test_data_longer_than_any_session_saved_is_no_session_and_not_decoded(table, caplog,
                                                                        monkeypatch):
    key = saved(cat="dog")
    table.put(key, {"d": "a" * (MAX_ENCODED_BYTES + 1), "x": FUTURE})
    monkeypatch.setattr(SessionStore, "decode", lambda self, data: pytest.fail("decoded"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert SessionStore(key).load() == {}
    assert f"over {MAX_ENCODED_BYTES}" in caplog.text


@pytest.mark.parametrize("cookie", [
    "ABCDEFGHIJKLMNOP",              # uppercase: never made by this engine
    "abcdefgh:signed-cookie-value",  # the old signed-cookie engine's cookies
    "abcdefgh\x00ijkl",
    "é" * 16,
    "a" * 1025,                      # longer than this engine looks up
])
def test_a_cookie_that_cannot_name_a_session_is_no_session_and_no_call(ddb, cookie):
    with counting_calls(ddb) as calls:
        store = SessionStore(cookie)
        assert store.session_key is None
        assert store.get("cat") is None
        assert not store.exists(cookie)
        store.delete(cookie)
    assert calls == []


# -- size ---------------------------------------------------------------------------------
def _blobs_around(limit):
    """Two session values: the longest whose session's encoding is at most `limit`
    characters, and that one character longer, whose encoding is over it."""
    noise = "".join(random.Random(12).choices(string.ascii_letters + string.digits,
                                              k=2 * limit))
    store = SessionStore()
    low, high = 0, len(noise)
    # Each length tried is encoded (no calls): high + 1 is always one found too long.
    while low < high:
        middle = (low + high + 1) // 2
        if len(store.encode({"blob": noise[:middle]})) <= limit:
            low = middle
        else:
            high = middle - 1
    return noise[:low], noise[:low + 1]


def test_the_largest_session_within_the_bound_is_stored_in_one_put(ddb, table):
    store = SessionStore()
    store["blob"], _ = _blobs_around(MAX_ENCODED_BYTES)
    with counting_calls(ddb) as calls:
        store.save()
    assert calls == ["PutItem"]
    assert SessionStore(store.session_key)["blob"] == store["blob"]


def test_a_session_over_the_bound_is_value_too_large_and_makes_no_call(ddb, table):
    store = SessionStore()
    _, store["blob"] = _blobs_around(MAX_ENCODED_BYTES)
    with counting_calls(ddb) as calls, pytest.raises(
            ValueTooLarge, match="session too large for one DynamoDB item"):
        store.save()
    assert calls == []
    assert items(table) == {}


# -- configuration ------------------------------------------------------------------------
@pytest.mark.parametrize("name", [None, "", "ab", "has space", "x" * 256, 42])
def test_a_bad_table_setting_is_improperly_configured(settings, name):
    settings.DYNAMODB_SESSIONS_TABLE = name
    with pytest.raises(ImproperlyConfigured, match="DYNAMODB_SESSIONS_TABLE"):
        SessionStore()
    with pytest.raises(ImproperlyConfigured, match="DYNAMODB_SESSIONS_TABLE"):
        SessionStore.clear_expired()


def test_a_bad_table_setting_fails_the_system_check(settings):
    settings.SESSION_ENGINE = ENGINE
    settings.DYNAMODB_SESSIONS_TABLE = "x"
    [error] = check_dynamodb_sessions(None)
    assert error.id == "storage_backends.E006"


def test_the_table_check_is_silent_for_other_engines(settings):
    settings.SESSION_ENGINE = "storage_backends.simpledb.sessions"
    settings.DYNAMODB_SESSIONS_TABLE = "x"
    assert check_dynamodb_sessions(None) == []


def test_a_missing_table_is_an_error_not_a_logout(settings):
    key = saved(cat="dog")
    settings.DYNAMODB_SESSIONS_TABLE = "not-provisioned"
    with pytest.raises(NoSuchTable):
        SessionStore(key).load()


# -- DynamoDB unreachable -----------------------------------------------------------------
def test_with_dynamodb_unreachable_load_raises_unavailable(dynamodb_outage):
    key = saved(cat="dog")
    dynamodb_outage.start()
    store = SessionStore(key)
    with pytest.raises(Unavailable):
        store.load()
    with pytest.raises(Unavailable):
        store.get("cat")  # never a silent log-out


def test_with_dynamodb_unreachable_writes_raise_unavailable(dynamodb_outage):
    dynamodb_outage.start()
    store = SessionStore()
    store["cat"] = "dog"
    with pytest.raises(Unavailable):
        store.save()
    with pytest.raises(Unavailable):
        SessionStore().exists("a" * 32)
    with pytest.raises(Unavailable):
        SessionStore().delete("a" * 32)
    with pytest.raises(Unavailable):
        SessionStore.clear_expired()


@pytest.mark.django_db
def test_with_dynamodb_unreachable_a_logged_in_user_gets_the_503_page_and_stays_logged_in(
        settings, client, django_user_model, dynamodb_outage):
    settings.SESSION_ENGINE = ENGINE
    client.force_login(django_user_model.objects.create_user("alice"))
    dynamodb_outage.start()
    response = client.get("/library/")
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content
    dynamodb_outage.end()
    assert client.get("/library/").status_code == 200
