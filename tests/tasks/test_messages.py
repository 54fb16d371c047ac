"""Task messages: signed, versioned JSON; large payloads in S3; task paths that name Tasks."""

import json
from datetime import UTC, datetime

import pytest
from django.core import signing

from storage_backends import aws
from storage_backends.tasks.messages import (
    ENVELOPE_BYTES,
    MAX_MESSAGE_BYTES,
    SIGNING_SALT,
    BadMessage,
    Payload,
    PayloadStore,
    decode,
    encode,
    pointer,
    resolve_task,
)
from tests.tasks import jobs

PREFIX = "task-payloads/"


def payload(**changes):
    fields = {
        "id": "r" * 32, "task_path": "tests.tasks.jobs.add", "backend": "default",
        "queue_name": "default", "priority": 0, "args": [2, 3], "kwargs": {"z": [1, None]},
        "enqueued_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "run_after": None,
    }
    return Payload(**{**fields, **changes})


def tamper(body, **changes):
    """The body with envelope fields replaced, the signature left as it was."""
    return json.dumps({**json.loads(body), **changes})


@pytest.fixture
def store(settings):
    """Payloads in the media bucket of the local stack."""
    return PayloadStore(aws.client("s3"), settings.STRATUS_MEDIA_BUCKET, PREFIX)


def test_a_payload_survives_encoding_and_decoding():
    original = payload(run_after=datetime(2026, 1, 2, 4, 0, tzinfo=UTC))
    assert decode(encode(original)) == original


def test_a_payload_without_run_after_decodes_with_none():
    assert decode(encode(payload())).run_after is None


def test_a_changed_payload_is_a_bad_signature():
    body = encode(payload())
    changed = json.loads(body)["payload"].replace("[2,3]", "[2,4]")
    with pytest.raises(BadMessage, match="bad signature"):
        decode(tamper(body, payload=changed))


def test_a_message_without_a_signature_is_refused():
    envelope = json.loads(encode(payload()))
    del envelope["sig"]
    with pytest.raises(BadMessage, match="unsigned message"):
        decode(json.dumps(envelope))


def test_a_message_signed_with_a_rotated_key_verifies_while_it_is_a_fallback(settings):
    settings.SECRET_KEY = "the-old-key-" + "o" * 40
    body = encode(payload())
    settings.SECRET_KEY = "the-new-key-" + "n" * 40
    settings.SECRET_KEY_FALLBACKS = ["the-old-key-" + "o" * 40]
    assert decode(body) == payload()


def test_a_message_signed_with_a_key_no_longer_listed_is_refused(settings):
    settings.SECRET_KEY = "the-old-key-" + "o" * 40
    body = encode(payload())
    settings.SECRET_KEY = "the-new-key-" + "n" * 40
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(BadMessage, match="bad signature"):
        decode(body)


def test_an_unknown_version_is_refused():
    with pytest.raises(BadMessage, match="unknown message version 2"):
        decode(tamper(encode(payload()), v=2))


def test_a_body_that_is_not_json_is_refused():
    with pytest.raises(BadMessage, match="not JSON"):
        decode("definitely { not json")


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null"])
def test_json_that_is_not_an_object_is_refused(body):
    with pytest.raises(BadMessage, match="not a JSON object"):
        decode(body)


def test_an_envelope_whose_id_differs_from_its_payload_is_refused():
    with pytest.raises(BadMessage, match="id does not match"):
        decode(tamper(encode(payload()), id="someone-else"))


def test_a_signed_payload_missing_a_field_is_malformed():
    text = json.dumps({"id": "r" * 32, "task": "tests.tasks.jobs.add"})
    signature = signing.Signer(salt=SIGNING_SALT, algorithm="sha256").signature(text)
    body = json.dumps({"v": 1, "id": "r" * 32, "payload": text, "sig": signature})
    with pytest.raises(BadMessage, match="malformed payload: KeyError"):
        decode(body)


def test_a_large_payload_goes_to_s3_and_the_body_stays_small(store, settings):
    big = payload(args=["x" * MAX_MESSAGE_BYTES])
    body = encode(big, store)
    assert len(body.encode()) < ENVELOPE_BYTES
    key = pointer(body)
    assert key.startswith(f"{PREFIX}{big.id}/")
    stored = aws.client("s3").get_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key)
    assert stored["ContentLength"] > MAX_MESSAGE_BYTES
    assert decode(body, store) == big


def test_a_payload_that_fits_stays_in_the_body(store):
    body = encode(payload(args=["x" * 1000]), store)
    assert pointer(body) is None


def test_a_large_payload_without_a_bucket_is_refused_before_sending():
    with pytest.raises(ValueError, match="no PAYLOAD_BUCKET"):
        encode(payload(args=["x" * MAX_MESSAGE_BYTES]))


def test_a_pointer_outside_the_payload_prefix_is_not_followed(store):
    body = tamper(encode(payload(args=["x" * MAX_MESSAGE_BYTES]), store),
                  s3="media/someone-elses-file.json")
    with pytest.raises(BadMessage, match="outside 'task-payloads/'"):
        decode(body, store)


def test_a_pointer_to_a_deleted_payload_is_a_bad_message(store):
    body = encode(payload(args=["x" * MAX_MESSAGE_BYTES]), store)
    store.delete(pointer(body))
    with pytest.raises(BadMessage, match="is gone"):
        decode(body, store)


def test_a_pointer_without_a_payload_store_is_refused(store):
    body = encode(payload(args=["x" * MAX_MESSAGE_BYTES]), store)
    with pytest.raises(BadMessage, match="without a PAYLOAD_BUCKET"):
        decode(body)


def test_a_task_path_resolves_to_its_task():
    assert resolve_task("tests.tasks.jobs.add") is jobs.add


def test_a_path_naming_something_other_than_a_task_is_refused():
    with pytest.raises(BadMessage, match="'tests.tasks.jobs.record' is not a django.tasks Task"):
        resolve_task("tests.tasks.jobs.record")


@pytest.mark.parametrize("path", ["tests.tasks.no_such_module.add", "tests.tasks.jobs.no_such_task",
                                  "nodots"])
def test_a_path_that_does_not_import_is_an_unknown_task(path):
    with pytest.raises(BadMessage, match="unknown task") as caught:
        resolve_task(path)
    assert path in caught.value.reason
