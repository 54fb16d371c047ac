"""SimpleDBCache beyond Django's contract: call budgets, value sizes, S3 spill, signatures,
options, failure behaviour and concurrency, on the local stack."""

import base64
import hashlib
import logging
import math
import os
import pickle
import threading
import time

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from localaws.simpledb import SimpleDBServer
from storage_backends import aws
from storage_backends.simpledb.cache import FOREVER, SimpleDBCache
from storage_backends.simpledb.client import Unavailable, ValueTooLarge
from tests.fixtures.simpledb import counting_calls

from .conftest import overwrite, raw, record_name, spilled_objects

LOGGER = "storage_backends.simpledb.cache"


@pytest.fixture
def sdb():
    return aws.client("sdb")


@pytest.fixture
def spill_cache(make_cache, settings):
    return make_cache(SPILL_BUCKET=settings.STRATUS_MEDIA_BUCKET, SPILL_PREFIX="cache-spill/")


def move_clock(monkeypatch, seconds):
    """Make every SimpleDBCache see the time `seconds` from now."""
    now = time.time() + seconds
    monkeypatch.setattr(SimpleDBCache, "_now", lambda self: now)


def test_the_caches_setting_selects_this_backend(settings):
    settings.CACHES = {"default": {"BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
                                   "LOCATION": settings.SIMPLEDB_CACHE_DOMAIN}}
    assert isinstance(caches["default"], SimpleDBCache)
    assert caches["default"].domain == settings.SIMPLEDB_CACHE_DOMAIN


def test_no_client_is_made_before_first_use(settings):
    aws.reset()
    cache = SimpleDBCache(settings.SIMPLEDB_CACHE_DOMAIN, {})
    assert aws._clients == {}
    assert cache.get("anything") is None
    assert [service for service, _overrides in aws._clients] == ["sdb"]


# -- call budgets ---------------------------------------------------------------------------
def test_single_key_operations_make_one_call_each(cache, sdb):
    cache.set("warm", 1)
    budget = [
        (lambda: cache.set("key", "value"), ["PutAttributes"]),
        (lambda: cache.get("key"), ["GetAttributes"]),
        (lambda: cache.get("missing"), ["GetAttributes"]),
        (lambda: cache.add("new", "value"), ["PutAttributes"]),
        (lambda: cache.has_key("key"), ["GetAttributes"]),
        (lambda: cache.delete("key"), ["DeleteAttributes"]),
        (lambda: cache.delete("key"), ["DeleteAttributes"]),
        (lambda: cache.set("gone", "value", 0), ["DeleteAttributes"]),
    ]
    for operation, expected in budget:
        with counting_calls(sdb) as calls:
            operation()
        assert calls == expected


def test_incr_decr_and_touch_make_two_calls(cache, sdb):
    cache.set("n", 1)
    for operation in (lambda: cache.incr("n"), lambda: cache.decr("n", 3),
                      lambda: cache.touch("n", 60)):
        with counting_calls(sdb) as calls:
            operation()
        assert calls == ["GetAttributes", "PutAttributes"]


def test_add_of_a_live_key_makes_two_calls_and_of_an_expired_one_three(cache, sdb,
                                                                        monkeypatch):
    cache.set("key", "live", 10)
    with counting_calls(sdb) as calls:
        assert cache.add("key", "other") is False
    assert calls == ["PutAttributes", "GetAttributes"]
    move_clock(monkeypatch, 20)
    with counting_calls(sdb) as calls:
        assert cache.add("key", "new") is True
    assert calls == ["PutAttributes", "GetAttributes", "PutAttributes"]
    assert cache.get("key") == "new"


def test_many_key_operations_batch(cache, sdb):
    data = {f"key-{n}": n for n in range(60)}
    with counting_calls(sdb) as calls:
        assert cache.set_many(data) == []
    assert calls == ["BatchPutAttributes"] * 3
    with counting_calls(sdb) as calls:
        found = cache.get_many([f"key-{n}" for n in range(45)])
    assert found == {f"key-{n}": n for n in range(45)}
    assert len(calls) <= math.ceil(45 / 20) and set(calls) == {"Select"}
    with counting_calls(sdb) as calls:
        cache.delete_many(list(data))
    assert calls == ["BatchDeleteAttributes"] * 3
    assert cache.get_many(list(data)) == {}


def test_large_values_split_batches_by_size(cache, sdb):
    data = {f"big-{n}": os.urandom(100_000) for n in range(12)}
    with counting_calls(sdb) as calls:
        assert cache.set_many(data) == []
    assert 1 < len(calls) < 12
    assert cache.get_many(list(data)) == data


def test_reads_are_eventually_consistent_unless_configured(make_cache, sdb):
    seen = []

    def record(params, **kwargs):
        seen.append(params.get("ConsistentRead"))

    sdb.meta.events.register("before-parameter-build.simpledb.GetAttributes", record)
    try:
        make_cache().get("key")
        make_cache(CONSISTENT_READ=True).get("key")
    finally:
        sdb.meta.events.unregister("before-parameter-build.simpledb.GetAttributes", record)
    assert seen == [False, True]


# -- values of every size ---------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 700, 767, 768, 769, 1000, 1023, 1024, 1025, 1536, 5000])
def test_incompressible_values_around_chunk_and_threshold_sizes(cache, size):
    value = os.urandom(size)
    assert cache.set("value", value) is True
    assert cache.get("value") == value
    assert raw(cache, "value")["vz"] == "0"


def test_compression_starts_at_the_threshold(make_cache):
    cache = make_cache(COMPRESS_MIN_BYTES=1024)

    def pickling_to(size):  # bytes whose pickle is `size` long
        overhead = len(pickle.dumps(b"a" * size, pickle.HIGHEST_PROTOCOL)) - size
        value = b"a" * (size - overhead)
        assert len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL)) == size
        return value

    cache.set("below", pickling_to(1023))
    cache.set("at", pickling_to(1024))
    assert raw(cache, "below")["vz"] == "0"
    assert raw(cache, "at")["vz"] == "1"
    assert cache.get("at") == pickling_to(1024)


def test_compression_can_be_turned_off_for_small_values_only(make_cache):
    cache = make_cache(COMPRESS_MIN_BYTES=0)
    cache.set("tiny", "a" * 100)
    assert raw(cache, "tiny")["vz"] == "1"
    assert cache.get("tiny") == "a" * 100


def test_a_compressible_value_takes_few_chunks(cache):
    text = "the same sentence, again and again. " * 5000  # 180 KB
    cache.set("text", text)
    record = raw(cache, "text")
    assert record["vz"] == "1" and int(record["vn"]) < 10
    assert cache.get("text") == text


def test_an_incompressible_150_kb_value_spans_many_chunks(cache):
    value = os.urandom(150_000)
    assert cache.set("big", value) is True
    assert int(raw(cache, "big")["vn"]) > 150
    assert cache.get("big") == value
    assert cache.get_many(["big"]) == {"big": value}


def test_a_value_beyond_one_record_is_refused_and_logged(cache, caplog):
    cache.set("big", "an older value")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.set("big", os.urandom(250_000)) is False
    assert "ValueTooLarge" in caplog.text
    # No old value outlives the failed write.
    assert cache.get("big") is None
    assert cache.set_many({"small": 1, "huge": os.urandom(250_000)}) == ["huge"]
    assert cache.get_many(["small", "huge"]) == {"small": 1}


def test_a_value_beyond_one_record_raises_when_configured(make_cache):
    cache = make_cache(ON_ERROR="raise")
    with pytest.raises(ValueTooLarge):
        cache.set("big", os.urandom(250_000))


def test_stale_chunks_of_a_longer_value_are_never_read(cache):
    cache.set("key", os.urandom(150_000))
    cache.set("key", b"short")
    record = raw(cache, "key")
    assert "v150" in record  # the old chunk is still stored...
    assert cache.get("key") == b"short"  # ...and never read
    cache.set("key", os.urandom(2000))
    cache.set("key", "")
    assert cache.get("key") == ""


# -- S3 spill -------------------------------------------------------------------------------
def test_a_spilled_value_round_trips_through_s3(spill_cache, sdb):
    value = os.urandom(250_000)
    with counting_calls(sdb) as calls:
        assert spill_cache.set("big", value) is True
    assert calls == ["PutAttributes"]
    assert raw(spill_cache, "big")["vs3"].startswith("cache-spill/")
    assert len(spilled_objects(spill_cache, "big")) == 1
    with counting_calls(sdb) as calls:
        assert spill_cache.get("big") == value
    assert calls == ["GetAttributes"]


def test_delete_removes_the_spilled_object(spill_cache):
    spill_cache.set("big", os.urandom(250_000))
    assert spill_cache.delete("big") is True
    assert spilled_objects(spill_cache, "big") == []


def test_a_spilled_write_removes_the_older_spilled_object(spill_cache):
    spill_cache.set("big", os.urandom(250_000))
    first = spilled_objects(spill_cache, "big")
    spill_cache.set("big", os.urandom(250_000))
    second = spilled_objects(spill_cache, "big")
    assert len(second) == 1 and second != first


def test_a_small_write_makes_no_s3_call_and_delete_cleans_up_later(spill_cache):
    spill_cache.set("big", os.urandom(250_000))
    s3_calls = []

    def record(event_name, **kwargs):
        s3_calls.append(event_name)

    s3 = aws.client("s3")
    s3.meta.events.register("before-call.s3", record)
    try:
        spill_cache.set("big", "small now")
        spill_cache.set("other", "small too")
    finally:
        s3.meta.events.unregister("before-call.s3", record)
    assert s3_calls == []
    assert spill_cache.get("big") == "small now"
    assert spill_cache.delete("big") is True
    assert spilled_objects(spill_cache, "big") == []


def test_purging_an_expired_spilled_entry_removes_its_object(spill_cache, monkeypatch):
    spill_cache.set("big", os.urandom(250_000), 5)
    move_clock(monkeypatch, 10)
    assert spill_cache.get("big") is None
    spill_cache.delete_expired()
    assert spilled_objects(spill_cache, "big") == []
    assert raw(spill_cache, "big") == {}


def test_a_spilled_object_changed_in_s3_is_a_miss(spill_cache, caplog):
    spill_cache.set("big", os.urandom(250_000))
    [key] = spilled_objects(spill_cache, "big")
    aws.client("s3").put_object(Bucket=spill_cache._codec.spill.bucket, Key=key,
                                Body=pickle.dumps("forged"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert spill_cache.get("big") is None
    assert "digest" in caplog.text


# -- signatures -----------------------------------------------------------------------------
class Exploit:
    """Unpickling this calls `exploited`: what a forged value would do."""

    def __reduce__(self):
        return (exploited, ())


EXPLOITED = []


def exploited():
    EXPLOITED.append(True)
    return "pwned"


def forge(cache, key, value):
    """Write a pickled value into the record's chunks, digest included, but no signature."""
    payload = pickle.dumps(value)
    overwrite(cache, key, {"v000": base64.b64encode(payload).decode(), "vn": "1", "vz": "0",
                           "vs3": "", "vd": hashlib.sha256(payload).hexdigest()})


def test_a_forged_value_is_a_logged_miss_and_never_unpickled(cache, caplog):
    EXPLOITED.clear()
    cache.set("key", "genuine")
    forge(cache, "key", Exploit())
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.get("key") is None
        assert cache.get_many(["key"]) == {}
    assert EXPLOITED == []
    assert "bad signature" in caplog.text and record_name(cache, "key") in caplog.text


def test_incr_and_touch_refuse_a_forged_value(cache):
    EXPLOITED.clear()
    cache.set("n", 1)
    forge(cache, "n", 1000)
    with pytest.raises(ValueError):
        cache.incr("n")
    assert cache.touch("n", 100) is False
    forge(cache, "n", Exploit())
    with pytest.raises(ValueError):
        cache.incr("n")
    assert EXPLOITED == []


def test_an_extended_expiry_is_a_miss(cache, monkeypatch):
    cache.set("key", "value", 5)
    overwrite(cache, "key", {"x": FOREVER})
    move_clock(monkeypatch, 10)
    assert cache.get("key") is None


def test_a_missing_signature_is_a_miss(cache):
    cache.set("key", "value")
    aws.client("sdb").delete_attributes(DomainName=cache.domain,
                                        ItemName=record_name(cache, "key"),
                                        Attributes=[{"Name": "sig",
                                                     "Value": raw(cache, "key")["sig"]}])
    assert cache.get("key") is None


def test_a_value_signed_with_a_retired_key_is_read_while_it_is_a_fallback(settings,
                                                                        make_cache):
    settings.SECRET_KEY = "the-old-secret-key-" + "o" * 40
    make_cache().set("key", "value")
    settings.SECRET_KEY = "the-new-secret-key-" + "n" * 40
    settings.SECRET_KEY_FALLBACKS = ["the-old-secret-key-" + "o" * 40]
    assert make_cache().get("key") == "value"
    settings.SECRET_KEY_FALLBACKS = []
    assert make_cache().get("key") is None


def test_values_are_pickled_even_integers(cache):
    cache.set("n", 41)
    payload = base64.b64decode(raw(cache, "n")["v000"])
    assert pickle.loads(payload) == 41
    assert cache.incr("n") == 42


# -- options --------------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"MAX_ENTRY": 10}, "Unknown SimpleDBCache OPTIONS: MAX_ENTRY"),
    ({"MAX_ENTRIES": 0}, "MAX_ENTRIES"),
    ({"MAX_ENTRIES": "300"}, "MAX_ENTRIES"),
    ({"CULL_FREQUENCY": -1}, "CULL_FREQUENCY"),
    ({"MAX_ENTRIES": 10, "CULL_FREQUENCY": True}, "CULL_FREQUENCY"),
    ({"MAX_VALUE_BYTES": 0}, "MAX_VALUE_BYTES"),
    ({"CONSISTENT_READ": "yes"}, "CONSISTENT_READ"),
    ({"COMPRESS_MIN_BYTES": -1}, "COMPRESS_MIN_BYTES"),
    ({"COMPRESS_MIN_BYTES": True}, "COMPRESS_MIN_BYTES"),
    ({"COMPRESS_MIN_BYTES": "1024"}, "COMPRESS_MIN_BYTES"),
    ({"SPILL_BUCKET": ""}, "SPILL_BUCKET"),
    ({"SPILL_BUCKET": "b", "SPILL_PREFIX": ""}, "SPILL_PREFIX"),
    ({"ON_ERROR": "ignore"}, "ON_ERROR"),
])
def test_bad_options_are_refused(settings, options, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        SimpleDBCache(settings.SIMPLEDB_CACHE_DOMAIN, {"OPTIONS": options})


@pytest.mark.parametrize("location", ["", "ab", "has space", None, "x" * 256])
def test_a_location_must_be_a_domain_name(location):
    with pytest.raises(ImproperlyConfigured, match="LOCATION"):
        SimpleDBCache(location, {})


@pytest.mark.parametrize("params, message", [
    ({"TIMEOUT": "soon"}, "TIMEOUT"),
    ({"TIMEOUT": True}, "TIMEOUT"),
    ({"VERSION": "2"}, "VERSION"),
    ({"KEY_PREFIX": "p" * 1025}, "KEY_PREFIX"),
])
def test_bad_cache_parameters_are_refused(settings, params, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        SimpleDBCache(settings.SIMPLEDB_CACHE_DOMAIN, params)


# -- failures -------------------------------------------------------------------------------
@pytest.fixture
def simpledb_down(make_cache):
    """SimpleDB refuses connections (a stopped emulator's port); one attempt per call.

    Depends on make_cache so that its caches are cleared after the endpoint is restored.
    """
    server = SimpleDBServer().start()
    server.stop()
    from django.conf import settings

    endpoints = {**settings.AWS_ENDPOINT_URLS, "sdb": server.endpoint_url}
    with override_settings(AWS_ENDPOINT_URLS=endpoints, AWS_MAX_ATTEMPTS=1):
        aws.reset()
        try:
            yield
        finally:
            aws.reset()


def test_with_simpledb_down_reads_miss_and_writes_fail_logged(make_cache, simpledb_down,
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


def test_with_simpledb_down_and_on_error_raise_calls_raise(make_cache, simpledb_down):
    cache = make_cache(ON_ERROR="raise")
    for operation in (lambda: cache.get("key"), lambda: cache.set("key", 1),
                      lambda: cache.add("key", 1), lambda: cache.delete("key"),
                      lambda: cache.get_many(["key"]), lambda: cache.set_many({"key": 1}),
                      lambda: cache.touch("key"), lambda: cache.clear()):
        with pytest.raises(Unavailable):
            operation()


def test_a_missing_domain_degrades_like_an_outage(make_cache, caplog):
    cache = make_cache(location="never-provisioned-domain")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.get("key") is None
        assert cache.set("key", 1) is False
    assert "NoSuchDomain" in caplog.text


# -- concurrency ----------------------------------------------------------------------------
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


@pytest.mark.slow
def test_incr_is_atomic_across_threads(cache):
    cache.set("counter", 0)

    def count(_):
        for _ in range(25):
            cache.incr("counter")

    run_threads(8, count)
    assert cache.get("counter") == 200


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


# -- clear ----------------------------------------------------------------------------------
def test_clear_deletes_only_this_prefix_every_version(make_cache):
    mine = make_cache()
    theirs = make_cache(params={"KEY_PREFIX": mine.key_prefix + "-theirs"})
    mine.set_many({f"k{n}": n for n in range(30)})
    mine.set("old", 1, version=0)
    theirs.set("k1", "theirs")
    mine.clear()
    assert mine.get_many([f"k{n}" for n in range(30)]) == {}
    assert mine.get("old", version=0) is None
    assert theirs.get("k1") == "theirs"
