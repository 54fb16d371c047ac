"""Django's MAX_ENTRIES and CULL_FREQUENCY on SimpleDBCache: unbounded when neither is
given; otherwise the domain's size is checked (DomainMetadata) on a cache object's first
write, every tenth of MAX_ENTRIES writes and CHECK_SECONDS after its last check, and an
over-full domain loses its expired entries first, then the share that expires soonest.

Each test has a domain of its own: the count and the culling cover the whole domain."""

import time

import pytest

from storage_backends import aws
from storage_backends.simpledb.cache import SimpleDBCache
from storage_backends.simpledb.cache.culling import CHECK_SECONDS
from tests.fixtures.simpledb import count_items, counting_calls


@pytest.fixture
def domain(own_domain):
    return own_domain


@pytest.fixture
def clock(monkeypatch):
    """The time every SimpleDBCache sees, frozen; `clock.move(seconds)` moves it."""

    class Clock:
        now = time.time()

        def move(self, seconds):
            self.now += seconds

    frozen = Clock()
    monkeypatch.setattr(SimpleDBCache, "_now", lambda self: frozen.now)
    return frozen


@pytest.fixture
def bounded(domain, make_cache, clock):
    """bounded(**OPTIONS): a cache on the test's own domain, with a frozen clock."""
    return lambda **options: make_cache(location=domain, **options)


def stored_keys(cache, keys):
    return sorted(cache.get_many(keys))


def test_without_max_entries_the_domain_size_is_never_asked_and_nothing_culled(bounded,
                                                                               domain):
    cache = bounded()
    sdb = aws.client("sdb")
    with counting_calls(sdb) as calls:
        for n in range(30):
            cache.set(f"k{n}", n)
        cache.set_many({f"m{n}": n for n in range(30)})
        cache.add("new", 1)
    assert "DomainMetadata" not in calls
    assert count_items(sdb, domain) == 61


def test_the_size_is_checked_on_the_first_write_then_every_tenth_of_max_entries(bounded):
    cache = bounded(MAX_ENTRIES=100)
    sdb = aws.client("sdb")
    with counting_calls(sdb) as calls:
        cache.set("k0", 0)
    assert calls == ["PutAttributes", "DomainMetadata"]
    checks = []
    for n in range(1, 21):
        with counting_calls(sdb) as calls:
            cache.set(f"k{n}", n)
        checks.append("DomainMetadata" in calls)
    assert [n for n, checked in enumerate(checks, 1) if checked] == [10, 20]


def test_the_size_is_checked_again_check_seconds_after_the_last_check(bounded, clock):
    cache = bounded(MAX_ENTRIES=1000)
    sdb = aws.client("sdb")
    cache.set("k0", 0)
    with counting_calls(sdb) as calls:
        cache.set("k1", 1)
    assert calls == ["PutAttributes"]
    clock.move(CHECK_SECONDS)
    with counting_calls(sdb) as calls:
        cache.set("k2", 2)
    assert calls == ["PutAttributes", "DomainMetadata"]


def test_an_over_full_domain_loses_its_expired_entries_first(bounded, clock, domain):
    cache = bounded(MAX_ENTRIES=10)
    cache.set_many({f"old{n}": n for n in range(5)}, timeout=10)
    clock.move(20)
    for n in range(6):
        cache.set(f"new{n}", n, timeout=1000)
    assert count_items(aws.client("sdb"), domain) == 6
    assert stored_keys(cache, [f"new{n}" for n in range(6)]) == [f"new{n}" for n in range(6)]


def test_then_the_cull_frequency_share_that_expires_soonest_goes(bounded, domain):
    cache = bounded(MAX_ENTRIES=9, CULL_FREQUENCY=3)
    keys = [f"k{n}" for n in range(10)]
    for n, key in enumerate(keys):
        cache.set(key, n, timeout=100 * (n + 1))
    # Ten entries, none expired: 10 // 3 = 3 go, those with the shortest timeouts.
    assert count_items(aws.client("sdb"), domain) == 7
    assert stored_keys(cache, keys) == keys[3:]


def test_entries_without_a_timeout_are_culled_last(bounded):
    cache = bounded(MAX_ENTRIES=3, CULL_FREQUENCY=2)
    cache.set("forever", 0, timeout=None)
    for n in range(3):
        cache.set(f"k{n}", n, timeout=100)
    assert cache.get("forever") == 0


def test_a_cull_frequency_of_zero_clears_the_cache(bounded, domain):
    cache = bounded(MAX_ENTRIES=5, CULL_FREQUENCY=0)
    for n in range(6):
        cache.set(f"k{n}", n)
    assert count_items(aws.client("sdb"), domain) == 0


def test_set_many_counts_every_entry_it_writes(bounded, domain):
    cache = bounded(MAX_ENTRIES=20)
    cache.set_many({f"k{n}": n for n in range(30)})
    # Checked at once (a first write): 30 entries, a third of them culled.
    assert count_items(aws.client("sdb"), domain) == 20


def test_add_culls_like_set(bounded, domain):
    cache = bounded(MAX_ENTRIES=5, CULL_FREQUENCY=0)
    for n in range(6):
        cache.add(f"k{n}", n)
    assert count_items(aws.client("sdb"), domain) == 0


@pytest.mark.parametrize("options, max_entries, cull_frequency", [
    ({}, None, None),
    ({"MAX_ENTRIES": 50}, 50, 3),
    ({"CULL_FREQUENCY": 2}, 300, 2),
    ({"MAX_ENTRIES": 50, "CULL_FREQUENCY": 0}, 50, 0),
])
def test_a_missing_option_takes_djangos_default_unless_both_are_missing(
        settings, options, max_entries, cull_frequency):
    cache = SimpleDBCache(settings.SIMPLEDB_CACHE_DOMAIN, {"OPTIONS": options})
    assert (cache._max_entries, cache._cull_frequency) == (max_entries, cull_frequency)


def test_the_lowercase_top_level_parameters_basecache_reads_are_honoured(settings):
    cache = SimpleDBCache(settings.SIMPLEDB_CACHE_DOMAIN, {"max_entries": 40})
    assert (cache._max_entries, cache._cull_frequency) == (40, 3)


def test_a_cache_moved_from_databasecache_by_settings_alone_is_accepted(settings):
    settings.CACHES = {"default": {
        "BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
        "LOCATION": settings.SIMPLEDB_CACHE_DOMAIN,
        "TIMEOUT": 60,
        "OPTIONS": {"MAX_ENTRIES": 1000, "CULL_FREQUENCY": 4},
    }}
    from django.core.cache import caches
    from django.core.checks import run_checks

    assert caches["default"]._max_entries == 1000
    assert [e.id for e in run_checks() if e.id == "storage_backends.E002"] == []
