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
"""

import json
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
SIGNING_SALT = "storage_backends.tasks.message"


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
        try:
            data = json.loads(text)
            return cls(
                id=_string(data["id"]), task_path=_string(data["task"]),
                backend=_string(data["backend"]), queue_name=_string(data["queue"]),
                priority=int(data["priority"]), args=list(data["args"]),
                kwargs=dict(data["kwargs"]),
                enqueued_at=datetime.fromisoformat(data["enqueued_at"]),
                run_after=datetime.fromisoformat(data["run_after"]) if data["run_after"] else None,
            )
        except (ValueError, KeyError, TypeError) as error:
            raise BadMessage(f"malformed payload: {type(error).__name__}: {error}") from error


def _string(value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, not {value!r}")
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
        if not key.startswith(self.prefix):
            raise BadMessage(f"payload pointer {key!r} is outside {self.prefix!r}")
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BadMessage(f"payload object {key} is gone") from error
            raise

    def delete(self, key):
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError):
            pass  # the bucket's lifecycle rule removes what is left behind


def encode(payload, payloads=None):
    """The message body for a payload; stores the payload in S3 if it is too large."""
    text = payload.to_json()
    envelope = {"v": VERSION, "id": payload.id, "sig": _signer().signature(text)}
    if len(text.encode()) > MAX_MESSAGE_BYTES - ENVELOPE_BYTES:
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
        key = json.loads(body).get("s3")
    except (ValueError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def decode(body, payloads=None):
    """The verified Payload of a message body; BadMessage saying why not."""
    try:
        envelope = json.loads(body)
    except ValueError as error:
        raise BadMessage(f"not JSON: {error}") from error
    if not isinstance(envelope, dict):
        raise BadMessage("not a task message: the body is not a JSON object")
    if envelope.get("v") != VERSION:
        raise BadMessage(f"unknown message version {envelope.get('v')!r} (this worker reads "
                         f"{VERSION})")
    signature = envelope.get("sig")
    if not isinstance(signature, str):
        raise BadMessage("unsigned message")
    if "s3" in envelope:
        if payloads is None or not isinstance(envelope["s3"], str):
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
    if payload.id != envelope.get("id"):
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
