"""Fixtures for the SimpleDB cache's own tests: caches with options, a raw view of records."""

import hashlib
import uuid

import pytest

from storage_backends import aws
from storage_backends.simpledb.cache import SimpleDBCache


@pytest.fixture
def make_cache(settings):
    """make_cache(**OPTIONS) (or make_cache(params={...}, **OPTIONS)): a SimpleDBCache on the
    provisioned cache domain, with a KEY_PREFIX of its own; cleared afterwards."""
    made = []
    prefix = f"simpledb-{uuid.uuid4().hex[:12]}"

    def make(params=None, location=None, **options):
        params = {"KEY_PREFIX": prefix, "OPTIONS": options, **(params or {})}
        cache = SimpleDBCache(location or settings.SIMPLEDB_CACHE_DOMAIN, params)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.clear()


@pytest.fixture
def own_domain():
    """A fresh, empty domain on the local stack for one test, deleted afterwards (request
    it before make_cache, so that the caches are cleared before it goes)."""
    name = f"test-cache-{uuid.uuid4().hex[:12]}"
    sdb = aws.client("sdb")
    sdb.create_domain(DomainName=name)
    yield name
    sdb.delete_domain(DomainName=name)


@pytest.fixture
def cache(make_cache):
    return make_cache()


def record_name(cache, key, version=None):
    """The SimpleDB item a cache keeps `key` in."""
    return hashlib.sha256(cache.make_key(key, version).encode()).hexdigest()


def raw(cache, key):
    """The record's attributes as SimpleDB holds them, read consistently."""
    response = aws.client("sdb").get_attributes(
        DomainName=cache.domain, ItemName=record_name(cache, key), ConsistentRead=True)
    return {a["Name"]: a["Value"] for a in response.get("Attributes", [])}


def overwrite(cache, key, attributes):
    """Replace attributes of the record directly, as anyone with write access could."""
    aws.client("sdb").put_attributes(
        DomainName=cache.domain, ItemName=record_name(cache, key),
        Attributes=[{"Name": k, "Value": v, "Replace": True} for k, v in attributes.items()])


def spilled_objects(cache, key):
    """The S3 keys of the objects spilled for `key`'s record."""
    folder = cache._codec.spill.folder(record_name(cache, key))
    listing = aws.client("s3").list_objects_v2(Bucket=cache._codec.spill.bucket, Prefix=folder)
    return [item["Key"] for item in listing.get("Contents", [])]
