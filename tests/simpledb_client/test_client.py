"""The shared SimpleDB client over the emulator: records, conditions, Select, batches, codec."""

import os
import uuid

import pytest

from localaws.simpledb import SimpleDBServer
from storage_backends import aws
from storage_backends.simpledb.client import (
    MAX_ATTRIBUTE_BYTES,
    Absent,
    ConditionFailed,
    NoSuchDomain,
    Present,
    S3Spill,
    SimpleDBClient,
    SimpleDBError,
    StoreFull,
    Unavailable,
    ValueCodec,
    ValueTooLarge,
    quote_name,
    quote_value,
)
from tests.fixtures.simpledb import counting_calls, sdb_client


@pytest.fixture
def records(sdb, domain):
    return SimpleDBClient(domain, sdb)


def test_get_of_a_missing_record_is_empty(records):
    assert records.get("nobody") == {}


def test_put_then_get_round_trips_attributes(records):
    records.put("r", {"a": "1", "b": "two"})
    assert records.get("r", consistent=True) == {"a": "1", "b": "two"}


def test_put_replaces_each_attribute(records):
    records.put("r", {"a": "1", "b": "2"})
    records.put("r", {"a": "3"})
    assert records.get("r", consistent=True) == {"a": "3", "b": "2"}


def test_get_named_attributes_only(records):
    records.put("r", {"a": "1", "b": "2"})
    assert records.get("r", attributes=["b"], consistent=True) == {"b": "2"}


def test_absent_condition_allows_a_new_record_only(records):
    records.put("r", {"s": "1"}, expect=Absent("s"))
    with pytest.raises(ConditionFailed):
        records.put("r", {"s": "1"}, expect=Absent("s"))


def test_present_condition_needs_the_exact_value(records):
    records.put("r", {"g": "1"})
    records.put("r", {"g": "2"}, expect=Present("g", "1"))
    with pytest.raises(ConditionFailed):
        records.put("r", {"g": "3"}, expect=Present("g", "1"))


def test_present_condition_on_a_missing_record_fails(records):
    with pytest.raises(ConditionFailed):
        records.put("ghost", {"g": "1"}, expect=Present("s", "1"))


def test_conditional_delete(records):
    records.put("r", {"s": "1"})
    with pytest.raises(ConditionFailed):
        records.delete("r", expect=Present("s", "2"))
    records.delete("r", expect=Present("s", "1"))
    assert records.get("r", consistent=True) == {}


def test_select_pages_through_every_match(records, sdb, domain):
    records.batch_put({f"r{n:03d}": {"k": "v"} for n in range(130)})
    expression = f"select itemName() from {quote_name(domain)} where k = {quote_value('v')}"
    assert len(list(records.select(expression, consistent=True))) == 130


def test_quoting_keeps_hostile_values_literal(records, domain):
    hostile = "x' or k != 'nothing"
    records.put("plain", {"k": "v"})
    records.put("evil", {"k": hostile})
    expression = f"select itemName() from {quote_name(domain)} where k = {quote_value(hostile)}"
    assert [name for name, _ in records.select(expression, consistent=True)] == ["evil"]


def test_quote_name_doubles_backticks():
    assert quote_name("a`b") == "`a``b`"


def test_get_many_uses_one_select_per_twenty_names(records, sdb):
    records.batch_put({f"r{n:02d}": {"k": str(n)} for n in range(45)})
    with counting_calls(sdb) as calls:
        found = records.get_many([f"r{n:02d}" for n in range(50)], consistent=True)
    assert calls == ["Select"] * 3
    assert len(found) == 45 and found["r07"] == {"k": "7"}


def test_batch_put_and_delete_go_25_at_a_time(records, sdb):
    with counting_calls(sdb) as calls:
        records.batch_put({f"r{n:02d}": {"k": "v"} for n in range(60)})
        records.batch_delete([f"r{n:02d}" for n in range(60)])
    assert calls == ["BatchPutAttributes"] * 3 + ["BatchDeleteAttributes"] * 3
    assert records.get("r00", consistent=True) == {}


def test_missing_domain_is_no_such_domain(sdb):
    with pytest.raises(NoSuchDomain):
        SimpleDBClient("never-made-" + uuid.uuid4().hex[:6], sdb).get("r")


def test_stopped_service_is_unavailable():
    server = SimpleDBServer().start()
    server.stop()
    client = sdb_client(server.endpoint_url, connect_timeout=1)
    with pytest.raises(Unavailable):
        SimpleDBClient("any-domain", client).get("r")


def test_service_errors_after_retries_are_unavailable(simpledb_server, records):
    simpledb_server.faults.update(fail_rate=1.0)
    try:
        with pytest.raises(Unavailable):
            records.get("r")
    finally:
        simpledb_server.faults.update(fail_rate=0)


def test_other_client_errors_are_simpledb_errors(records):
    with pytest.raises(SimpleDBError):
        records.put("r", {"": "empty names are illegal"})


def test_a_full_item_is_store_full(records):
    records.put("r", {f"a{n:03d}": "x" for n in range(256)})
    with pytest.raises(StoreFull, match="NumberItemAttributesExceeded"):
        records.put("r", {"one-more": "x"})


def test_a_multi_valued_attribute_is_named_in_the_record(records, sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="r", Attributes=[
        {"Name": "g", "Value": "1"}, {"Name": "g", "Value": "2"}, {"Name": "k", "Value": "v"}])
    record = records.get("r", consistent=True)
    assert sorted(record.multi_valued["g"]) == ["1", "2"] and "k" not in record.multi_valued


def test_delete_pairs_removes_exactly_those_values(records, sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="r", Attributes=[
        {"Name": "g", "Value": "1"}, {"Name": "g", "Value": "2"}, {"Name": "k", "Value": "v"}])
    records.delete_pairs("r", [("g", "1"), ("g", "2")])
    assert records.get("r", consistent=True) == {"k": "v"}


def test_item_count_is_one_domain_metadata_call(records, sdb):
    records.batch_put({f"r{n}": {"k": "v"} for n in range(3)})
    with counting_calls(sdb) as calls:
        assert records.item_count() == 3
    assert calls == ["DomainMetadata"]


# -- the value codec ------------------------------------------------------------------------
@pytest.mark.parametrize("size", [0, 1, 767, 768, 769, 5000, 150_000])
def test_codec_round_trips_incompressible_values(records, size):
    codec = ValueCodec()
    data = os.urandom(size)
    records.put("v", codec.encode("v", data))
    assert codec.decode(records.get("v", consistent=True)) == data


def test_codec_chunks_are_within_the_attribute_limit():
    attributes = ValueCodec().encode("v", os.urandom(10_000))
    assert all(len(value.encode()) <= MAX_ATTRIBUTE_BYTES for value in attributes.values())
    assert int(attributes["vn"]) == 14


def test_codec_compresses_when_that_helps():
    attributes = ValueCodec(compress_min_bytes=100).encode("v", b"a" * 100_000)
    assert attributes["vz"] == "1" and attributes["vn"] == "1"


def test_codec_leaves_small_values_uncompressed():
    assert ValueCodec(compress_min_bytes=100).encode("v", b"a" * 99)["vz"] == "0"


def test_leftover_chunks_of_a_longer_value_are_not_read(records):
    codec = ValueCodec()
    records.put("v", codec.encode("v", os.urandom(20_000)))
    records.put("v", codec.encode("v", b"short"))
    stored = records.get("v", consistent=True)
    assert "v020" in stored  # the old chunk is still there...
    assert codec.decode(stored) == b"short"  # ...and ignored


def test_codec_rejects_a_value_bigger_than_a_record_without_spill():
    codec = ValueCodec()
    with pytest.raises(ValueTooLarge):
        codec.encode("v", os.urandom(codec.capacity + 1))


def test_codec_reports_an_incomplete_value():
    attributes = ValueCodec().encode("v", os.urandom(3000))
    del attributes["v001"]
    with pytest.raises(ValueError):
        ValueCodec().decode(attributes)


@pytest.fixture
def spill(settings):
    return S3Spill(aws.client("s3"), settings.STRATUS_MEDIA_BUCKET,
                   f"test-spill-{uuid.uuid4().hex[:8]}/")


def test_a_value_bigger_than_a_record_spills_to_s3(records, spill):
    codec = ValueCodec(spill=spill)
    data = os.urandom(codec.capacity + 10)
    attributes = codec.encode("big", data)
    records.put("big", attributes)
    assert codec.decode(records.get("big", consistent=True)) == data
    assert attributes["vs3"].startswith(spill.prefix)


def test_discard_removes_a_records_other_spilled_objects(spill):
    first = spill.write("big", b"one")
    second = spill.write("big", b"two")
    spill.discard("big", keep=second)
    assert spill.read(second) == b"two"
    with pytest.raises(ValueError):
        spill.read(first)
    spill.discard("big")
    with pytest.raises(ValueError):
        spill.read(second)
