"""A task result's document is read from a shared store: a zlib bomb, a document nested past
what the parser can take, or a spill pointer out of the result prefix planted in its item is
an unreadable result (TaskResultDoesNotExist saying why), never a MemoryError or a crash."""

import base64

import pytest
from django.tasks.exceptions import TaskResultDoesNotExist

from storage_backends import aws
from storage_backends.simpledb.client import SimpleDBClient, ValueCodec
from storage_backends.tasks.results import MAX_DOCUMENT_BYTES
from tests.fixtures.zlib_bombs import MIB, peak_allocation, zlib_bomb
from tests.tasks import jobs


@pytest.fixture
def results_store():
    """These items are planted in SimpleDB (tests/dynamodb/test_results.py plants DynamoDB's)."""
    return "simpledb"


def replace_document(tasks, result_id, attributes):
    """Overwrite the codec's attributes of a result's item, as anyone with write access could."""
    SimpleDBClient(tasks.config.results_domain, aws.client("sdb")).put(result_id, attributes)


def compressed_chunks(data):
    text = base64.b64encode(data).decode()
    chunks = [text[i:i + 1024] for i in range(0, len(text), 1024)]
    return {"vn": str(len(chunks)), "vz": "1", "vs3": "",
            **{f"v{n:03d}": chunk for n, chunk in enumerate(chunks)}}


def test_a_zlib_bomb_in_a_result_is_refused_without_being_inflated(tasks):
    result = jobs.add.enqueue(2, 3)
    replace_document(tasks, result.id, compressed_chunks(zlib_bomb(64 * MIB)))
    with pytest.raises(TaskResultDoesNotExist, match=f"more than {MAX_DOCUMENT_BYTES}"):
        tasks.get_result(result.id)


def test_a_spilled_zlib_bomb_is_refused_without_being_inflated(tasks, settings):
    result = jobs.add.enqueue(2, 3)
    bomb_bytes = 256 * MIB
    key = f"{tasks.config.payload_prefix}results/{result.id}/planted"
    aws.client("s3").put_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key,
                                Body=zlib_bomb(bomb_bytes))
    replace_document(tasks, result.id, {"vn": "0", "vz": "1", "vs3": key})
    with peak_allocation() as peak, \
            pytest.raises(TaskResultDoesNotExist, match=f"more than {MAX_DOCUMENT_BYTES}"):
        tasks.get_result(result.id)
    # At most the bound is inflated (twice, as zlib's output buffer grows), never the bomb.
    assert peak[0] < 3 * MAX_DOCUMENT_BYTES < bomb_bytes


def test_a_document_nested_too_deeply_is_an_unreadable_result(tasks):
    result = jobs.add.enqueue(2, 3)
    nested = b"[" * 100_000 + b"]" * 100_000
    replace_document(tasks, result.id, ValueCodec(reserved=24).encode(result.id, nested))
    with pytest.raises(TaskResultDoesNotExist, match="nested too deeply"):
        tasks.get_result(result.id)


def test_a_spill_pointer_outside_the_result_prefix_is_an_unreadable_result(tasks, settings):
    result = jobs.add.enqueue(2, 3)
    replace_document(tasks, result.id, {"vn": "0", "vz": "0", "vs3": "media/someone-else"})
    with pytest.raises(TaskResultDoesNotExist, match="outside"):
        tasks.get_result(result.id)


def test_a_document_over_the_bound_is_refused_at_enqueue(tasks):
    with pytest.raises(Exception, match=f"more than the {MAX_DOCUMENT_BYTES}"):
        jobs.remember.enqueue("big", "x" * MAX_DOCUMENT_BYTES)
