"""`manage.py purge_cache`: expired entries go, in batches; nothing else does."""

import time
import uuid
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command

from storage_backends import aws
from storage_backends.simpledb.cache import SimpleDBCache
from tests.fixtures.simpledb import count_items, counting_calls

BACKEND = "storage_backends.simpledb.cache.SimpleDBCache"


@pytest.fixture
def domain():
    """A domain of this test's own, so counts are exact."""
    sdb = aws.client("sdb")
    name = f"test-cache-{uuid.uuid4().hex[:10]}"
    sdb.create_domain(DomainName=name)
    yield name
    sdb.delete_domain(DomainName=name)


@pytest.fixture
def configured(settings, domain):
    settings.CACHES = {
        "default": {"BACKEND": BACKEND, "LOCATION": domain},
        "other": {"BACKEND": BACKEND, "LOCATION": domain, "KEY_PREFIX": "other"},
        "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }


def later(monkeypatch, seconds):
    now = time.time() + seconds
    monkeypatch.setattr(SimpleDBCache, "_now", lambda self: now)


def purge(*args):
    out = StringIO()
    call_command("purge_cache", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_only_expired_entries(configured, domain, monkeypatch):
    cache, other = caches["default"], caches["other"]
    cache.set_many({f"short-{n}": n for n in range(60)}, 10)
    other.set("short", "other prefix, also expired", 10)
    cache.set_many({f"long-{n}": n for n in range(5)}, 1000)
    cache.set("forever", "kept", None)
    later(monkeypatch, 60)
    sdb = aws.client("sdb")
    with counting_calls(sdb) as calls:
        output = purge("--alias", "default")
    assert "deleted 61 expired entries" in output and domain in output
    assert calls.count("BatchDeleteAttributes") == 3
    assert count_items(sdb, domain) == 6
    assert cache.get_many([f"long-{n}" for n in range(5)]) == {f"long-{n}": n for n in range(5)}
    assert cache.get("forever") == "kept"


def test_purge_without_alias_covers_every_simpledb_cache_once_per_domain(configured, domain,
                                                                       monkeypatch):
    caches["default"].set("key", 1, 10)
    later(monkeypatch, 60)
    output = purge()
    assert output.splitlines() == [
        f"cache default, other: deleted 1 expired entry from SimpleDB domain {domain}"]


def test_purge_of_nothing_expired(configured):
    caches["default"].set("key", 1, 100)
    assert "deleted 0 expired entries" in purge("--alias", "default")
    assert caches["default"].get("key") == 1


def test_purge_refuses_unknown_and_foreign_aliases(configured):
    with pytest.raises(CommandError, match="No cache alias 'nope'"):
        purge("--alias", "nope")
    with pytest.raises(CommandError, match="does not use SimpleDBCache"):
        purge("--alias", "local")


def test_purge_with_no_simpledb_cache_configured(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with pytest.raises(CommandError, match="No cache in CACHES uses SimpleDBCache"):
        purge()


def test_purge_failure_is_a_command_error(settings):
    settings.CACHES = {"default": {"BACKEND": BACKEND, "LOCATION": "never-provisioned"}}
    with pytest.raises(CommandError, match="purge failed"):
        purge()
