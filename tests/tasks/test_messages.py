"""Task messages: signed, versioned JSON; large payloads in S3; task paths that name Tasks."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from django.core import signing

from storage_backends import aws
from storage_backends.tasks.messages import (
    ENVELOPE_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
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


# -- hostile bodies: each is a BadMessage with a reason, never another exception ------------
def signed_payload(text):
    """A body whose payload text is `text`, correctly signed, with the id it claims."""
    signature = signing.Signer(salt=SIGNING_SALT, algorithm="sha256").signature(text)
    return json.dumps({"v": 1, "id": "r" * 32, "payload": text, "sig": signature})


HOSTILE_BODIES = {
    "nested brackets (RecursionError in json)": ("[" * 10000 + "]" * 10000,
                                                 "it nests arrays or objects"),
    "nested objects inside an envelope": ('{"v": ' + '{"a":' * 5000 + "1" + "}" * 5000 + "}",
                                          "it nests arrays or objects"),
    "an unterminated string of escapes": ('{"v": "' + '\\"' * 100_000, "not JSON"),
    "a number past Python's int-string limit": ('{"v": ' + "9" * 5000 + "}", "not JSON"),
    "a float too large for a float": ('{"v": 1e999999, "sig": "x", "payload": "x"}',
                                      "unknown message version: a float"),
    "a body over SQS's limit": ("x" * (MAX_MESSAGE_BYTES + 1), "over SQS's"),
    "lone surrogates (not encodable as UTF-8)": ('\ud800{"v": 1}', "not JSON"),
    "JSON true": ("true", "not a JSON object"),
}


@pytest.mark.parametrize("kind", HOSTILE_BODIES)
def test_a_hostile_body_is_a_bad_message(kind):
    body, reason = HOSTILE_BODIES[kind]
    with pytest.raises(BadMessage, match=reason):
        decode(body)


@pytest.mark.parametrize("field, value, reason", [
    ("v", "1", "unknown message version: a str"),
    ("v", True, "unknown message version: a bool"),
    ("v", 1.0, "unknown message version: a float"),
    ("v", [[[1]]], "it nests arrays or objects"),
    ("sig", 7, "unsigned message"),
    ("sig", None, "unsigned message"),
    ("id", 5, "message has no id"),
    ("id", None, "message has no id"),
    ("payload", 5, "message has no payload"),
    ("payload", {"id": "r"}, "it nests arrays or objects"),
    ("s3", 5, "payload pointer is not text"),
    ("s3", ["task-payloads/x"], "it nests arrays or objects"),
    ("s3", None, "payload pointer is not text"),
])
def test_an_envelope_field_of_the_wrong_type_is_a_bad_message(field, value, reason):
    with pytest.raises(BadMessage, match=reason):
        decode(tamper(encode(payload()), **{field: value}))


def good_fields():
    return json.loads(payload().to_json())


@pytest.mark.parametrize("field, value", [
    ("id", 5), ("id", ""), ("task", None), ("backend", ["default"]), ("queue", {}),
    ("priority", "5"), ("priority", 1.5), ("priority", True), ("args", "abc"),
    ("args", {"a": 1}), ("kwargs", [["a", 1]]), ("kwargs", "k"), ("enqueued_at", 5),
    ("enqueued_at", "yesterday"), ("run_after", 5), ("run_after", "soon"),
])
def test_a_signed_payload_field_of_the_wrong_type_is_malformed(field, value):
    text = json.dumps({**good_fields(), field: value})
    with pytest.raises(BadMessage, match="malformed payload"):
        decode(signed_payload(text))


@pytest.mark.parametrize("text", ["[1, 2]", "[" * 100_000 + "]" * 100_000, "9" * 5000])
def test_a_signed_payload_that_is_no_object_is_malformed(text):
    with pytest.raises(BadMessage, match="malformed payload"):
        decode(signed_payload(text))


def put_payload(settings, data):
    key = f"{PREFIX}hostile/{uuid.uuid4().hex}.json"
    aws.client("s3").put_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key, Body=data)
    return key


def pointing_to(key, text="{}"):
    """A body pointing to `key`, signed for `text`."""
    signature = signing.Signer(salt=SIGNING_SALT, algorithm="sha256").signature(text)
    return json.dumps({"v": 1, "id": "r" * 32, "s3": key, "sig": signature})


def test_a_pointer_to_an_object_that_is_not_utf8_is_a_bad_message(store, settings):
    key = put_payload(settings, b"\xff\xfe\x00garbage")
    with pytest.raises(BadMessage, match="is not UTF-8 text"):
        decode(pointing_to(key), store)


@pytest.mark.slow
def test_a_pointer_to_an_object_over_the_payload_limit_is_not_read(store, settings):
    key = put_payload(settings, b"x" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(BadMessage, match=f"over {MAX_PAYLOAD_BYTES}: not read"):
        decode(pointing_to(key), store)


def test_a_pointer_longer_than_any_s3_key_is_not_followed(store):
    with pytest.raises(BadMessage, match="is outside"):
        decode(pointing_to(PREFIX + "k" * 2000), store)


def test_arguments_over_the_payload_limit_are_refused_before_sending(store):
    with pytest.raises(ValueError, match="over the .* bytes a worker reads"):
        encode(payload(args=["x" * MAX_PAYLOAD_BYTES]), store)
