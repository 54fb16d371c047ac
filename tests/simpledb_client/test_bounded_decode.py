"""The value codec never produces more than the largest value its store writes: a zlib bomb,
an over-long spilled object or a pointer out of its prefix is refused as corrupt, without
being inflated or downloaded."""

import base64
import uuid

import pytest

from storage_backends import aws
from storage_backends.simpledb.client import S3Spill, SimpleDBClient, ValueCodec, ValueTooLarge
from storage_backends.simpledb.codec import ValueOverBound, inflate
from tests.fixtures.zlib_bombs import MIB, peak_allocation, zlib_bomb

BOMB = zlib_bomb(64 * MIB)


def test_inflate_refuses_more_than_its_bound_having_made_at_most_one_byte_more():
    with peak_allocation() as peak, pytest.raises(ValueOverBound, match="more than 1048576"):
        inflate(BOMB, MIB)
    assert peak[0] < 3 * MIB  # the bomb holds 64 MiB


def test_inflate_returns_a_value_exactly_at_its_bound():
    assert inflate(zlib_bomb(MIB), MIB) == bytes(MIB)


def test_inflate_refuses_a_truncated_stream():
    with pytest.raises(ValueError, match="truncated"):
        inflate(zlib_bomb(MIB)[:-10], MIB)


def test_a_codec_refuses_to_write_a_value_over_its_bound():
    with pytest.raises(ValueTooLarge, match="more than the 1000"):
        ValueCodec(max_value_bytes=1000).encode("v", b"a" * 1001)


def bomb_record():
    """Attributes as the codec lays out a compressed value, holding BOMB."""
    text = base64.b64encode(BOMB).decode()
    chunks = [text[i:i + 1024] for i in range(0, len(text), 1024)]
    return {"vn": str(len(chunks)), "vz": "1", "vs3": "",
            **{f"v{n:03d}": chunk for n, chunk in enumerate(chunks)}}


def test_a_planted_zlib_bomb_in_a_record_is_corrupt_and_not_inflated(records):
    records.put("bomb", bomb_record())
    stored = records.get("bomb", consistent=True)
    with peak_allocation() as peak, pytest.raises(ValueError, match="more than"):
        ValueCodec(max_value_bytes=MIB).decode(stored)
    assert peak[0] < 4 * MIB


def test_a_chunk_count_past_what_a_record_holds_is_corrupt():
    attributes = ValueCodec().encode("v", b"short")
    attributes["vn"] = "100000"
    with pytest.raises(ValueError, match="chunk count"):
        ValueCodec().decode(attributes)


@pytest.fixture
def spill(settings):
    return S3Spill(aws.client("s3"), settings.STRATUS_MEDIA_BUCKET,
                   f"test-spill-{uuid.uuid4().hex[:8]}/")


# The S3 tests cannot measure memory: moto serves in this process, and its allocations count.
def test_a_spilled_object_longer_than_the_bound_is_refused_from_its_length(spill):
    key = spill.write("big", bytes(3 * MIB))
    with pytest.raises(ValueOverBound, match="holds 3145728 bytes, over 1048576"):
        spill.read(key, MIB)
    assert spill.read(key, 3 * MIB) == bytes(3 * MIB)


def test_a_spilled_zlib_bomb_is_corrupt(spill):
    codec = ValueCodec(spill=spill, max_value_bytes=MIB)
    attributes = {"vn": "0", "vz": "1", "vs3": spill.write("big", BOMB)}
    with pytest.raises(ValueError, match="decompresses to more than 1048576 bytes"):
        codec.decode(attributes)


def test_a_spill_pointer_outside_the_prefix_is_corrupt(spill, settings):
    elsewhere = S3Spill(aws.client("s3"), settings.STRATUS_MEDIA_BUCKET, "elsewhere/")
    key = elsewhere.write("big", b"private")
    codec = ValueCodec(spill=spill)
    with pytest.raises(ValueError, match="outside"):
        codec.decode({"vn": "0", "vz": "0", "vs3": key})
    elsewhere.discard("big")


@pytest.fixture
def records(sdb, domain):
    return SimpleDBClient(domain, sdb)
