"""The SimpleDB session engine beyond the contract: call budgets, consistency, storage, failure."""

import logging
import math
import secrets
import zlib
from datetime import datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone

from localaws.simpledb import SimpleDBServer
from storage_backends import aws
from storage_backends.simpledb.client import (
    NoSuchDomain,
    SimpleDBClient,
    Unavailable,
    ValueCodec,
    ValueTooLarge,
)
from storage_backends import session_keys
from storage_backends.session_keys import CREATE_ATTEMPTS
from storage_backends.simpledb.sessions import (
    CAPACITY,
    RESERVED_ATTRIBUTES,
    SessionStore,
    expiry_value,
)
from tests.fixtures.simpledb import count_items, counting_calls, stored

from .conftest import ENGINE, capturing_params
from .contract import async_test

def chunk_names(pairs):
    """The names of the codec's chunk attributes (v000, v001, ...) among (name, value) pairs."""
    return [name for name, _ in pairs if name[0] == "v" and name[1:].isdigit()]


def saved(**data):
    """A new session holding `data`, saved; its key."""
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def item(sdb, domain, key):
    return dict(stored(sdb, domain, key))


def stored_size(store):
    """Bytes the codec must fit in an item for the store's data: compressed if that helps."""
    encoded = store.encode(dict(store.items())).encode()
    return min(len(encoded), len(zlib.compress(encoded, 6)))


@pytest.fixture
def site(settings, client):
    """Django's test client on this engine, with the views of tests/sessions/urls.py."""
    settings.SESSION_ENGINE = ENGINE
    settings.ROOT_URLCONF = "tests.sessions.urls"
    return client


# -- call budgets -------------------------------------------------------------------------
def test_load_is_one_consistent_get_of_the_whole_item(sdb, sessions_domain):
    key = saved(cat="dog")
    store = SessionStore(key)
    with capturing_params(sdb) as calls:
        assert store["cat"] == "dog"
        assert store.get("bird") is None  # loaded once, then from memory
    assert calls == [("GetAttributes", {
        "DomainName": sessions_domain, "ItemName": key, "ConsistentRead": True,
    })]


def test_exists_is_one_consistent_get(sdb):
    key = saved(cat="dog")
    with capturing_params(sdb) as calls:
        assert SessionStore().exists(key)
    [(operation, params)] = calls
    assert operation == "GetAttributes"
    assert params["ConsistentRead"] is True


def test_create_with_a_free_key_is_one_put(sdb):
    store = SessionStore()
    with counting_calls(sdb) as calls:
        store.create()
    assert calls == ["PutAttributes"]


def test_saving_a_new_session_is_one_put(sdb):
    store = SessionStore()
    store["cat"] = "dog"
    with counting_calls(sdb) as calls:
        store.save()
    assert calls == ["PutAttributes"]


@pytest.mark.parametrize("size", [0, 1_000, 10_000, 100_000, 140_000])
def test_save_is_one_put_whatever_the_size(sdb, sessions_domain, size):
    key = saved(cat="dog")
    store = SessionStore(key)
    store["blob"] = secrets.token_urlsafe(size)[:size]
    assert store.modified
    assert stored_size(store) <= CAPACITY
    with counting_calls(sdb) as calls:
        store.save()
    assert calls == ["PutAttributes"]
    assert SessionStore(key)["blob"] == store["blob"]


def test_a_100kb_session_is_chunked_into_one_item(sdb, sessions_domain):
    store = SessionStore()
    store["blob"] = secrets.token_urlsafe(75_000)  # 100,000 characters
    store.save()
    pairs = stored(sdb, sessions_domain, store.session_key)
    assert len(chunk_names(pairs)) == int(dict(pairs)["vn"]) >= 100
    assert count_items(sdb, sessions_domain) == 1
    assert SessionStore(store.session_key)["blob"] == store["blob"]


def test_delete_is_one_call(sdb):
    store = SessionStore(saved(cat="dog"))
    with counting_calls(sdb) as calls:
        store.delete()
    assert calls == ["DeleteAttributes"]


def test_cycle_key_of_a_loaded_session_is_one_put_and_one_delete(sdb):
    store = SessionStore(saved(cat="dog"))
    assert store["cat"] == "dog"
    with counting_calls(sdb) as calls:
        store.cycle_key()
    assert calls == ["PutAttributes", "DeleteAttributes"]


def test_a_request_without_a_session_cookie_makes_no_call(site, sdb):
    with counting_calls(sdb) as calls:
        assert site.get("/read/").content == b"None"
    assert calls == []


def test_a_request_that_reads_the_session_makes_one_call_and_no_write(site, sdb):
    site.get("/write/")
    with counting_calls(sdb) as calls:
        response = site.get("/read/")
    assert response.content == b"1"
    assert calls == ["GetAttributes"]


def test_a_request_that_changes_the_session_reads_once_and_writes_once(site, sdb):
    site.get("/write/")
    with counting_calls(sdb) as calls:
        assert site.get("/write/").content == b"2"
    assert calls == ["GetAttributes", "PutAttributes"]


def test_a_new_session_through_the_site_is_one_put(site, sdb, sessions_domain):
    with counting_calls(sdb) as calls:
        response = site.get("/write/")
    assert calls == ["PutAttributes"]
    key = response.cookies["sessionid"].value
    assert item(sdb, sessions_domain, key)["s"] == "1"


# -- conditional writes -------------------------------------------------------------------
def test_must_create_on_a_taken_key_raises_create_error_and_changes_nothing(sdb,
                                                                           sessions_domain):
    key = saved(cat="dog")
    before = stored(sdb, sessions_domain, key)
    intruder = SessionStore(key)
    intruder._session_cache = {"cat": "mouse"}
    with pytest.raises(CreateError):
        intruder.save(must_create=True)
    assert stored(sdb, sessions_domain, key) == before
    assert SessionStore(key)["cat"] == "dog"


def test_create_tries_another_key_when_one_is_taken(sdb, monkeypatch):
    taken = saved(cat="dog")
    fresh = "f" * 32
    keys = iter([taken, fresh])
    monkeypatch.setattr(session_keys, "get_random_string", lambda length, chars: next(keys))
    store = SessionStore()
    with counting_calls(sdb) as calls:
        store.create()
    assert store.session_key == fresh
    assert calls == ["PutAttributes", "PutAttributes"]
    assert SessionStore(taken)["cat"] == "dog"


def test_create_gives_up_after_a_bounded_number_of_taken_keys(sdb, monkeypatch):
    taken = saved(cat="dog")
    monkeypatch.setattr(session_keys, "get_random_string", lambda length, chars: taken)
    with counting_calls(sdb) as calls, pytest.raises(RuntimeError, match="Unable to create"):
        SessionStore().create()
    assert calls == ["PutAttributes"] * CREATE_ATTEMPTS


def test_update_of_a_session_deleted_meanwhile_raises_update_error(sdb, sessions_domain):
    key = saved(cat="dog")
    mine = SessionStore(key)
    mine["cat"] = "mouse"
    SessionStore(key).delete()
    with counting_calls(sdb) as calls, pytest.raises(UpdateError):
        mine.save()
    assert calls == ["PutAttributes"]
    assert stored(sdb, sessions_domain, key) == []  # not resurrected


def test_update_of_a_session_deleted_meanwhile_is_http_400(site, sdb, sessions_domain):
    key = site.get("/write/").cookies["sessionid"].value
    response = site.get("/write-after-logout/")
    assert response.status_code == 400
    assert stored(sdb, sessions_domain, key) == []


# -- expiry and clear_expired -------------------------------------------------------------
def test_expiry_is_stored_as_fixed_width_epoch_seconds(sdb, sessions_domain):
    moment = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    store = SessionStore()
    store["cat"] = "dog"
    store.set_expiry(moment)
    store.save()
    stored_expiry = item(sdb, sessions_domain, store.session_key)["x"]
    assert stored_expiry == f"{int(moment.timestamp()):012d}"


def test_expiry_values_order_as_strings_as_they_do_as_numbers():
    values = [-5, 0, 9, 10, 999_999_999, 1_000_000_000, 10**12 + 5]
    encoded = [expiry_value(v) for v in values]
    assert all(len(v) == 12 for v in encoded)
    assert encoded == sorted(encoded)
    assert expiry_value(-5) == expiry_value(0)  # before 1970 is simply long expired


def test_an_expired_item_is_no_session_and_is_not_resurrected(sdb, sessions_domain):
    store = SessionStore()
    store["cat"] = "dog"
    store.set_expiry(-10)
    store.save()
    old_key = store.session_key
    again = SessionStore(old_key)
    assert not again.exists(old_key)
    assert "cat" not in again
    assert again.session_key is None
    again["bird"] = "fish"
    again.save()
    assert again.session_key != old_key
    assert SessionStore(old_key).load() == {}


def _sessions_with_expiries():
    """Three live sessions and 30 expired ones, made by expiries in the past."""
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
    for n, expiry in enumerate([-1, -3600, timedelta(seconds=-5),
                                datetime(1960, 1, 1, tzinfo=timezone.get_current_timezone())]
                               + [-10] * 26):
        store = SessionStore()
        store["n"] = n
        store.set_expiry(expiry)
        store.save()
        expired.append(store.session_key)
    return live, expired


def test_clear_expired_deletes_exactly_the_expired_items(sdb, sessions_domain):
    live, expired = _sessions_with_expiries()
    assert count_items(sdb, sessions_domain) == 33
    with capturing_params(sdb) as calls:
        SessionStore.clear_expired()
    operations = [operation for operation, _ in calls]
    assert operations == ["Select", "BatchDeleteAttributes", "BatchDeleteAttributes"]
    assert calls[0][1]["ConsistentRead"] is True
    assert count_items(sdb, sessions_domain) == 3
    assert all(stored(sdb, sessions_domain, key) for key in live)
    assert not any(stored(sdb, sessions_domain, key) for key in expired)
    assert [SessionStore(key)["n"] for key in live] == [1, 2, 3]


def test_clear_expired_with_nothing_expired_deletes_nothing(sdb, sessions_domain):
    key = saved(n=1)
    with counting_calls(sdb) as calls:
        SessionStore.clear_expired()
    assert calls == ["Select"]
    assert SessionStore(key)["n"] == 1


def test_clearsessions_command_clears_expired_sessions(settings, sdb, sessions_domain):
    settings.SESSION_ENGINE = ENGINE
    live, expired = _sessions_with_expiries()
    call_command("clearsessions")
    assert count_items(sdb, sessions_domain) == len(live)


@async_test
async def test_aclear_expired_is_the_default_async_wrapper(sdb, sessions_domain):
    await sync_to_async(_sessions_with_expiries)()
    await SessionStore.aclear_expired()
    assert await sync_to_async(count_items)(sdb, sessions_domain) == 3


# -- stored data --------------------------------------------------------------------------
def test_a_long_session_then_a_short_one_reads_back_the_short_one(sdb, sessions_domain):
    store = SessionStore()
    store["blob"] = secrets.token_urlsafe(60_000)
    store.save()
    long_chunks = len(chunk_names(stored(sdb, sessions_domain, store.session_key)))
    store["blob"] = "short"
    store.save()
    pairs = dict(stored(sdb, sessions_domain, store.session_key))
    assert int(pairs["vn"]) < long_chunks  # the longer value's last chunks are still there
    assert len(chunk_names(pairs.items())) == long_chunks
    assert dict(SessionStore(store.session_key).items()) == {"blob": "short"}


VALUES = {
    "emoji": "😀 👍🏽 🇫🇷",
    "scripts": "Grüße, Ελληνικά, 日本語, עברית, العربية",
    "controls": "nul\x00bell\x07tab\tnewline\n\r\x1b[0m",
    "surrogate": "\ud800 alone",
    "latin1 bytes": bytes(range(256)).decode("latin-1"),
    "quotes": "' \" ` \\ ; -- /* */",
    "big number": 2**70,
    "float": 0.1 + 0.2,
    "empty": "",
    "nested": {"é": ["ü", {"ß": None}], "": True},
}


def test_unicode_and_binary_like_values_round_trip():
    key = saved(**VALUES)
    assert dict(SessionStore(key).items()) == VALUES


def test_unicode_keys_in_the_session_round_trip():
    key = saved(**{"ключ": 1, "鍵": 2, "🔑": 3})
    assert dict(SessionStore(key).items()) == {"ключ": 1, "鍵": 2, "🔑": 3}


def test_values_json_cannot_hold_fail_to_save():
    store = SessionStore()
    store["when"] = object()
    with pytest.raises(TypeError):
        store.save()


def test_a_session_larger_than_an_item_is_value_too_large_and_stores_nothing(sdb,
                                                                            sessions_domain):
    store = SessionStore()
    store["blob"] = secrets.token_urlsafe(300_000)
    assert stored_size(store) > CAPACITY
    with pytest.raises(ValueTooLarge, match="session too large for one SimpleDB item"):
        store.save()
    assert count_items(sdb, sessions_domain) == 0


def test_corrupt_chunks_read_as_no_session_and_are_logged(sdb, sessions_domain, caplog):
    key = saved(cat="dog")
    sdb.put_attributes(DomainName=sessions_domain, ItemName=key,
                       Attributes=[{"Name": "v000", "Value": "!!not base64!!", "Replace": True}])
    store = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger="storage_backends.simpledb.sessions"):
        assert store.load() == {}
    assert store.session_key is None
    assert "session unreadable" in caplog.text
    assert key not in caplog.text  # a session key is a credential: never in logs


def test_a_missing_chunk_reads_as_no_session(sdb, sessions_domain, caplog):
    store = SessionStore()
    store["blob"] = secrets.token_urlsafe(10_000)
    store.save()
    chunks = int(item(sdb, sessions_domain, store.session_key)["vn"])
    assert chunks > 1
    # The count says one chunk more than there is.
    sdb.put_attributes(DomainName=sessions_domain, ItemName=store.session_key,
                       Attributes=[{"Name": "vn", "Value": str(chunks + 1), "Replace": True}])
    with caplog.at_level(logging.WARNING, logger="storage_backends.simpledb.sessions"):
        assert SessionStore(store.session_key).load() == {}
    assert "session unreadable" in caplog.text


def test_tampered_data_reads_as_no_session_and_is_logged(sdb, sessions_domain, caplog):
    from django.core import signing

    key = saved(cat="dog")
    store = SessionStore(key)
    forged = signing.dumps({"_auth_user_id": "1"}, key="guessed secret", salt=store.key_salt,
                           compress=True)
    attributes = ValueCodec(reserved=RESERVED_ATTRIBUTES).encode(key, forged.encode())
    SimpleDBClient(sessions_domain, sdb).put(key, attributes)
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert store.load() == {}
    assert "Session data corrupted" in caplog.text


def test_an_item_without_the_marker_is_no_session(sdb, sessions_domain):
    key = saved(cat="dog")
    attributes = item(sdb, sessions_domain, key)
    sdb.delete_attributes(DomainName=sessions_domain, ItemName=key)
    del attributes["s"]
    SimpleDBClient(sessions_domain, sdb).put(key, attributes)
    store = SessionStore(key)
    assert store.load() == {}
    assert not store.exists(key)


def test_an_item_with_another_marker_is_no_session(sdb, sessions_domain):
    key = saved(cat="dog")
    sdb.put_attributes(DomainName=sessions_domain, ItemName=key,
                       Attributes=[{"Name": "s", "Value": "0", "Replace": True}])
    assert SessionStore(key).load() == {}


def test_an_unreadable_expiry_is_no_session(sdb, sessions_domain, caplog):
    key = saved(cat="dog")
    sdb.put_attributes(DomainName=sessions_domain, ItemName=key,
                       Attributes=[{"Name": "x", "Value": "soon", "Replace": True}])
    with caplog.at_level(logging.WARNING, logger="storage_backends.simpledb.sessions"):
        assert SessionStore(key).load() == {}
    assert not SessionStore().exists(key)


# -- keys ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cookie", [
    "ABCDEFGHIJKLMNOP",            # uppercase: never made by this engine
    "abcdefgh:signed-cookie-value",  # the old signed-cookie engine's cookies
    "abc def ghi jkl",
    "abcdefgh\x00ijkl",
    "é" * 16,
    "a" * 1025,                     # longer than an item name may be
])
def test_a_cookie_that_cannot_name_a_session_is_no_session_and_no_call(sdb, cookie):
    with counting_calls(sdb) as calls:
        store = SessionStore(cookie)
        assert store.session_key is None
        assert store.get("cat") is None
        assert not store.exists(cookie)
        store.delete(cookie)
    assert calls == []


def test_a_key_as_long_as_an_item_name_may_be_is_looked_up():
    store = SessionStore("a" * 1024)
    store["cat"] = "dog"
    store.save()  # it named no session: a new key
    assert store.session_key != "a" * 1024
    assert SessionStore("a" * 1024).load() == {}


# -- configuration ------------------------------------------------------------------------
def test_the_domain_is_read_when_the_store_is_made(settings, sdb, sessions_domain):
    store = SessionStore()
    settings.SIMPLEDB_SESSIONS_DOMAIN = "some-other-domain"
    store["cat"] = "dog"
    store.save()
    assert stored(sdb, sessions_domain, store.session_key)


@pytest.mark.parametrize("domain", [None, "", "ab", "has space", "x" * 256, 42])
def test_a_bad_domain_setting_is_improperly_configured(settings, domain):
    settings.SIMPLEDB_SESSIONS_DOMAIN = domain
    with pytest.raises(ImproperlyConfigured, match="SIMPLEDB_SESSIONS_DOMAIN"):
        SessionStore()
    with pytest.raises(ImproperlyConfigured, match="SIMPLEDB_SESSIONS_DOMAIN"):
        SessionStore.clear_expired()


def test_a_missing_domain_is_an_error_not_a_logout(settings):
    key = saved(cat="dog")
    settings.SIMPLEDB_SESSIONS_DOMAIN = "not-provisioned"
    with pytest.raises(NoSuchDomain):
        SessionStore(key).load()


# -- consistency and failure --------------------------------------------------------------
def test_load_sees_the_latest_write_when_eventual_reads_are_stale(local_aws, sdb,
                                                                sessions_domain):
    key = saved(n=1)
    writer = SessionStore(key)
    writer["n"] = 2
    writer.save()
    local_aws.simpledb.faults.update(stale_read_rate=1.0)
    try:
        eventual = sdb.get_attributes(DomainName=sessions_domain, ItemName=key,
                                      ConsistentRead=False)["Attributes"]
        latest = sdb.get_attributes(DomainName=sessions_domain, ItemName=key,
                                    ConsistentRead=True)["Attributes"]
        assert eventual != latest  # the emulator does serve stale eventual reads
        for _ in range(10):
            assert SessionStore(key)["n"] == 2
        logout = SessionStore(key)
        logout.flush()
        for _ in range(10):
            assert SessionStore(key).load() == {}
            assert not SessionStore().exists(key)
    finally:
        local_aws.simpledb.faults.update(stale_read_rate=0)


@pytest.fixture
def simpledb_down(settings, tmp_path):
    """SimpleDB's endpoint is a stopped emulator: every call is refused."""
    server = SimpleDBServer(data_dir=str(tmp_path)).start()
    server.stop()
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "sdb": server.endpoint_url}
    settings.AWS_MAX_ATTEMPTS = 1
    aws.reset()
    yield
    aws.reset()


def test_with_simpledb_down_load_raises_unavailable(simpledb_down):
    store = SessionStore("a" * 32)
    with pytest.raises(Unavailable):
        store.load()
    with pytest.raises(Unavailable):
        store.get("cat")  # never a silent log-out


def test_with_simpledb_down_writes_raise_unavailable(simpledb_down):
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


def test_save_rounds_the_expiry_up_to_the_second(sdb, sessions_domain):
    store = SessionStore()
    store["cat"] = "dog"
    store.set_expiry(timedelta(seconds=100))
    store.save()
    expected = math.ceil(store.get_expiry_date().timestamp())
    assert item(sdb, sessions_domain, store.session_key)["x"] == expiry_value(expected)
