"""DynamoDBCache beyond Django's contract (tests/cache/conformance.py runs that): call
budgets, expired items DynamoDB still holds, atomic incr, S3 spill, signatures, options,
failures and purge_cache, on the local stack's DynamoDB (moto) over real HTTP."""

import hashlib
import logging
import math
import os
import pickle
import threading
import time
import uuid
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from localaws.ports import listen
from storage_backends import aws, resources
from storage_backends.dynamodb.cache import DynamoDBCache
from storage_backends.dynamodb.client import DynamoDBTable
from storage_backends.dynamodb.errors import NoSuchTable, Unavailable
from storage_backends.simpledb.errors import ValueTooLarge
from tests.fixtures.calls import counting_calls
from tests.fixtures.localaws import reset_aws_clients

LOGGER = "storage_backends.dynamodb.cache"
BACKEND = "storage_backends.dynamodb.cache.DynamoDBCache"


@pytest.fixture
def make_cache(dynamodb_table):
    """make_cache(**OPTIONS) (or make_cache(params={...}, **OPTIONS)): a DynamoDBCache on
    this test's own table, with a KEY_PREFIX of this test's own (spilled objects share the
    media bucket)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"

    def make(params=None, **options):
        return DynamoDBCache(dynamodb_table, {"KEY_PREFIX": prefix, "OPTIONS": options,
                                              **(params or {})})

    return make


@pytest.fixture
def cache(make_cache):
    return make_cache()


@pytest.fixture
def spill_cache(make_cache, settings):
    return make_cache(SPILL_BUCKET=settings.STRATUS_MEDIA_BUCKET, SPILL_PREFIX="cache-spill/")


@pytest.fixture
def dynamodb():
    return aws.client("dynamodb")


def move_clock(monkeypatch, seconds):
    """Make every DynamoDBCache see the time `seconds` from now."""
    now = time.time() + seconds
    monkeypatch.setattr(DynamoDBCache, "_now", lambda self: now)


def item_name(cache, key):
    return hashlib.sha256(cache.make_key(key).encode()).hexdigest()


def raw(cache, key):
    """The item as the table holds it (plain values), read consistently; None if absent."""
    return DynamoDBTable(cache.table, aws.client("dynamodb")).get(item_name(cache, key),
                                                                  consistent=True)


def plant(cache, key, values):
    """Write `key`'s item by hand, as anyone with write access to the table could."""
    DynamoDBTable(cache.table, aws.client("dynamodb")).put(item_name(cache, key), values)


def spilled_objects(cache, key):
    spill = cache._spill
    listing = aws.client("s3").list_objects_v2(Bucket=spill.bucket,
                                               Prefix=spill.folder(item_name(cache, key)))
    return [entry["Key"] for entry in listing.get("Contents", [])]


def run_threads(count, target):
    errors = []

    def guarded(n):
        try:
            target(n)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_the_caches_setting_selects_this_backend(settings, dynamodb_table):
    settings.CACHES = {"default": {"BACKEND": BACKEND, "LOCATION": dynamodb_table}}
    assert isinstance(caches["default"], DynamoDBCache)
    assert caches["default"].table == dynamodb_table


# -- call budgets ---------------------------------------------------------------------------
def test_every_single_key_operation_makes_one_call(cache, dynamodb):
    cache.set("n", 1)
    budget = [
        (lambda: cache.set("key", "value"), "PutItem"),
        (lambda: cache.get("key"), "GetItem"),
        (lambda: cache.get("missing"), "GetItem"),
        (lambda: cache.add("new", "value"), "PutItem"),
        (lambda: cache.add("new", "refused"), "PutItem"),
        (lambda: cache.has_key("key"), "GetItem"),
        (lambda: cache.incr("n"), "UpdateItem"),
        (lambda: cache.decr("n", 3), "UpdateItem"),
        (lambda: cache.touch("key", 60), "UpdateItem"),
        (lambda: cache.touch("missing", 60), "UpdateItem"),
        (lambda: cache.delete("key"), "DeleteItem"),
        (lambda: cache.delete("key"), "DeleteItem"),
        (lambda: cache.set("gone", "value", 0), "DeleteItem"),
    ]
    for operation, expected in budget:
        with counting_calls(dynamodb) as calls:
            operation()
        assert calls == [expected]


def test_incr_of_a_missing_key_is_one_call_too(cache, dynamodb):
    with counting_calls(dynamodb) as calls, pytest.raises(ValueError):
        cache.incr("missing")
    assert calls == ["UpdateItem"]


def test_many_key_operations_batch_100_reads_and_25_writes_a_call(cache, dynamodb):
    data = {f"key-{n}": n for n in range(60)}
    with counting_calls(dynamodb) as calls:
        assert cache.set_many(data) == []
    assert calls == ["BatchWriteItem"] * 3
    with counting_calls(dynamodb) as calls:
        found = cache.get_many([f"key-{n}" for n in range(150)])
    assert found == data
    assert calls == ["BatchGetItem"] * 2
    with counting_calls(dynamodb) as calls:
        cache.delete_many(list(data))
    assert calls == ["BatchWriteItem"] * 3
    assert cache.get_many(list(data)) == {}


def test_reads_are_eventually_consistent_unless_configured(make_cache, dynamodb):
    seen = []

    def record(params, **kwargs):
        seen.append(params.get("ConsistentRead"))

    dynamodb.meta.events.register("before-parameter-build.dynamodb.GetItem", record)
    try:
        make_cache().get("key")
        make_cache(CONSISTENT_READ=True).get("key")
    finally:
        dynamodb.meta.events.unregister("before-parameter-build.dynamodb.GetItem", record)
    assert seen == [False, True]


def test_an_expiry_is_stored_as_the_whole_second_the_ttl_reads_rounded_up(cache, monkeypatch):
    monkeypatch.setattr(type(cache), "_now", lambda self: 1_000_000.25)
    cache.set("key", "value", 2.5)
    cache.set("n", 1, 10)
    assert raw(cache, "key")["x"] == 1_000_003 and raw(cache, "n")["x"] == 1_000_011
    assert raw(cache, "key")["x"].as_tuple().exponent == 0
    assert cache.get("key") == "value"


def test_a_timeout_of_zero_is_not_rounded_into_a_live_entry(cache):
    cache.set("key", "old")
    assert cache.set("key", "value", 0) is True
    assert cache.add("other", "value", 0) is True
    assert cache.get("key") is None and cache.get("other") is None


# -- expired items DynamoDB still holds (its TTL deletes late; moto never does) -------------
@pytest.fixture
def expired(cache, monkeypatch):
    """`cache` with "old" (a string) and "n" (an integer) expired but still in the table."""
    cache.set("old", "stale", 5)
    cache.set("n", 1, 5)
    move_clock(monkeypatch, 10)
    assert raw(cache, "old") is not None and raw(cache, "n") is not None
    return cache


def test_an_expired_item_still_stored_is_a_miss_to_every_read(expired):
    assert expired.get("old", "default") == "default"
    assert expired.get_many(["old", "n"]) == {}
    assert expired.has_key("old") is False


def test_add_replaces_an_expired_item_still_stored_in_one_call(expired, dynamodb):
    with counting_calls(dynamodb) as calls:
        assert expired.add("old", "new") is True
    assert calls == ["PutItem"]
    assert expired.get("old") == "new"


def test_touch_does_not_revive_an_expired_item_still_stored(expired):
    assert expired.touch("old", 100) is False
    assert expired.touch("old", None) is False
    assert expired.get("old") is None


def test_incr_of_an_expired_item_still_stored_raises_value_error(expired):
    with pytest.raises(ValueError):
        expired.incr("n")
    with pytest.raises(ValueError):
        expired.decr("n")
    assert raw(expired, "n")["n"] == 1


def test_delete_of_an_expired_item_still_stored_says_false_and_deletes_it(expired):
    assert expired.delete("old") is False
    assert raw(expired, "old") is None


# -- incr, add under concurrency ------------------------------------------------------------
def test_incr_is_atomic_across_threads(cache):
    cache.set("counter", 0)

    def count(_):
        for _ in range(100):
            cache.incr("counter")

    run_threads(4, count)
    assert cache.get("counter") == 400


def test_only_one_of_many_racing_adds_wins_over_an_expired_entry(cache, monkeypatch):
    cache.set("lock", "old holder", 1)
    move_clock(monkeypatch, 5)
    winners = []

    def add(n):
        if cache.add("lock", n):
            winners.append(n)

    run_threads(8, add)
    assert len(winners) == 1
    assert cache.get("lock") == winners[0]


def test_integers_are_dynamodb_numbers_and_incr_adds_to_them(cache):
    cache.set("n", 41)
    assert raw(cache, "n")["n"] == 41
    assert cache.incr("n") == 42
    assert cache.get("n") == 42
    cache.set("huge", 10 ** 40)  # beyond DynamoDB's 38 digits: pickled
    assert "n" not in raw(cache, "huge") and cache.get("huge") == 10 ** 40


def test_incr_of_anything_but_an_integer_is_a_type_error(cache):
    cache.set("text", "abc")
    cache.set("flag", True)
    for key in ("text", "flag"):
        with pytest.raises(TypeError):
            cache.incr(key)
    assert cache.get("text") == "abc" and cache.get("flag") is True


# -- S3 spill -------------------------------------------------------------------------------
def test_a_500_kb_value_spills_to_s3_and_back(spill_cache, dynamodb):
    value = os.urandom(500_000)
    with counting_calls(dynamodb) as calls:
        assert spill_cache.set("big", value) is True
    assert calls == ["PutItem"]
    item = raw(spill_cache, "big")
    assert "v" not in item and item["s3"].startswith("cache-spill/")
    assert spilled_objects(spill_cache, "big") == [item["s3"]]
    with counting_calls(dynamodb) as calls:
        assert spill_cache.get("big") == value
    assert calls == ["GetItem"]
    assert spill_cache.get_many(["big"]) == {"big": value}


def test_a_value_just_under_the_item_limit_stays_in_the_item(spill_cache):
    value = os.urandom(390_000)
    assert spill_cache.set("big", value) is True
    assert "s3" not in raw(spill_cache, "big")
    assert spill_cache.get("big") == value


def test_overwriting_or_deleting_a_spilled_value_removes_its_object(spill_cache):
    spill_cache.set("big", os.urandom(500_000))
    [first] = spilled_objects(spill_cache, "big")
    spill_cache.set("big", os.urandom(500_000))
    [second] = spilled_objects(spill_cache, "big")
    assert second != first
    spill_cache.set("big", "small now")
    assert spilled_objects(spill_cache, "big") == []
    spill_cache.set("big", os.urandom(500_000))
    assert spill_cache.delete("big") is True
    assert spilled_objects(spill_cache, "big") == []


def test_the_spill_prefix_is_among_those_provisioning_expires(settings):
    settings.CACHES = {"default": {"BACKEND": BACKEND, "LOCATION": "stratus-cache",
                                   "OPTIONS": {"SPILL_BUCKET": "some-bucket",
                                               "SPILL_PREFIX": "dynamodb-spill/"}}}
    assert "dynamodb-spill/" in resources.spill_prefixes("some-bucket")


def test_a_value_beyond_one_item_without_spill_is_refused_and_logged(cache, caplog):
    cache.set("big", "an older value")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.set("big", os.urandom(500_000)) is False
    assert "ValueTooLarge" in caplog.text
    assert cache.get("big") is None  # no old value outlives the failed write
    assert cache.set_many({"small": 1, "huge": os.urandom(500_000)}) == ["huge"]
    assert cache.get_many(["small", "huge"]) == {"small": 1}


def test_a_value_beyond_one_item_raises_when_configured(make_cache):
    with pytest.raises(ValueTooLarge):
        make_cache(ON_ERROR="raise").set("big", os.urandom(500_000))


def test_a_spilled_object_changed_in_s3_is_a_miss(spill_cache, caplog):
    spill_cache.set("big", os.urandom(500_000))
    [key] = spilled_objects(spill_cache, "big")
    aws.client("s3").put_object(Bucket=spill_cache._spill.bucket, Key=key,
                                Body=pickle.dumps("forged"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert spill_cache.get("big") is None
    assert "digest" in caplog.text


def test_a_planted_pointer_outside_the_items_folder_is_never_deleted(spill_cache, settings):
    s3 = aws.client("s3")
    s3.put_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key="cache-spill/precious", Body=b"x")
    plant(spill_cache, "key", {"s3": "cache-spill/precious", "d": "s3:0"})
    spill_cache.delete("key")
    assert s3.get_object(Bucket=settings.STRATUS_MEDIA_BUCKET,
                         Key="cache-spill/precious")["Body"].read() == b"x"


# -- signatures -----------------------------------------------------------------------------
class Exploit:
    """Unpickling this calls `exploited`: what a planted value would do."""

    def __reduce__(self):
        return (exploited, ())


EXPLOITED = []


def exploited():
    EXPLOITED.append(True)
    return "pwned"


def forge(cache, key, value, **extra):
    """Plant a live item holding a pickled value, described and digested as ours, but with
    no valid signature."""
    payload = pickle.dumps(value)
    plant(cache, key, {"p": cache.key_prefix, "v": payload,
                       "d": "v:" + hashlib.sha256(payload).hexdigest(), **extra})


def test_a_planted_unsigned_item_is_a_logged_miss_and_never_unpickled(cache, caplog):
    EXPLOITED.clear()
    forge(cache, "key", Exploit())
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.get("key") is None
        assert cache.get_many(["key"]) == {}
    assert EXPLOITED == []
    assert "bad signature" in caplog.text and item_name(cache, "key") in caplog.text


def test_a_value_changed_under_its_signatures_is_a_miss(cache):
    cache.set("key", "genuine")
    item = raw(cache, "key")
    payload = pickle.dumps("forged")
    plant(cache, "key", {**item, "v": payload})
    assert cache.get("key") is None


def test_incr_and_touch_delete_a_forged_item_and_answer_missing(cache):
    plant(cache, "n", {"p": cache.key_prefix, "d": "n", "n": 1000, "sv": "forged",
                       "sx": "forged"})
    with pytest.raises(ValueError):
        cache.incr("n")
    assert raw(cache, "n") is None
    forge(cache, "key", "forged", sv="forged", sx="forged")
    assert cache.touch("key", 100) is False
    assert raw(cache, "key") is None


def test_add_replaces_a_live_forged_item(cache):
    forge(cache, "key", "forged")
    assert cache.add("key", "mine") is True
    assert cache.get("key") == "mine"


def test_an_extended_expiry_is_a_miss(cache, monkeypatch):
    cache.set("key", "value", 5)
    item = raw(cache, "key")
    del item["x"]
    plant(cache, "key", item)
    move_clock(monkeypatch, 10)
    assert cache.get("key") is None


def test_a_value_signed_with_a_retired_key_is_read_while_it_is_a_fallback(settings,
                                                                        make_cache):
    old, new = "the-old-secret-key-" + "o" * 40, "the-new-secret-key-" + "n" * 40
    settings.SECRET_KEY = old
    make_cache().set("key", "value")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = new, [old]
    assert make_cache().get("key") == "value"
    settings.SECRET_KEY_FALLBACKS = []
    assert make_cache().get("key") is None


# -- options --------------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"MAX_ENTRY": 10}, "Unknown DynamoDBCache OPTIONS: MAX_ENTRY"),
    ({"MAX_ENTRIES": 1000}, "does not cull"),
    ({"CULL_FREQUENCY": 3}, "does not cull"),
    ({"MAX_VALUE_BYTES": 0}, "MAX_VALUE_BYTES"),
    ({"CONSISTENT_READ": "yes"}, "CONSISTENT_READ"),
    ({"COMPRESS_MIN_BYTES": -1}, "COMPRESS_MIN_BYTES"),
    ({"COMPRESS_MIN_BYTES": True}, "COMPRESS_MIN_BYTES"),
    ({"SPILL_BUCKET": ""}, "SPILL_BUCKET"),
    ({"SPILL_BUCKET": "b", "SPILL_PREFIX": ""}, "SPILL_PREFIX"),
    ({"ON_ERROR": "ignore"}, "ON_ERROR"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        DynamoDBCache("stratus-cache", {"OPTIONS": options})


@pytest.mark.parametrize("params, message", [
    ({"max_entries": 1000}, "does not cull"),
    ({"TIMEOUT": "soon"}, "TIMEOUT"),
    ({"TIMEOUT": True}, "TIMEOUT"),
    ({"VERSION": "2"}, "VERSION"),
    ({"KEY_PREFIX": "p" * 1025}, "KEY_PREFIX"),
])
def test_bad_cache_parameters_are_refused(params, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        DynamoDBCache("stratus-cache", params)


@pytest.mark.parametrize("location", ["", "ab", "has space", None, "x" * 256])
def test_a_location_must_be_a_table_name(location):
    with pytest.raises(ImproperlyConfigured, match="LOCATION"):
        DynamoDBCache(location, {})


# -- failures -------------------------------------------------------------------------------
@pytest.fixture
def dynamodb_down(settings, dynamodb_table):
    """DynamoDB refuses connections (a port just closed); one attempt per call."""
    with listen("127.0.0.1", 0) as sock:
        port = sock.getsockname()[1]
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS,
                                  "dynamodb": f"http://127.0.0.1:{port}"}
    settings.AWS_MAX_ATTEMPTS = 1
    reset_aws_clients()
    yield
    reset_aws_clients()


def test_with_dynamodb_down_reads_miss_and_writes_fail_logged(make_cache, dynamodb_down,
                                                             caplog):
    cache = make_cache()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.get("key", "fallback") == "fallback"
        assert cache.set("key", "value") is False
    assert "cache get failed" in caplog.text and "cache set failed" in caplog.text
    assert "Unavailable" in caplog.text
    assert cache.add("key", "value") is False
    assert cache.has_key("key") is False
    assert cache.delete("key") is False
    assert cache.touch("key") is False
    assert cache.get_many(["a", "b"]) == {}
    assert sorted(cache.set_many({"a": 1, "b": 2})) == ["a", "b"]
    assert cache.delete_many(["a"]) is None
    assert cache.get_or_set("key", "default") == "default"
    cache.clear()
    with pytest.raises(Unavailable):  # no honest "miss" for a counter
        cache.incr("key")


def test_with_dynamodb_down_and_on_error_raise_calls_raise(make_cache, dynamodb_down):
    cache = make_cache(ON_ERROR="raise")
    for operation in (lambda: cache.get("key"), lambda: cache.set("key", 1),
                      lambda: cache.add("key", 1), lambda: cache.delete("key"),
                      lambda: cache.has_key("key"), lambda: cache.get_many(["key"]),
                      lambda: cache.set_many({"key": 1}), lambda: cache.touch("key"),
                      lambda: cache.clear()):
        with pytest.raises(Unavailable):
            operation()


def test_a_missing_table_degrades_like_an_outage(django_on_local_aws, caplog):
    cache = DynamoDBCache("never-provisioned-table", {})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.get("key") is None
        assert cache.set("key", 1) is False
    assert "NoSuchTable" in caplog.text
    with pytest.raises(NoSuchTable):
        cache.incr("key")


# -- clear, purge_cache ---------------------------------------------------------------------
def test_clear_deletes_only_this_prefix_every_version_in_batches(make_cache, dynamodb):
    mine, theirs = make_cache(), make_cache(params={"KEY_PREFIX": "theirs"})
    mine.set_many({f"k{n}": n for n in range(30)})
    mine.set("old", 1, version=0)
    theirs.set("k1", "theirs")
    with counting_calls(dynamodb) as calls:
        mine.clear()
    assert calls.count("BatchWriteItem") == 2 and "Scan" in calls
    assert mine.get_many([f"k{n}" for n in range(30)]) == {}
    assert mine.get("old", version=0) is None
    assert theirs.get("k1") == "theirs"


def purge(*args):
    out = StringIO()
    call_command("purge_cache", *args, stdout=out)
    return out.getvalue()


def test_purge_cache_deletes_only_expired_entries_of_a_dynamodb_cache(settings, dynamodb_table,
                                                                      dynamodb, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": BACKEND, "LOCATION": dynamodb_table},
                       "other": {"BACKEND": BACKEND, "LOCATION": dynamodb_table,
                                 "KEY_PREFIX": "other"}}
    cache, other = caches["default"], caches["other"]
    cache.set_many({f"short-{n}": n for n in range(60)}, 10)
    other.set("short", "other prefix, also expired", 10)
    cache.set_many({f"long-{n}": n for n in range(5)}, 1000)
    cache.set("forever", "kept", None)
    move_clock(monkeypatch, 60)
    with counting_calls(dynamodb) as calls:
        output = purge()
    assert output.splitlines() == [f"cache default, other: deleted 61 expired entries from "
                                   f"DynamoDB table {dynamodb_table}"]
    assert calls.count("BatchWriteItem") == 3
    remaining = DynamoDBTable(dynamodb_table, dynamodb).scan(consistent=True)
    assert len(list(remaining)) == 6
    assert cache.get_many([f"long-{n}" for n in range(5)]) == {f"long-{n}": n for n in range(5)}
    assert cache.get("forever") == "kept"


def test_purging_an_expired_spilled_entry_removes_its_object(spill_cache, monkeypatch):
    spill_cache.set("big", os.urandom(500_000), 5)
    move_clock(monkeypatch, 10)
    assert spill_cache.delete_expired() == 1
    assert spilled_objects(spill_cache, "big") == []
    assert raw(spill_cache, "big") is None



# -- by item name (what copy_state writes with) --------------------------------------------
def test_add_item_stores_an_entry_under_its_item_name_with_an_absolute_expiry(cache):
    expires_at = time.time() + 100
    assert cache.add_item(item_name(cache, "key"), "value", expires_at) is True
    assert cache.get("key") == "value"
    assert raw(cache, "key")["x"] == math.ceil(expires_at)


def test_add_item_never_replaces_a_live_entry_nor_stores_an_expired_one(cache):
    cache.set("key", "mine")
    assert cache.add_item(item_name(cache, "key"), "copied", None) is False
    assert cache.add_item(item_name(cache, "other"), "copied", time.time() - 1) is False
    assert cache.get("key") == "mine" and cache.get("other") is None
