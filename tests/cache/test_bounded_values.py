"""MAX_VALUE_BYTES bounds what the cache stores and what it ever reads back: a spilled S3
object is read before its signed digest can be checked, so a zlib bomb or an over-long
object planted there is a logged miss, refused without being inflated or downloaded."""

import logging
import os

import pytest

from storage_backends import aws
from storage_backends.simpledb.client import ValueTooLarge
from tests.fixtures.zlib_bombs import MIB, zlib_bomb

from .conftest import raw, spilled_objects

LOGGER = "storage_backends.simpledb.cache"


@pytest.fixture
def spill_cache(make_cache, settings):
    return make_cache(SPILL_BUCKET=settings.STRATUS_MEDIA_BUCKET, SPILL_PREFIX="cache-spill/",
                      MAX_VALUE_BYTES=MIB)


def replace_spilled_object(cache, key, body):
    [object_key] = spilled_objects(cache, key)
    aws.client("s3").put_object(Bucket=cache._codec.spill.bucket, Key=object_key, Body=body)


def compressible_but_spilled():
    """A value that compression shrinks, but not below what a record holds."""
    return os.urandom(200_000) + bytes(200_000)


def test_a_spilled_value_is_compressed_when_that_helps(spill_cache):
    value = compressible_but_spilled()
    assert spill_cache.set("big", value) is True
    assert raw(spill_cache, "big")["vz"] == "1" and raw(spill_cache, "big")["vs3"]
    assert spill_cache.get("big") == value


def test_a_zlib_bomb_planted_as_a_spilled_object_is_a_logged_miss(spill_cache, caplog):
    spill_cache.set("big", compressible_but_spilled())
    replace_spilled_object(spill_cache, "big", zlib_bomb(64 * MIB))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert spill_cache.get("big") is None
        assert spill_cache.get_many(["big"]) == {}
    assert f"decompresses to more than {MIB} bytes" in caplog.text


def test_an_over_long_spilled_object_is_a_logged_miss_refused_from_its_length(spill_cache,
                                                                            caplog):
    spill_cache.set("big", compressible_but_spilled())
    replace_spilled_object(spill_cache, "big", bytes(3 * MIB))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert spill_cache.get("big") is None
    assert f"holds {3 * MIB} bytes, over {MIB}" in caplog.text


def test_a_value_over_max_value_bytes_is_refused_and_logged(spill_cache, caplog):
    spill_cache.set("big", "an older value")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert spill_cache.set("big", bytes(MIB)) is False  # its pickle is a little longer
    assert "ValueTooLarge" in caplog.text
    assert spill_cache.get("big") is None  # no old value outlives the failed write
    assert spill_cache.set_many({"small": 1, "huge": bytes(MIB)}) == ["huge"]


def test_a_value_over_max_value_bytes_raises_when_configured(make_cache):
    cache = make_cache(MAX_VALUE_BYTES=1000, ON_ERROR="raise")
    with pytest.raises(ValueTooLarge, match="more than the 1000"):
        cache.set("big", b"x" * 1000)
