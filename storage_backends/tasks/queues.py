"""The SQS side of the task backend: queue URLs, batched calls, dead letters, counts.

Every batch call here splits its entries into SQS's batches of 10 (and, for sends, keeps
each batch under SQS's 1 MiB) and checks `Failed` entries, which SQS reports with HTTP 200.
"""

import logging
import threading

from botocore.exceptions import ClientError

from .messages import MAX_MESSAGE_BYTES

logger = logging.getLogger("storage_backends.tasks")

#: SQS batch calls take at most 10 entries.
MAX_BATCH = 10
#: Message attributes a dead letter carries (docs/tasks.md, "Tasks in the admin").
REASON = "stratus-reason"
SOURCE = "stratus-source-queue"
#: Characters of a reason kept, and the bytes kept free for the attributes of a dead letter
#: (names, types, a reason of MAX_REASON characters of up to 4 bytes, a queue name).
MAX_REASON = 1000
ATTRIBUTES_BYTES = 8192
COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed")


class QueueError(Exception):
    """SQS refused some entries of a batch; `failed` lists (entry id, code, message)."""

    def __init__(self, operation, failed):
        super().__init__(f"{operation}: {len(failed)} entries failed: {failed[:3]}")
        self.failed = failed


def batches(items, size=MAX_BATCH):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Queues:
    """SQS queues by name, through one boto3 client; URLs looked up once."""

    def __init__(self, sqs):
        self.sqs = sqs
        self._urls = {}
        self._lock = threading.Lock()

    def url(self, name):
        with self._lock:
            url = self._urls.get(name)
        if url is None:
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            with self._lock:
                self._urls[name] = url
        return url

    def dead_letter_url(self, name):
        return self.url(name + "-dlq")

    # -- sending --------------------------------------------------------------------------
    def send(self, name, body, delay=0):
        self.sqs.send_message(QueueUrl=self.url(name), MessageBody=body, DelaySeconds=delay)

    def send_many(self, name, messages):
        """Send (body, delay) pairs in batches of 10 that each stay under 1 MiB."""
        url = self.url(name)
        batch, size = [], 0
        for body, delay in messages:
            length = len(body.encode())
            if batch and (len(batch) == MAX_BATCH or size + length > MAX_MESSAGE_BYTES):
                self._send_batch(url, batch)
                batch, size = [], 0
            batch.append({"Id": str(len(batch)), "MessageBody": body, "DelaySeconds": delay})
            size += length
        if batch:
            self._send_batch(url, batch)

    def _send_batch(self, url, entries):
        if len(entries) == 1:
            entry = entries[0]
            self.sqs.send_message(QueueUrl=url, MessageBody=entry["MessageBody"],
                                  DelaySeconds=entry["DelaySeconds"])
            return
        response = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        _check("SendMessageBatch", response)

    def dead_letter(self, name, body, reason):
        """Put a message body on `name`'s dead-letter queue, saying why.

        A body that leaves no room for the reason under SQS's limit (a received body may
        take all of it) is cut to fit, and the reason says so."""
        reason = reason[:MAX_REASON] or "unknown"
        room = MAX_MESSAGE_BYTES - ATTRIBUTES_BYTES
        encoded = body.encode("utf-8", "replace")
        if len(encoded) > room:
            body = encoded[:room].decode("utf-8", "ignore")
            reason = f"{reason} (body cut from {len(encoded)} to {room} bytes to fit)"
        self.sqs.send_message(
            QueueUrl=self.dead_letter_url(name), MessageBody=body or " ",
            MessageAttributes={
                REASON: {"DataType": "String", "StringValue": reason},
                SOURCE: {"DataType": "String", "StringValue": name},
            },
        )

    # -- receiving ------------------------------------------------------------------------
    def receive(self, url, count, wait, visibility, attributes=True):
        """Up to `count` messages; with `attributes`, their message attributes and receive
        count and sent time too (a worker asks without: parsing them costs CPU per task)."""
        params = {"QueueUrl": url, "MaxNumberOfMessages": count, "WaitTimeSeconds": wait,
                  "VisibilityTimeout": visibility}
        if attributes:
            params.update(MessageAttributeNames=["All"], MessageSystemAttributeNames=[
                "ApproximateReceiveCount", "SentTimestamp"])
        return self.sqs.receive_message(**params).get("Messages", [])

    def delete_many(self, url, receipts):
        """Delete messages by receipt handle, 10 a call; returns the receipts that failed."""
        failed = []
        for batch in batches(list(receipts)):
            entries = [{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(batch)]
            response = self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            failed += [batch[int(f["Id"])] for f in response.get("Failed", [])]
        return failed

    def set_visibility_many(self, url, receipts_and_seconds):
        """ChangeMessageVisibility for (receipt, seconds) pairs, 10 a call."""
        failed = []
        for batch in batches(list(receipts_and_seconds)):
            entries = [{"Id": str(n), "ReceiptHandle": r, "VisibilityTimeout": int(s)}
                       for n, (r, s) in enumerate(batch)]
            response = self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
            failed += [batch[int(f["Id"])][0] for f in response.get("Failed", [])]
        return failed

    # -- looking ----------------------------------------------------------------------------
    def counts(self, name):
        """{attribute: int} of SQS's approximate counts for a queue."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url(name), AttributeNames=list(COUNTS))["Attributes"]
        return {key: int(attributes.get(key, 0)) for key in COUNTS}


def _check(operation, response):
    failed = response.get("Failed", [])
    if failed:
        raise QueueError(operation, [(f["Id"], f.get("Code"), f.get("Message")) for f in failed])


def missing_queue(error):
    """True when a ClientError says the queue does not exist."""
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    return code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
