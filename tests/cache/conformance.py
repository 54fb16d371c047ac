"""What any Django cache backend must do: a mixin, bound to a backend by a one-line subclass.

    class TestMyCache(CacheConformance):
        params = {"BACKEND": "path.to.MyCache", "LOCATION": "..."}

Each test gets CACHES made from `params` with a key prefix of its own (so tests never see
each other's entries, even in a shared store) and these aliases:

- "default": the cache under test (also the `cache` fixture);
- "prefix": same store, another KEY_PREFIX;
- "v2": same store and prefix, VERSION 2;
- "custom_key" / "custom_key2": a KEY_FUNCTION given as a callable / as a dotted path;
- "forever": TIMEOUT None.

Expiry is tested without sleeping: the backend must take the time from a `_now()` method
returning epoch seconds, which the `clock` fixture replaces.

The behaviours are those Django's own backends share (its BaseCacheTests), written afresh.
"""

import asyncio
import datetime
import decimal
import pickle
import threading
import time
import uuid
import warnings

import pytest
from django.contrib.auth.models import User
from django.core.cache import CacheKeyWarning, caches


def custom_key_func(key, key_prefix, version):
    """A KEY_FUNCTION unlike Django's default."""
    return "CUSTOM-" + "-".join([key_prefix, str(version), key])


class Unpicklable:
    def __getstate__(self):
        raise pickle.PickleError("not today")


class Point:
    """A plain object, compared by value after a round trip."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        # Test ids are made from it: the same in every pytest-xdist worker.
        return f"Point({self.x}, {self.y})"


def run_async(scenario):
    """Run a coroutine function to its end on an event loop of its own, in a thread of its
    own (the calling thread may already run a loop, e.g. after Playwright's sync API)."""
    failures = []

    def run():
        try:
            asyncio.run(scenario())
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


class Clock:
    """The time the cache under test sees; `advance()` moves it."""

    def __init__(self, now):
        self.now = now

    def advance(self, seconds):
        self.now += seconds


class CacheConformance:
    params = None  # a CACHES entry: BACKEND, LOCATION, OPTIONS
    #: How much longer than its timeout an entry may live: expiries kept to a whole second
    #: (as DynamoDB's TTL reads them) are rounded up, never down.
    expiry_resolution = 0

    @pytest.fixture(autouse=True)
    def configured_caches(self, settings):
        prefix = f"conformance-{uuid.uuid4().hex[:12]}"
        default = {**self.params, "KEY_PREFIX": prefix}
        settings.CACHES = {
            "default": default,
            "prefix": {**default, "KEY_PREFIX": prefix + "-other"},
            "v2": {**default, "VERSION": 2},
            "custom_key": {**default, "KEY_FUNCTION": custom_key_func},
            "custom_key2": {**default,
                            "KEY_FUNCTION": "tests.cache.conformance.custom_key_func"},
            "forever": {**default, "TIMEOUT": None},
        }
        yield
        for alias in ("default", "prefix"):
            caches[alias].clear()

    @pytest.fixture
    def cache(self):
        return caches["default"]

    @pytest.fixture
    def clock(self, cache, monkeypatch):
        clock = Clock(time.time())
        monkeypatch.setattr(type(cache), "_now", lambda _self: clock.now)
        return clock

    # -- get, set, add -------------------------------------------------------------------
    def test_set_then_get(self, cache):
        cache.set("key", "value")
        assert cache.get("key") == "value"

    def test_missing_key_gives_none_or_the_default(self, cache):
        assert cache.get("does-not-exist") is None
        assert cache.get("does-not-exist", "fallback") == "fallback"

    def test_a_stored_none_is_returned_not_the_default(self, cache):
        cache.set("nothing", None)
        assert cache.get("nothing", "fallback") is None

    def test_set_overwrites(self, cache):
        cache.set("key", "first")
        cache.set("key", "second")
        assert cache.get("key") == "second"

    def test_add_stores_only_a_new_key(self, cache):
        assert cache.add("key", "first") is True
        assert cache.add("key", "second") is False
        assert cache.get("key") == "first"

    def test_add_with_no_expiry(self, cache):
        assert cache.add("key", "value", None) is True
        assert cache.get("key") == "value"

    def test_add_after_delete(self, cache):
        cache.set("key", "old")
        cache.delete("key")
        assert cache.add("key", "new") is True
        assert cache.get("key") == "new"

    # -- get_many ------------------------------------------------------------------------
    def test_get_many_returns_only_what_exists(self, cache):
        cache.set("a", "A")
        cache.set("b", "B")
        cache.set("c", "C")
        assert cache.get_many(["a", "c", "missing"]) == {"a": "A", "c": "C"}
        assert cache.get_many(iter(["b", "missing"])) == {"b": "B"}

    def test_get_many_of_nothing(self, cache):
        assert cache.get_many([]) == {}

    def test_get_many_includes_stored_none(self, cache):
        cache.set("nothing", None)
        assert cache.get_many(["nothing"]) == {"nothing": None}

    # -- delete, has_key -----------------------------------------------------------------
    def test_delete_says_whether_it_deleted(self, cache):
        cache.set("a", "A")
        cache.set("b", "B")
        assert cache.delete("a") is True
        assert cache.get("a") is None
        assert cache.get("b") == "B"
        assert cache.delete("a") is False

    def test_delete_of_a_key_never_set(self, cache):
        assert cache.delete("never-set") is False

    def test_has_key(self, cache):
        cache.set("here", 1)
        cache.set("forever", "x", None)
        cache.set("none", None)
        assert cache.has_key("here") is True
        assert cache.has_key("forever") is True
        assert cache.has_key("none") is True
        assert cache.has_key("absent") is False

    def test_in_operator(self, cache):
        cache.set("here", 1)
        assert "here" in cache
        assert "absent" not in cache

    # -- incr, decr ----------------------------------------------------------------------
    def test_incr(self, cache):
        cache.set("n", 1)
        assert cache.incr("n") == 2
        assert cache.get("n") == 2
        assert cache.incr("n", 10) == 12
        assert cache.incr("n", -10) == 2
        assert cache.get("n") == 2

    def test_decr(self, cache):
        cache.set("n", 10)
        assert cache.decr("n") == 9
        assert cache.decr("n", 5) == 4
        assert cache.decr("n", -3) == 7
        assert cache.get("n") == 7

    def test_incr_below_zero(self, cache):
        cache.set("n", 0)
        assert cache.decr("n", 5) == -5
        assert cache.incr("n", -1) == -6

    def test_incr_and_decr_of_a_missing_key_raise_value_error(self, cache):
        with pytest.raises(ValueError):
            cache.incr("absent")
        with pytest.raises(ValueError):
            cache.decr("absent")
        assert cache.has_key("absent") is False

    def test_incr_keeps_the_expiry(self, cache, clock):
        cache.set("n", 1, 10)
        clock.advance(6)
        assert cache.incr("n") == 2
        clock.advance(6)
        assert cache.get("n") is None

    def test_incr_of_an_expired_key_raises_value_error(self, cache, clock):
        cache.set("n", 1, 1)
        clock.advance(2)
        with pytest.raises(ValueError):
            cache.incr("n")

    # -- values --------------------------------------------------------------------------
    @pytest.mark.parametrize("value", [
        "text", "", 0, -7, 2**70, 3.25, True, False, b"bytes", [1, "two", 3.0],
        {"a": [1, 2], "b": {"c": None}}, (1, 2), {1, 2, 3}, frozenset({4}),
        decimal.Decimal("1.10"), datetime.datetime(2024, 2, 29, 12, 30, tzinfo=datetime.UTC),
        datetime.date(2000, 1, 1), Point(1, 2), [Point(3, 4), {"nested": (Point(5, 6),)}],
    ], ids=repr)
    def test_values_round_trip(self, cache, value):
        cache.set("value", value)
        got = cache.get("value")
        assert got == value and type(got) is type(value)

    def test_model_instance(self, cache):
        user = User(username="ada", email="ada@example.com")
        cache.set("user", user)
        got = cache.get("user")
        assert isinstance(got, User) and got.username == "ada" and got.email == "ada@example.com"

    def test_unicode(self, cache):
        values = {
            "ascii": "ascii_value",
            "unicode_ascii": "Iñtërnâtiônàlizætiøn1",
            "Iñtërnâtiônàlizætiøn": "Iñtërnâtiônàlizætiøn2",
            "emoji-🦄": {"map 🗺": "value ✓"},
            "日本語のキー": "値",
        }
        for key, value in values.items():
            cache.set(key, value)
            assert cache.get(key) == value
        for key, value in values.items():
            cache.delete(key)
            cache.add(key, value)
            assert cache.get(key) == value
        cache.set_many(values)
        assert cache.get_many(list(values)) == values

    def test_binary_string(self, cache):
        every_byte = bytes(range(256)) * 8
        cache.set("bin", every_byte)
        assert cache.get("bin") == every_byte
        assert cache.add("bin2", every_byte) is True
        assert cache.get("bin2") == every_byte
        cache.set_many({"bin3": every_byte})
        assert cache.get_many(["bin3"]) == {"bin3": every_byte}

    def test_large_value(self, cache):
        text = "lorem ipsum dolor sit amet " * 4000  # ~100 KB
        cache.set("large", text)
        assert cache.get("large") == text

    def test_unpicklable_values_raise(self, cache):
        with pytest.raises(pickle.PickleError):
            cache.set("bad", Unpicklable())
        with pytest.raises(pickle.PickleError):
            cache.add("bad", Unpicklable())
        assert cache.has_key("bad") is False

    # -- expiry --------------------------------------------------------------------------
    def test_expiration(self, cache, clock):
        for key in ("expire1", "expire2", "expire3"):
            cache.set(key, "very quickly", 1)
        clock.advance(2)
        assert cache.get("expire1") is None
        assert cache.add("expire2", "new value") is True
        assert cache.get("expire2") == "new value"
        assert cache.has_key("expire3") is False
        assert cache.get_many(["expire1", "expire3"]) == {}

    def test_entry_lives_until_its_timeout(self, cache, clock):
        cache.set("key", "value", 10)
        clock.advance(9.9)
        assert cache.get("key") == "value"
        clock.advance(0.2 + self.expiry_resolution)
        assert cache.get("key") is None

    def test_default_timeout_applies(self, cache, clock):
        cache.set("key", "value")
        clock.advance(cache.default_timeout - 1)
        assert cache.get("key") == "value"
        clock.advance(2)
        assert cache.get("key") is None

    def test_float_timeout(self, cache, clock):
        cache.set("key", "value", 1.5)
        clock.advance(1)
        assert cache.get("key") == "value"
        clock.advance(1 + self.expiry_resolution)
        assert cache.get("key") is None
        cache.set("key", "spam", 100.2)
        assert cache.get("key") == "spam"

    def test_long_timeout(self, cache, clock):
        thirty_days = 60 * 60 * 24 * 30
        cache.set("key", "value", thirty_days + 1)
        assert cache.add("key2", "value2", thirty_days + 1) is True
        clock.advance(thirty_days)
        assert cache.get_many(["key", "key2"]) == {"key": "value", "key2": "value2"}

    def test_forever_timeout(self, cache, clock):
        cache.set("key", "value", None)
        assert cache.add("key2", "value2", None) is True
        assert cache.add("key2", "other", None) is False
        cache.set_many({"key3": "value3"}, None)
        clock.advance(60 * 60 * 24 * 365 * 50)
        assert cache.get_many(["key", "key2", "key3"]) == {
            "key": "value", "key2": "value2", "key3": "value3"}

    def test_a_cache_whose_default_timeout_is_none_never_expires(self, clock):
        forever = caches["forever"]
        forever.set("key", "value")
        clock.advance(60 * 60 * 24 * 365 * 10)
        assert forever.get("key") == "value"

    def test_zero_timeout_stores_nothing(self, cache):
        cache.set("key1", "eggs", 0)
        assert cache.get("key1") is None
        assert cache.add("key2", "ham", 0) is True
        assert cache.get("key2") is None
        cache.set_many({"key3": "sausage", "key4": "lobster bisque"}, 0)
        assert cache.get_many(["key3", "key4"]) == {}

    def test_zero_or_negative_timeout_removes_an_existing_entry(self, cache):
        cache.set("key1", "old")
        cache.set("key2", "old")
        cache.set("key1", "new", 0)
        cache.set("key2", "new", -1)
        assert cache.get_many(["key1", "key2"]) == {}

    def test_add_with_zero_timeout_over_a_live_entry(self, cache):
        cache.set("key", "kept")
        assert cache.add("key", "ignored", 0) is False
        assert cache.get("key") == "kept"

    # -- touch ---------------------------------------------------------------------------
    def test_touch_extends_the_expiry(self, cache, clock):
        cache.set("key", "value", 1)
        assert cache.touch("key", 4) is True
        clock.advance(2)
        assert cache.has_key("key") is True
        clock.advance(3)
        assert cache.has_key("key") is False

    def test_touch_without_timeout_uses_the_default(self, cache, clock):
        cache.set("key", "value", 1)
        assert cache.touch("key") is True
        clock.advance(2)
        assert cache.get("key") == "value"

    def test_touch_with_none_makes_it_permanent(self, cache, clock):
        cache.set("key", "value", 1)
        assert cache.touch("key", None) is True
        clock.advance(60 * 60 * 24 * 365)
        assert cache.get("key") == "value"

    def test_touch_with_zero_removes_it(self, cache):
        cache.set("key", "value", 10)
        assert cache.touch("key", 0) is True
        assert cache.get("key") is None

    def test_touch_of_a_missing_key(self, cache):
        assert cache.touch("absent") is False

    def test_touch_of_an_expired_key_does_not_revive_it(self, cache, clock):
        cache.set("key", "stale", 1)
        clock.advance(2)
        assert cache.touch("key", 100) is False
        assert cache.get("key") is None

    # -- set_many, delete_many, clear ----------------------------------------------------
    def test_set_many(self, cache):
        assert cache.set_many({"a": "A", "b": 2, "c": None}) == []
        assert cache.get_many(["a", "b", "c"]) == {"a": "A", "b": 2, "c": None}

    def test_set_many_of_nothing(self, cache):
        assert cache.set_many({}) == []

    def test_set_many_expiration(self, cache, clock):
        cache.set_many({"a": "A", "b": "B"}, 1)
        clock.advance(2)
        assert cache.get_many(["a", "b"]) == {}

    def test_set_many_overwrites(self, cache):
        cache.set("a", "old")
        cache.set_many({"a": "new", "b": "B"})
        assert cache.get("a") == "new"

    def test_delete_many(self, cache):
        cache.set_many({"a": "A", "b": "B", "c": "C"})
        cache.delete_many(["a", "b", "never-set"])
        assert cache.get_many(["a", "b", "c"]) == {"c": "C"}

    def test_delete_many_of_nothing(self, cache):
        cache.set("a", "A")
        assert cache.delete_many([]) is None
        assert cache.get("a") == "A"

    def test_clear(self, cache):
        cache.set_many({"a": "A", "b": "B"})
        cache.set("c", "C", version=7)
        cache.clear()
        assert cache.get_many(["a", "b"]) == {}
        assert cache.get("c", version=7) is None

    def test_clear_leaves_other_prefixes_alone(self, cache):
        other = caches["prefix"]
        cache.set("key", "mine")
        other.set("key", "theirs")
        cache.clear()
        assert cache.get("key") is None
        assert other.get("key") == "theirs"

    # -- keys ----------------------------------------------------------------------------
    def test_long_key_warns_but_works(self, cache):
        key = "k" * 300
        with pytest.warns(CacheKeyWarning):
            cache.set(key, "value")
        with pytest.warns(CacheKeyWarning):
            assert cache.get(key) == "value"

    def test_key_with_memcached_unsafe_characters_warns_but_works(self, cache):
        key = "key with spaces and\ncontrol\x00characters"
        with pytest.warns(CacheKeyWarning):
            cache.set(key, "value")
        with pytest.warns(CacheKeyWarning):
            assert cache.get(key) == "value"
        with pytest.warns(CacheKeyWarning):
            cache.set_many({key: "other"})
        with pytest.warns(CacheKeyWarning):
            cache.delete_many([key])

    def test_keys_differing_only_beyond_any_limit_stay_apart(self, cache):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheKeyWarning)
            cache.set("x" * 5000 + "a", "a")
            cache.set("x" * 5000 + "b", "b")
            assert cache.get("x" * 5000 + "a") == "a"
            assert cache.get("x" * 5000 + "b") == "b"

    def test_key_prefix_separates_caches(self, cache):
        other = caches["prefix"]
        cache.set("key", "mine")
        assert other.get("key") is None
        assert other.has_key("key") is False
        other.set("key", "theirs")
        assert cache.get("key") == "mine"

    def test_custom_key_function(self, cache):
        custom, custom_by_path = caches["custom_key"], caches["custom_key2"]
        custom.set("answer", 42)
        assert custom.get("answer") == 42
        assert custom_by_path.get("answer") == 42
        assert cache.get("answer") is None

    # -- versions ------------------------------------------------------------------------
    def test_versioned_get_and_set(self, cache):
        v2 = caches["v2"]
        cache.set("key", "v1 value")
        assert cache.get("key", version=2) is None
        assert v2.get("key") is None
        assert v2.get("key", version=1) == "v1 value"
        cache.set("key", "v2 value", version=2)
        assert cache.get("key") == "v1 value"
        assert v2.get("key") == "v2 value"

    def test_versioned_add(self, cache):
        assert cache.add("key", "v1") is True
        assert cache.add("key", "again") is False
        assert cache.add("key", "v2", version=2) is True
        assert caches["v2"].get("key") == "v2"
        assert cache.get("key") == "v1"

    def test_versioned_has_key_and_delete(self, cache):
        cache.set("key", "v1")
        cache.set("key", "v2", version=2)
        assert cache.has_key("key", version=2) is True
        assert cache.delete("key", version=2) is True
        assert cache.has_key("key", version=2) is False
        assert cache.has_key("key") is True

    def test_versioned_incr_and_decr(self, cache):
        cache.set("n", 1)
        cache.set("n", 100, version=2)
        assert cache.incr("n", version=2) == 101
        assert cache.decr("n") == 0
        assert caches["v2"].get("n") == 101
        assert cache.get("n") == 0

    def test_versioned_set_many_get_many_delete_many(self, cache):
        v2 = caches["v2"]
        cache.set_many({"a": 1, "b": 2}, version=2)
        assert cache.get_many(["a", "b"]) == {}
        assert v2.get_many(["a", "b"]) == {"a": 1, "b": 2}
        assert cache.get_many(["a", "b"], version=2) == {"a": 1, "b": 2}
        cache.delete_many(["a"], version=2)
        assert v2.get_many(["a", "b"]) == {"b": 2}

    def test_incr_version(self, cache):
        cache.set("key", "value")
        assert cache.incr_version("key") == 2
        assert cache.get("key") is None
        assert cache.get("key", version=2) == "value"
        assert cache.incr_version("key", delta=3, version=2) == 5
        assert cache.get("key", version=5) == "value"
        with pytest.raises(ValueError):
            cache.incr_version("absent")

    def test_decr_version(self, cache):
        cache.set("key", "value", version=3)
        assert cache.decr_version("key", version=3) == 2
        assert cache.get("key", version=3) is None
        assert cache.get("key", version=2) == "value"
        with pytest.raises(ValueError):
            cache.decr_version("absent", version=2)

    # -- get_or_set ----------------------------------------------------------------------
    def test_get_or_set(self, cache):
        assert cache.get_or_set("key", "default") == "default"
        assert cache.get("key") == "default"
        assert cache.get_or_set("key", "other") == "default"

    def test_get_or_set_with_a_callable(self, cache):
        calls = []

        def make():
            calls.append(1)
            return "made"

        assert cache.get_or_set("key", make) == "made"
        assert cache.get_or_set("key", make) == "made"
        assert calls == [1]

    def test_get_or_set_none(self, cache):
        assert cache.get_or_set("null", None) is None
        assert cache.get("null", "fallback") is None
        assert cache.get_or_set("null", lambda: None) is None

    def test_get_or_set_versions(self, cache):
        cache.get_or_set("key", "v1")
        assert cache.get_or_set("key", "v2", version=2) == "v2"
        assert cache.get("key") == "v1"

    def test_get_or_set_returns_what_a_racing_writer_added(self, cache, monkeypatch):
        real_add = cache.add

        def add_loses(key, value, timeout=None, version=None):
            real_add(key, "the winner's", version=version)
            return False

        monkeypatch.setattr(cache, "add", add_loses)
        assert cache.get_or_set("key", "mine") == "the winner's"

    # -- close ---------------------------------------------------------------------------
    def test_close_leaves_the_cache_usable(self, cache):
        cache.set("key", "value")
        cache.close()
        assert cache.get("key") == "value"

    # -- async ---------------------------------------------------------------------------
    def test_async_single_key_operations(self, cache):
        async def scenario():
            await cache.aset("key", "value")
            assert await cache.aget("key") == "value"
            assert await cache.aadd("key", "other") is False
            assert await cache.aadd("new", 1) is True
            assert await cache.ahas_key("new") is True
            assert await cache.aincr("new", 4) == 5
            assert await cache.adecr("new") == 4
            assert await cache.atouch("key", 100) is True
            assert await cache.adelete("key") is True
            assert await cache.aget("key", "gone") == "gone"

        run_async(scenario)

    def test_async_many_key_operations(self, cache):
        async def scenario():
            assert await cache.aset_many({"a": 1, "b": 2}) == []
            assert await cache.aget_many(["a", "b", "c"]) == {"a": 1, "b": 2}
            await cache.adelete_many(["a"])
            assert await cache.aget_many(["a", "b"]) == {"b": 2}
            assert await cache.aget_or_set("c", 3) == 3
            assert await cache.aincr_version("b") == 2
            assert await cache.adecr_version("b", version=2) == 1
            await cache.aclear()
            assert await cache.aget_many(["b", "c"]) == {}
            await cache.aclose()

        run_async(scenario)
