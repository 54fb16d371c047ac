"""Background work on uploaded files: facts read from the stored bytes.

`record_file_facts(file_id)` streams a file's S3 object once, through the default storage,
and records its SHA-256 and the type its content signature shows. The upload view sends it
with `enqueue_file_facts`, which never lets a queue outage undo an upload.

Delivery is at least once, so the task is idempotent: facts already recorded are returned
without reading S3 again, and the row is written only while its facts are still missing,
with `.filter(pk=...).update(...)`, so a title edited meanwhile is kept and a second,
concurrent run changes nothing.
"""

import codecs
import hashlib
import logging
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.cache import caches
from django.tasks import task
from django.utils import timezone

from storage_backends.simpledb.client import SimpleDBError
from storage_backends.tasks.queues import QueueError

from . import files
from .models import File

logger = logging.getLogger(__name__)

#: Bytes read from S3 at a time: memory stays flat whatever the file's size.
CHUNK_BYTES = 1024 * 1024
#: Signatures beyond the image types files.py checks: (type, test of the first bytes).
OTHER_SIGNATURES = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    # A local file header, or the end record of an empty archive.
    "application/zip": lambda head: head.startswith((b"PK\x03\x04", b"PK\x05\x06")),
    "application/gzip": lambda head: head.startswith(b"\x1f\x8b"),
}
SIGNATURES = {**files.INLINE_SIGNATURES, **OTHER_SIGNATURES}
#: Bytes that occur in text: printable ASCII, everything above 0x7F (UTF-8 is checked
#: apart), and BEL, BS, TAB, LF, FF, CR, ESC (the set `file` and binaryornot use).
TEXT_BYTES = bytes({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x7F)) | set(range(0x80, 0x100)))
#: What an enqueue may raise when SQS or SimpleDB refuses or cannot be reached.
ENQUEUE_ERRORS = (BotoCoreError, ClientError, SimpleDBError, QueueError)


class Facts:
    """Checksum and type of a stream of bytes: feed() it chunk by chunk, then finish()."""

    def __init__(self):
        self._hash = hashlib.sha256()
        self._head = b""
        self._text = True  # until a byte says otherwise
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.sha256 = self.detected_type = None

    def feed(self, chunk):
        self._hash.update(chunk)
        if len(self._head) < files.SIGNATURE_BYTES:
            self._head += chunk[:files.SIGNATURE_BYTES - len(self._head)]
        if self._text:
            self._text = self._is_text(chunk, final=False)

    def finish(self):
        """Settle sha256 and detected_type: the first matching signature; else text/plain
        for control-free UTF-8; else octet-stream (an empty stream too)."""
        self.sha256 = self._hash.hexdigest()
        self._text = self._text and self._is_text(b"", final=True)  # no sequence cut short
        self.detected_type = next(
            (content_type for content_type, matches in SIGNATURES.items()
             if matches(self._head)),
            "text/plain" if self._text and self._head else files.OCTET_STREAM)
        return self

    def _is_text(self, chunk, final):
        if chunk.translate(None, TEXT_BYTES):  # something is left: a control byte
            return False
        try:
            self._utf8.decode(chunk, final=final)
        except UnicodeDecodeError:
            return False
        return True


def read_facts(name, storage):
    """Stream the stored object `name` once: its Facts. FileNotFoundError if it is gone.

    django-storages' S3File would download the whole object before the first read, so the
    body is read from the object the storage opened (S3File.obj), CHUNK_BYTES at a time.
    Any other storage's file (a disk's, say) is read in chunks as Django reads files.
    """
    with storage.open(name, "rb") as stored:  # HeadObject: FileNotFoundError on a 404
        if not hasattr(stored, "obj"):
            facts = Facts()
            for chunk in stored.chunks(CHUNK_BYTES):
                facts.feed(chunk)
            return facts.finish()
        try:
            body = stored.obj.get()["Body"]
        except ClientError as error:  # deleted between the HEAD and the GET
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from error
            raise
        facts = Facts()
        try:
            for chunk in body.iter_chunks(CHUNK_BYTES):
                facts.feed(chunk)
        finally:
            body.close()
    return facts.finish()


@task
def record_file_facts(file_id):
    """Record file `file_id`'s SHA-256 and detected type; returns them, or None if the
    file was deleted.

    A row whose S3 object is missing raises FileNotFoundError: the retries let a deletion
    in progress (object first, then the row) finish, after which the task ends quietly;
    an object lost for good ends in the dead-letter queue, where an operator sees it.
    """
    file = File.objects.filter(pk=file_id).first()
    if file is None:
        logger.info("file facts skipped file=%s reason=deleted", file_id)
        return None
    if not file.facts_pending:
        return {"sha256": file.sha256, "detected_type": file.detected_type}
    try:
        facts = read_facts(file.file.name, file.file.storage)
    except FileNotFoundError:
        if not File.objects.filter(pk=file_id).exists():
            logger.info("file facts skipped file=%s reason=deleted", file_id)
            return None
        raise
    recorded = {"sha256": facts.sha256, "detected_type": facts.detected_type}
    updated = File.objects.filter(pk=file_id, facts_recorded_at__isnull=True).update(
        **recorded, facts_recorded_at=timezone.now())
    if not updated:
        # Deleted meanwhile, or another delivery of this task recorded the same facts first.
        logger.info("file facts not written file=%s reason=deleted-or-recorded", file_id)
    else:
        logger.info("file facts recorded file=%s sha256=%s detected_type=%s", file_id,
                    recorded["sha256"], recorded["detected_type"])
    return recorded


def resend_overdue_facts(file):
    """Send `file`'s facts task again if its facts are overdue; whether it was sent.

    The upload commits the row, then sends the task: a node killed between the two leaves a
    file whose facts would stay pending for good. Its page heals it: once the facts are
    STRATUS_FACTS_RESEND_AFTER seconds late, opening the page sends the task again, at most
    once per that many seconds (a cache key claimed with add()). A second delivery of the
    task is harmless: it records nothing twice. Never fails the page: a cache or queue
    outage is logged and the next look tries again.
    """
    wait = settings.STRATUS_FACTS_RESEND_AFTER
    if not file.facts_pending or timezone.now() - file.uploaded_at < timedelta(seconds=wait):
        return False
    try:
        if not caches["default"].add(f"library:facts-resent:{file.public_id}", 1, timeout=wait):
            return False
    except Exception as error:  # noqa: BLE001 - the page renders; the next look retries
        logger.warning("file facts resend skipped file=%s error=%s: %s", file.pk,
                       type(error).__name__, error)
        return False
    logger.warning("file facts overdue file=%s: sending the task again", file.pk)
    return enqueue_file_facts(file.pk) is not None


def enqueue_file_facts(file_id):
    """Send record_file_facts(file_id); its TaskResult, or None if SQS or SimpleDB failed.

    The upload this follows is already stored: an outage of the queue must not undo it or
    show the user an error for it. The failure is logged, the file's facts stay pending,
    and the admin's "Record missing facts" action sends the task again.
    """
    try:
        return record_file_facts.enqueue(file_id)
    except ENQUEUE_ERRORS as error:
        logger.error("file facts not enqueued file=%s error=%s: %s", file_id,
                     type(error).__name__, error)
        return None
