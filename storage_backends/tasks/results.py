"""Task results in Amazon SimpleDB, through the shared SimpleDB client.

One item per result, named by the result id. Plain attributes, for Select and the admin:
`status`, `task` (the task's module path), `backend`, `queue`, `priority`, the times
`enqueued_at`, `started_at`, `last_attempted_at`, `finished_at` (ISO 8601 UTC, fixed width,
"" when unset), `worker_ids` (JSON list, one per attempt), `lease` and `mid` (while RUNNING:
until when the running worker holds the message, and its SQS message id) and `expires`
(epoch seconds, fixed width, for pruning). The rest — args, kwargs, errors with tracebacks,
the return value — is one JSON document stored through the shared `ValueCodec`: split
across attributes, compressed, and spilled to S3 when larger than an item holds. A document
is at most MAX_DOCUMENT_BYTES: a longer one is refused when written (`ValueTooLarge`), so a
read never decompresses or parses more (a planted zlib bomb or an over-long spilled object
is an unreadable result: `TaskResultDoesNotExist` saying why, never a MemoryError).

A worker reads the items of a whole received batch with one Select, marks them RUNNING with
one BatchPutAttributes, and writes outcomes in batches too; `enqueue_many` writes READY
items 25 to a call.
"""

import json
import time
from datetime import UTC, datetime

from django.tasks import TaskResult, TaskResultStatus
from django.tasks.base import TaskError
from django.tasks.exceptions import TaskResultDoesNotExist

from ..simpledb.client import (
    S3Spill,
    SimpleDBClient,
    ValueCodec,
    quote_name,
    quote_value,
)
from .messages import BadMessage, resolve_task

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Attributes the codec must leave free in each item (the plain ones above, and spare).
RESERVED_ATTRIBUTES = 24
#: The attributes a worker decides by (see records_of).
WORKER_ATTRIBUTES = ("status", "lease", "worker_ids", "started_at", "base", "mid")
#: The longest JSON document (args, kwargs, errors, return value) a result holds, written
#: or read.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: Most results one admin page lists.
MAX_LISTED = 2500


def format_time(moment):
    return moment.astimezone(UTC).strftime(TIME_FORMAT) if moment else ""


def parse_time(text):
    # fromisoformat reads TIME_FORMAT (with its "Z"), many times faster than strptime.
    return datetime.fromisoformat(text) if text else None


def epoch(seconds):
    """Fixed-width epoch seconds, so that Select's string order is time order."""
    return f"{int(seconds):012d}"


class ResultStore:
    """Task results of one backend: READY items at enqueue, then what workers record."""

    def __init__(self, sdb, domain, retention, s3=None, bucket=None, prefix=""):
        self.records = SimpleDBClient(domain, sdb)
        self.retention = retention
        spill = S3Spill(s3, bucket, prefix) if bucket else None
        self.codec = ValueCodec(reserved=RESERVED_ATTRIBUTES, spill=spill,
                                max_value_bytes=MAX_DOCUMENT_BYTES)

    # -- writing --------------------------------------------------------------------------
    def ready_record(self, payload):
        """The item of a just-enqueued task."""
        return {
            "status": TaskResultStatus.READY.value, "task": payload.task_path,
            "backend": payload.backend, "queue": payload.queue_name,
            "priority": str(payload.priority), "enqueued_at": format_time(payload.enqueued_at),
            "started_at": "", "last_attempted_at": "", "finished_at": "", "worker_ids": "[]",
            "lease": "", "mid": "", "expires": epoch(time.time() + self.retention),
            **self.body(payload.id, payload.args, payload.kwargs, [], None),
        }

    def body(self, result_id, args, kwargs, errors, return_value):
        """Attributes holding the JSON document; ValueTooLarge if it cannot be stored."""
        document = json.dumps({"args": args, "kwargs": kwargs, "errors": errors,
                               "return_value": return_value}, separators=(",", ":"))
        return self.codec.encode(result_id, document.encode())

    def put(self, result_id, record):
        self.records.put(result_id, record)

    def put_many(self, records):
        """Write {result_id: attributes}, 25 items a call."""
        if records:
            self.records.batch_put(records)

    # -- reading --------------------------------------------------------------------------
    def record(self, result_id):
        """The item's attributes ({} if there is none); one consistent read."""
        return self.records.get(result_id, consistent=True)

    def records_of(self, result_ids):
        """{id: attributes} for those that exist; one consistent Select per 20 ids.

        Only what a worker decides by is read; a result with earlier attempts (whose errors
        its next outcome must keep) is then read whole, one more call each.
        """
        found = self.records.get_many(result_ids, WORKER_ATTRIBUTES, consistent=True)
        for result_id, attributes in found.items():
            if attributes.get("worker_ids", "[]") != "[]":
                found[result_id] = self.record(result_id)
        return found

    def document(self, attributes):
        """The item's JSON document; ValueError if it is corrupt, over MAX_DOCUMENT_BYTES or
        too deeply nested to parse."""
        data = self.codec.decode(attributes)
        try:
            return json.loads(data)
        except RecursionError as error:
            raise ValueError("the stored document is nested too deeply") from error

    def task_result(self, result_id, attributes):
        """A django.tasks TaskResult from an item; TaskResultDoesNotExist if unusable."""
        if not attributes:
            raise TaskResultDoesNotExist(result_id)
        try:
            task = resolve_task(attributes["task"])
            document = self.document(attributes)
        except (BadMessage, KeyError, ValueError) as error:
            raise TaskResultDoesNotExist(f"{result_id}: {error}") from error
        task = task.using(queue_name=attributes.get("queue") or None,
                          priority=int(attributes.get("priority") or 0),
                          backend=attributes.get("backend") or None)
        result = TaskResult(
            task=task, id=result_id, status=TaskResultStatus(attributes["status"]),
            enqueued_at=parse_time(attributes.get("enqueued_at")),
            started_at=parse_time(attributes.get("started_at")),
            finished_at=parse_time(attributes.get("finished_at")),
            last_attempted_at=parse_time(attributes.get("last_attempted_at")),
            args=document["args"], kwargs=document["kwargs"],
            backend=attributes.get("backend", task.backend),
            errors=[TaskError(exception_class_path=e["exception_class_path"],
                              traceback=e["traceback"]) for e in document["errors"]],
            worker_ids=json.loads(attributes.get("worker_ids") or "[]"),
        )
        object.__setattr__(result, "_return_value", document["return_value"])
        return result

    def listing(self, status=None, task=None, queue=None, limit=100):
        """(id, attributes) of the newest results, newest first, optionally filtered."""
        conditions = [f"{quote_name('enqueued_at')} > ''"]
        for name, value in (("status", status), ("task", task), ("queue", queue)):
            if value:
                conditions.append(f"{quote_name(name)} = {quote_value(value)}")
        expression = (
            f"select * from {quote_name(self.records.domain)} where {' and '.join(conditions)} "
            f"order by {quote_name('enqueued_at')} desc limit {min(limit, MAX_LISTED)}"
        )
        found = []
        for name, attributes in self.records.select(expression, consistent=True):
            found.append((name, attributes))
            if len(found) >= limit:
                break
        return found

    # -- pruning ------------------------------------------------------------------------
    def prune(self, now=None):
        """Delete results past their retention, 25 to a call; returns how many."""
        now = time.time() if now is None else now
        expression = (f"select {quote_name('vs3')} from {quote_name(self.records.domain)} "
                      f"where {quote_name('expires')} < {quote_value(epoch(now))}")
        expired = dict(self.records.select(expression, consistent=True))
        if not expired:
            return 0
        self.records.batch_delete(list(expired))
        if self.codec.spill is not None:
            for name, attributes in expired.items():
                if attributes.get("vs3"):
                    self.codec.spill.discard(name)
        return len(expired)
