"""A record whose signature does not verify (tampered in the domain, or signed with a key
retired without a fallback) is absent to every read-modify-write of SimpleDBCache: add
overwrites it, incr/decr and touch delete it and answer as for a missing key. Each such
write is conditional on the record as read, so a writer that got there first is kept.

The records are planted or tampered with directly in the emulator's domain, through boto3.
"""

import logging

import pytest

from storage_backends import aws
from tests.fixtures.simpledb import counting_calls

from .conftest import overwrite, raw, record_name

LOGGER = "storage_backends.simpledb.cache"
OLD_KEY = "the-old-secret-key-" + "o" * 40
NEW_KEY = "the-new-secret-key-" + "n" * 40


def tamper(cache, key):
    """Change the stored signature of `key`'s record, as anyone with write access could."""
    overwrite(cache, key, {"sig": "0" * 64})


def plant(cache, key, attributes):
    """A record for `key` made by hand: live, with any attributes, and no valid signature."""
    overwrite(cache, key, {"s": "1", "x": "9" * 13, "g": "planted", "vn": "0", "vz": "0",
                           "vs3": "", "vd": "", "sig": "forged", **attributes})


def count_failures(cache, key):
    """Count one failed log-in as a cache-backed throttle does: add() starts the counter,
    incr() raises it, and a counter that vanished in between is started again."""
    for _ in range(3):
        if cache.add(key, 1, timeout=900):
            return 1
        try:
            return cache.incr(key)
        except ValueError:
            continue
    raise AssertionError(f"could not count under {key}")


def test_add_overwrites_a_live_record_whose_signature_does_not_verify(cache, caplog):
    cache.set("failures", 4)
    tamper(cache, "failures")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert cache.add("failures", 1) is True
    assert cache.get("failures") == 1
    assert "bad signature" in caplog.text


def test_add_overwrites_a_record_signed_with_a_key_retired_without_fallbacks(settings,
                                                                            make_cache):
    settings.SECRET_KEY = OLD_KEY
    make_cache().set("failures", 4)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, []
    cache = make_cache()
    assert cache.add("failures", 1) is True
    assert cache.get("failures") == 1


def test_add_still_refuses_a_live_record_it_can_verify(cache):
    cache.set("failures", 4)
    assert cache.add("failures", 1) is False
    assert cache.get("failures") == 4


def test_add_over_a_tampered_record_costs_what_add_over_an_expired_one_does(cache):
    cache.set("failures", 4)
    tamper(cache, "failures")
    sdb = aws.client("sdb")
    with counting_calls(sdb) as calls:
        assert cache.add("failures", 1) is True
    assert calls == ["PutAttributes", "GetAttributes", "PutAttributes"]


def test_add_with_a_zero_timeout_over_a_tampered_record_is_added(cache):
    cache.set("key", "value")
    tamper(cache, "key")
    assert cache.add("key", "other", timeout=0) is True


def test_incr_of_a_tampered_record_deletes_it_and_raises_value_error(cache):
    cache.set("failures", 4)
    tamper(cache, "failures")
    with pytest.raises(ValueError, match="not found"):
        cache.incr("failures")
    assert raw(cache, "failures") == {}


def test_decr_of_a_tampered_record_deletes_it_and_raises_value_error(cache):
    cache.set("n", 4)
    tamper(cache, "n")
    with pytest.raises(ValueError, match="not found"):
        cache.decr("n")
    assert raw(cache, "n") == {}


def test_touch_of_a_tampered_record_deletes_it_and_returns_false(cache):
    cache.set("key", "value")
    tamper(cache, "key")
    assert cache.touch("key", 60) is False
    assert raw(cache, "key") == {}


def test_get_or_set_over_a_tampered_record_stores_the_default(cache):
    cache.set("key", "old")
    tamper(cache, "key")
    assert cache.get_or_set("key", "default") == "default"
    assert cache.get("key") == "default"


def test_a_throttle_keeps_counting_after_its_counter_is_tampered_with(cache):
    for expected in (1, 2, 3):
        assert count_failures(cache, "failures:alice") == expected
    tamper(cache, "failures:alice")
    assert count_failures(cache, "failures:alice") == 1
    assert count_failures(cache, "failures:alice") == 2


def test_a_throttle_keeps_counting_after_a_key_rotation_without_fallbacks(settings,
                                                                         make_cache):
    settings.SECRET_KEY = OLD_KEY
    old = make_cache()
    assert count_failures(old, "failures:alice") == 1
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, []
    new = make_cache(params={"KEY_PREFIX": old.key_prefix})
    assert count_failures(new, "failures:alice") == 1
    assert count_failures(new, "failures:alice") == 2


def test_a_planted_record_without_a_generation_is_overwritten(cache):
    plant(cache, "failures", {})
    aws.client("sdb").delete_attributes(
        DomainName=cache.domain, ItemName=record_name(cache, "failures"),
        Attributes=[{"Name": "g", "Value": "planted"}])
    assert "g" not in raw(cache, "failures")
    assert count_failures(cache, "failures") == 1
    assert cache.get("failures") == 1


def test_a_planted_record_with_several_generations_is_overwritten(cache):
    plant(cache, "failures", {})
    aws.client("sdb").put_attributes(
        DomainName=cache.domain, ItemName=record_name(cache, "failures"),
        Attributes=[{"Name": "g", "Value": "second", "Replace": False}])
    assert count_failures(cache, "failures") == 1
    assert count_failures(cache, "failures") == 2


def test_incr_of_a_planted_record_with_several_generations_raises_value_error(cache):
    plant(cache, "n", {})
    aws.client("sdb").put_attributes(
        DomainName=cache.domain, ItemName=record_name(cache, "n"),
        Attributes=[{"Name": "g", "Value": "second", "Replace": False}])
    with pytest.raises(ValueError, match="not found"):
        cache.incr("n")
    assert raw(cache, "n") == {}


def writing_between_read_and_write(cache, key, value):
    """While add() or incr() is between its consistent read and its conditional write,
    let another node set `key` (through botocore's event hooks: the real calls, in order)."""
    sdb = aws.client("sdb")
    done = []

    def interleave(**kwargs):
        if not done:
            done.append(True)
            cache.set(key, value)

    sdb.meta.events.register("after-call.simpledb.GetAttributes", interleave)
    return lambda: sdb.meta.events.unregister("after-call.simpledb.GetAttributes",
                                              interleave)


def test_add_over_a_tampered_record_keeps_a_write_made_since_it_read(cache):
    cache.set("failures", 4)
    tamper(cache, "failures")
    stop = writing_between_read_and_write(cache, "failures", 7)
    try:
        assert cache.add("failures", 1) is False
    finally:
        stop()
    assert cache.get("failures") == 7


def test_incr_of_a_tampered_record_keeps_a_write_made_since_it_read(cache):
    cache.set("failures", 4)
    tamper(cache, "failures")
    stop = writing_between_read_and_write(cache, "failures", 7)
    try:
        assert cache.incr("failures") == 8
    finally:
        stop()
    assert cache.get("failures") == 8
