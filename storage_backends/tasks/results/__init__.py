"""Task results: one record per result, the same in every store.

A record is a flat dict of string attributes, named by the result id. Plain attributes, for
the worker, the listing and the admin: `status`, `task` (the task's module path), `backend`,
`queue`, `priority`, the times `enqueued_at`, `started_at`, `last_attempted_at`,
`finished_at` (ISO 8601 UTC, fixed width, absent or "" when unset), `worker_ids` (JSON
list, one per attempt; absent: none), `base` (attempts made before a redrive), `lease` and
`mid` (while RUNNING: until when the running worker holds the message, and its SQS message
id; absent or "" otherwise), `expires` (epoch seconds, fixed width: the end of the
result's retention), and, once there is any, `progress` (JSON: what the task last
reported, storage_backends.tasks.context) and `cancelled` (when a FAILED result was
cancelled). The rest — args, kwargs, errors
with tracebacks, the return value — is one JSON document, encoded by the store's codec
into attributes of its own, compressed, and spilled to S3 when larger than an item holds.
A document is at most MAX_DOCUMENT_BYTES: a longer one is refused when written
(`ValueTooLarge`), so a read never decompresses or parses more (a planted zlib bomb or an
over-long spilled object is an unreadable result: `TaskResultDoesNotExist` saying why,
never a MemoryError).

Two stores keep records, chosen by the backend's RESULTS_STORE option:

- `simpledb.SimpleDBResultStore` ("simpledb"): items of a SimpleDB domain (RESULTS_DOMAIN);
- `dynamodb.DynamoDBResultStore` ("dynamodb"): items of a DynamoDB table (RESULTS_TABLE),
  whose TTL deletes a result once past its retention.

Beside the results, the same domain or table holds two kinds of small items whose names
no result id takes (ids are 32 letters and digits): `cancel-<id>`, a cancel request for a
running task (cancelling.py), and `unique-<digest>`, the claim of a unique task's key
(unique.py). Neither has `enqueued_at`, so listings leave them out; both have `expires`,
so pruning removes them.

Writing, in both: `put(id, attributes)` sets those attributes and keeps the others.
`put_many({id: record})` writes many in batches, and a store may replace whole items there
(DynamoDB's BatchWriteItem can only), so each record given to it must be whole as far as the
caller knows the item: a `ready_record`, or what `revised(record, changes)` returned for a
record read from the store.
"""

import json
import time
from datetime import UTC, datetime

from dataclasses import dataclass

from django.tasks import TaskResult, TaskResultStatus
from django.tasks.base import TASK_REFRESH_ATTRS, TaskError
from django.tasks.exceptions import TaskResultDoesNotExist

from ...dynamodb.errors import DynamoDBError
from ...simpledb.errors import SimpleDBError
from ..context import Progress
from ..messages import BadMessage, resolve_task

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: The longest JSON document (args, kwargs, errors, return value) a result holds, written
#: or read.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: Most results one admin page lists.
MAX_LISTED = 2500
#: What a result store raises when its service refuses or cannot be reached (DynamoDB's
#: and SimpleDB's `Unavailable` are one class, a SimpleDBError).
STORE_ERRORS = (SimpleDBError, DynamoDBError)
#: The stores RESULTS_STORE names.
STORES = ("simpledb", "dynamodb")
#: Name prefixes of the small items kept beside the results (see the module docstring):
#: cancel requests and unique keys' claims. No result id starts with either.
CANCEL_PREFIX, UNIQUE_PREFIX = "cancel-", "unique-"


@dataclass(frozen=True, slots=True, kw_only=True)
class SQSTaskResult(TaskResult):
    """Django's TaskResult, plus what this backend records beside it: the task's last
    reported `progress` (a `context.Progress`, or None) and whether it was `cancelled`
    (then its status is FAILED: Django has no CANCELLED status). `refresh()` reads them
    again too."""

    progress: Progress | None = None
    cancelled: bool = False

    def refresh(self):
        self._take(self.task.get_backend().get_result(self.id))

    async def arefresh(self):
        self._take(await self.task.get_backend().aget_result(self.id))

    def _take(self, refreshed):
        for name in TASK_REFRESH_ATTRS:
            object.__setattr__(self, name, getattr(refreshed, name))
        object.__setattr__(self, "progress", getattr(refreshed, "progress", None))
        object.__setattr__(self, "cancelled", getattr(refreshed, "cancelled", False))


def format_time(moment):
    return moment.astimezone(UTC).strftime(TIME_FORMAT) if moment else ""


def parse_time(text):
    # fromisoformat reads TIME_FORMAT (with its "Z"), many times faster than strptime.
    return datetime.fromisoformat(text) if text else None


def epoch(seconds):
    """Fixed-width epoch seconds, so that string order is time order."""
    return f"{int(seconds):012d}"


class Listing(list):
    """(id, record) pairs of a listing, newest first; `complete` is False when the store
    stopped looking before it had seen every result (it then says how many it saw)."""

    def __init__(self, pairs=(), complete=True, scanned=0):
        super().__init__(pairs)
        self.complete = complete
        self.scanned = scanned


class ResultStore:
    """Task results of one backend: READY records at enqueue, then what workers record.

    Subclasses keep the records (see the module docstring for what each method must do);
    this class holds what does not depend on the store: the record format, the document,
    and the TaskResult made from a record.
    """

    #: Where the results are, for messages ("SimpleDB domain x", "DynamoDB table x").
    location = ""

    def __init__(self, retention, codec):
        self.retention = retention
        #: Encodes the document into attributes (`encode`) and back (`decode`); its
        #: `spill` (or None) holds the documents too large for an item.
        self.codec = codec

    # -- records ----------------------------------------------------------------------------
    def ready_record(self, payload):
        """The record of a just-enqueued task. What is not set yet (start and finish times,
        worker ids, lease) is left out: an absent attribute reads as unset, and each one
        written costs every enqueue and every worker's read of it."""
        return {
            "status": TaskResultStatus.READY.value, "task": payload.task_path,
            "backend": payload.backend, "queue": payload.queue_name,
            "priority": str(payload.priority), "enqueued_at": format_time(payload.enqueued_at),
            "expires": epoch(time.time() + self.retention),
            **self.body(payload.id, payload.args, payload.kwargs, [], None),
        }

    def body(self, result_id, args, kwargs, errors, return_value):
        """Attributes holding the JSON document; ValueTooLarge if it cannot be stored."""
        document = json.dumps({"args": args, "kwargs": kwargs, "errors": errors,
                               "return_value": return_value}, separators=(",", ":"))
        return self.codec.encode(result_id, document.encode())

    def document(self, attributes):
        """The record's JSON document; ValueError if it is corrupt, over MAX_DOCUMENT_BYTES
        or too deeply nested to parse."""
        data = self.codec.decode(attributes)
        try:
            return json.loads(data)
        except RecursionError as error:
            raise ValueError("the stored document is nested too deeply") from error

    def task_result(self, result_id, attributes):
        """A django.tasks TaskResult from a record; TaskResultDoesNotExist if unusable."""
        if not attributes:
            raise TaskResultDoesNotExist(result_id)
        try:
            task = resolve_task(attributes["task"])
            document = self.document(attributes)
            cancelled = bool(attributes.get("cancelled")) and (
                attributes["status"] == TaskResultStatus.FAILED)
            result = SQSTaskResult(
                task=task.using(queue_name=attributes.get("queue") or None,
                                priority=int(attributes.get("priority") or 0),
                                backend=attributes.get("backend") or None),
                id=result_id, status=TaskResultStatus(attributes["status"]),
                enqueued_at=parse_time(attributes.get("enqueued_at")),
                started_at=parse_time(attributes.get("started_at")),
                finished_at=parse_time(attributes.get("finished_at")),
                last_attempted_at=parse_time(attributes.get("last_attempted_at")),
                args=document["args"], kwargs=document["kwargs"],
                backend=attributes.get("backend", task.backend),
                errors=[TaskError(exception_class_path=e["exception_class_path"],
                                  traceback=e["traceback"]) for e in document["errors"]],
                worker_ids=json.loads(attributes.get("worker_ids") or "[]"),
                progress=Progress.from_json(attributes.get("progress")),
                cancelled=cancelled,
            )
            return_value = document["return_value"]
        except (BadMessage, KeyError, TypeError, ValueError) as error:
            # Whatever a stored item holds (a planted time, a document of the wrong shape)
            # is an unreadable result, never an exception of another kind.
            raise TaskResultDoesNotExist(f"{result_id}: {type(error).__name__}: "
                                         f"{error}") from error
        object.__setattr__(result, "_return_value", return_value)
        return result

    def plain(self, attributes):
        """The record's attributes but those holding the encoded document."""
        return {name: value for name, value in attributes.items()
                if not self.holds_document(name)}

    # -- what each store implements -----------------------------------------------------------
    def holds_document(self, name):
        """Whether the attribute `name` is one of the codec's (part of the document)."""
        raise NotImplementedError

    def revised(self, record, changes):
        """What to write, with `put_many`, to apply `changes` to an item known as `record`."""
        raise NotImplementedError

    def put(self, result_id, attributes):
        """Set these attributes of one result (the others are kept); one call."""
        raise NotImplementedError

    def put_many(self, records):
        """Write {result_id: record} in batches (see the module docstring)."""
        raise NotImplementedError

    def put_new(self, name, attributes):
        """Write the item `name` (with an `expires`) unless one exists; whether it was
        written. One conditional call."""
        raise NotImplementedError

    def put_if(self, name, attributes, attribute, value):
        """Set these attributes of the item `name` (keeping the others) if its `attribute`
        holds `value`; whether they were written. One conditional call."""
        raise NotImplementedError

    def record(self, result_id):
        """The result's record ({} if there is none); one consistent read."""
        raise NotImplementedError

    def records_of(self, result_ids):
        """{id: record} of those that exist, read consistently in batches: at least what a
        worker decides by (status, lease, worker_ids, started_at, base, mid), and the whole
        record of a result with earlier attempts (whose errors its next outcome keeps)."""
        raise NotImplementedError

    def existing(self, names):
        """Which of the items `names` exist (live), read consistently in batches."""
        raise NotImplementedError

    def listing(self, status=None, task=None, queue=None, limit=100):
        """A `Listing` of the newest results, newest enqueued first, optionally filtered."""
        raise NotImplementedError

    def prune(self, now=None):
        """Delete results past their retention (and their spilled documents); how many."""
        raise NotImplementedError


def result_store(config, client, s3=None):
    """The ResultStore a backend's options name, on `client` (a boto3 `sdb` or `dynamodb`
    client, as config.results_store says)."""
    from ...simpledb.codec import S3Spill

    spill = (S3Spill(s3, config.payload_bucket, config.payload_prefix + "results/")
             if config.payload_bucket else None)
    if config.results_store == "dynamodb":
        from .dynamodb import DynamoDBResultStore

        return DynamoDBResultStore(client, config.results_table, config.result_retention,
                                   spill)
    from .simpledb import SimpleDBResultStore

    return SimpleDBResultStore(client, config.results_domain, config.result_retention, spill)
