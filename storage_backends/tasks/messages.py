"""Task messages: versioned JSON, signed with SECRET_KEY, large payloads kept in S3.

A message body is `{"v": 1, "id": ..., "payload": "<JSON text>", "sig": ...}`, or, when the
payload would take the body past SQS's 1 MiB, `{"v": 1, "id": ..., "s3": "<key>", "sig":
...}` with the payload text stored as an S3 object. `sig` signs the payload text (HMAC-SHA256
through django.core.signing, so SECRET_KEY_FALLBACKS verify during a key rotation); a
pointer is only followed to text whose signature verifies. The payload holds what a worker
needs to run the task and record its result: id, task path, backend alias, queue, priority,
args, kwargs, enqueue time and run_after.

Nothing here unpickles: a payload is JSON, and a task path is only resolved to a registered
`django.tasks.Task` (see `resolve_task`).

Any body may be hostile: `decode` bounds its size before parsing it (and an S3 payload's
before reading it), checks the type of every field, and turns whatever is wrong with it
(too large, too deeply nested, a number too long to convert, not UTF-8, not an object, a
field of the wrong type, a pointer to a missing or oversized object) into `BadMessage`,
whose reason the worker records with the dead letter.
"""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError
from django.core import signing
from django.tasks import Task
from django.utils.module_loading import import_string

VERSION = 1
#: SQS's limit for one message (and one batch), body and attributes together.
MAX_MESSAGE_BYTES = 1_048_576
#: Kept free under the limit for the envelope and message attributes.
ENVELOPE_BYTES = 4096
#: Largest payload text kept in S3 (task arguments past it are refused at enqueue; a
#: pointer to a larger object is a bad message, and the object is not read).
MAX_PAYLOAD_BYTES = 16 * 1_048_576
#: S3's longest object key, in bytes.
MAX_KEY_BYTES = 1024
SIGNING_SALT = "storage_backends.tasks.message"
#: One token of JSON text: a string (possessive: an unterminated one fails once, in linear
#: time), a run of anything else but brackets, or a bracket.
JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"|[^"\[\]{}]+|[\[\]{}]', re.DOTALL)
#: Tokens a flat envelope of a few fields has at most.
MAX_ENVELOPE_TOKENS = 100


class BadMessage(Exception):
    """A message no worker should run; `reason` is recorded with its dead letter."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Payload:
    """What one task message asks for."""

    id: str
    task_path: str
    backend: str
    queue_name: str
    priority: int
    args: list
    kwargs: dict
    enqueued_at: datetime
    run_after: datetime | None = None

    def to_json(self):
        return json.dumps({
            "id": self.id, "task": self.task_path, "backend": self.backend,
            "queue": self.queue_name, "priority": self.priority, "args": self.args,
            "kwargs": self.kwargs, "enqueued_at": self.enqueued_at.isoformat(),
            "run_after": self.run_after.isoformat() if self.run_after else None,
        }, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """The Payload a (verified) payload text holds; BadMessage if it is malformed."""
        data = _parse(text, "malformed payload: not JSON")
        try:
            if not isinstance(data, dict):
                raise TypeError("the payload is not a JSON object")
            return cls(
                id=_string(data["id"]), task_path=_string(data["task"]),
                backend=_string(data["backend"]), queue_name=_string(data["queue"]),
                priority=_typed(data["priority"], int), args=_typed(data["args"], list),
                kwargs=_typed(data["kwargs"], dict),
                enqueued_at=_time(data["enqueued_at"]),
                run_after=None if data["run_after"] is None else _time(data["run_after"]),
            )
        except (ValueError, KeyError, TypeError, OverflowError) as error:
            raise BadMessage(f"malformed payload: {type(error).__name__}: {error}") from error


def _parse(text, problem):
    """JSON text parsed; BadMessage(problem) if it is not JSON, or nests too deeply for the
    parser (which raises RecursionError), or holds a number too long to convert."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise BadMessage(f"{problem}: {type(error).__name__}: {str(error)[:200]}") from error


def _typed(value, kind):
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, not {type(value).__name__}")
    return value


def _time(value):
    return datetime.fromisoformat(_string(value))


def _string(value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, not a {type(value).__name__}"
                         f"{' (empty)' if value == '' else ''}")
    return value


def _signer():
    return signing.Signer(salt=SIGNING_SALT, algorithm="sha256")


class PayloadStore:
    """Payload texts too large for a message, as S3 objects under a prefix."""

    def __init__(self, s3, bucket, prefix):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix

    def put(self, result_id, text):
        key = f"{self.prefix}{result_id}/{uuid.uuid4().hex}.json"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode(),
                           ContentType="application/json")
        return key

    def get(self, key):
        """The payload text of an object; BadMessage if the pointer or object is bad."""
        if not key.startswith(self.prefix) or len(key.encode()) > MAX_KEY_BYTES:
            raise BadMessage(f"payload pointer {key[:200]!r} is outside {self.prefix!r}")
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BadMessage(f"payload object {key} is gone") from error
            raise
        with found["Body"] as stream:
            if found.get("ContentLength", 0) > MAX_PAYLOAD_BYTES:
                raise BadMessage(f"payload object {key} is {found['ContentLength']} bytes, "
                                 f"over {MAX_PAYLOAD_BYTES}: not read")
            data = stream.read(MAX_PAYLOAD_BYTES + 1)  # whatever its length said
        if len(data) > MAX_PAYLOAD_BYTES:
            raise BadMessage(f"payload object {key} is over {MAX_PAYLOAD_BYTES} bytes: not read")
        try:
            return data.decode()
        except UnicodeDecodeError as error:
            raise BadMessage(f"payload object {key} is not UTF-8 text: {error}") from error

    def delete(self, key):
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError):
            pass  # the bucket's lifecycle rule removes what is left behind


def encode(payload, payloads=None):
    """The message body for a payload; stores the payload in S3 if it is too large."""
    text = payload.to_json()
    envelope = {"v": VERSION, "id": payload.id, "sig": _signer().signature(text)}
    size = len(text.encode())
    if size > MAX_MESSAGE_BYTES - ENVELOPE_BYTES:
        if size > MAX_PAYLOAD_BYTES:
            raise ValueError(f"the task's arguments make a {size}-byte payload, over the "
                             f"{MAX_PAYLOAD_BYTES} bytes a worker reads; pass a reference to "
                             f"the data (a file's key) instead")
        if payloads is None:
            raise ValueError(
                f"the task's arguments make a {len(text.encode())}-byte message, over SQS's "
                f"{MAX_MESSAGE_BYTES} bytes, and no PAYLOAD_BUCKET is set to hold it"
            )
        envelope["s3"] = payloads.put(payload.id, text)
    else:
        envelope["payload"] = text
    # ensure_ascii: every character then is one SQS accepts.
    return json.dumps(envelope, separators=(",", ":"))


def pointer(body):
    """The S3 key a message body points to, or None."""
    try:
        key = _envelope(body).get("s3")
    except BadMessage:
        return None
    return key if isinstance(key, str) else None


def _envelope(body):
    """The envelope object of a body, bounded before it is parsed; BadMessage if none."""
    if not isinstance(body, str):
        raise BadMessage(f"not a task message: the body is {type(body).__name__}, not text")
    if len(body) > MAX_MESSAGE_BYTES:  # characters: each is at least one byte
        raise BadMessage(f"not a task message: the body is over SQS's {MAX_MESSAGE_BYTES} "
                         f"bytes")
    if not _flat(body):
        raise BadMessage("not a task message: the body is not a JSON object of plain fields "
                         "(it nests arrays or objects)")
    envelope = _parse(body, "not JSON")
    if not isinstance(envelope, dict):
        raise BadMessage("not a task message: the body is not a JSON object")
    return envelope


def _flat(body):
    """Whether a body is at most one JSON object with no object or array inside it, as an
    envelope is (its payload is a JSON string). Scanned token by token up to the first
    nesting, so that nothing deeper reaches the parser, which recurses once per level."""
    position, opened = 0, False
    for _count in range(MAX_ENVELOPE_TOKENS):
        token = JSON_TOKEN.match(body, position)
        if token is None:
            return True  # not JSON at all (an unterminated string): the parser says so
        text = token.group()
        if text == "[" or (text == "{" and opened):
            return False
        opened = opened or text == "{"
        position = token.end()
        if position == len(body):
            return True
    return False


def decode(body, payloads=None):
    """The verified Payload of a message body; BadMessage saying why not."""
    envelope = _envelope(body)
    version = envelope.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        # Not repr(): the value may be a long string or nested lists.
        raise BadMessage(f"unknown message version: a {type(version).__name__}, not a number "
                         f"(this worker reads {VERSION})")
    if version != VERSION:
        raise BadMessage(f"unknown message version {version} (this worker reads {VERSION})")
    signature = envelope.get("sig")
    if not isinstance(signature, str):
        raise BadMessage("unsigned message")
    if not isinstance(envelope.get("id"), str):
        raise BadMessage("message has no id")
    if "s3" in envelope:
        if not isinstance(envelope["s3"], str):
            raise BadMessage("payload pointer is not text")
        if payloads is None:
            raise BadMessage("payload pointer without a PAYLOAD_BUCKET")
        text = payloads.get(envelope["s3"])
    else:
        text = envelope.get("payload")
    if not isinstance(text, str):
        raise BadMessage("message has no payload")
    try:
        _signer().unsign(f"{text}{_signer().sep}{signature}")
    except signing.BadSignature as error:
        raise BadMessage("bad signature: the message was not signed with this site's "
                         "SECRET_KEY (or its fallbacks), or was changed") from error
    payload = Payload.from_json(text)
    if payload.id != envelope["id"]:
        raise BadMessage("the envelope's id does not match its payload's")
    return payload


def resolve_task(path):
    """The `django.tasks.Task` a path names; BadMessage if it names anything else."""
    try:
        found = import_string(path)
    except Exception as error:  # whatever stops the import, the path names no task here
        raise BadMessage(f"unknown task {path!r}: {error}") from error
    if not isinstance(found, Task):
        raise BadMessage(f"{path!r} is not a django.tasks Task")
    return found
