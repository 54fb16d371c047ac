"""Background work on uploaded files: facts and previews read from the stored bytes.

`record_file_facts(file_id)` streams a file's S3 object once, through the default storage,
and records its SHA-256 and the type its content signature shows. `build_previews(file_id)`
reads as much of it as a preview needs (previews.py) and records a thumbnail, the first
lines of text, or why there is none. The upload view sends both, with `enqueue_file_facts`
and `enqueue_previews`, which never let a queue outage undo an upload.

Both report, as their task's progress, the bytes read of the file's size, and stop between
chunks when their worker asks (storage_backends.tasks: a time limit, a cancel).

Delivery is at least once, so the tasks are idempotent: what is already recorded is
returned without reading S3 again, and the row is written only while it is still missing,
with `.filter(pk=..., <still pending>).update(...)`, so a title edited meanwhile is kept and
a second, concurrent run changes nothing (a thumbnail it stored meanwhile is deleted again).
"""

import codecs
import hashlib
import logging
import uuid
from contextlib import contextmanager
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from storage_backends.tasks import raise_if_stopped, report_progress
from storage_backends.tasks.queues import QueueError
from storage_backends.tasks.results import STORE_ERRORS

from . import files, previews
from .models import File, PreviewState, kind_of

logger = logging.getLogger(__name__)

#: Bytes read from S3 at a time: memory stays flat whatever the file's size.
CHUNK_BYTES = 1024 * 1024
#: The same for previews, smaller: a text preview needs only the first few KB.
PREVIEW_CHUNK_BYTES = 64 * 1024
#: What an enqueue may raise when SQS or the result store refuses or cannot be reached.
ENQUEUE_ERRORS = (BotoCoreError, ClientError, *STORE_ERRORS, QueueError)


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
        self.detected_type = (files.signature_type(self._head)
                              or ("text/plain" if self._text and self._head
                                  else files.OCTET_STREAM))
        return self

    def _is_text(self, chunk, final):
        if not files.has_no_control_bytes(chunk):
            return False
        try:
            self._utf8.decode(chunk, final=final)
        except UnicodeDecodeError:
            return False
        return True


@contextmanager
def stored_chunks(name, storage, chunk_bytes=CHUNK_BYTES):
    """The stored object `name` as an iterator of chunks of up to `chunk_bytes`, read as
    they are consumed; FileNotFoundError if it is gone. Leaving the block stops the
    download.

    django-storages' S3File would download the whole object before the first read, so the
    body is read from the object the storage opened (S3File.obj). Any other storage's file
    (a disk's, say) is read in chunks as Django reads files.
    """
    with storage.open(name, "rb") as stored:  # HeadObject: FileNotFoundError on a 404
        if not hasattr(stored, "obj"):
            yield stored.chunks(chunk_bytes)
            return
        try:
            body = stored.obj.get()["Body"]
        except ClientError as error:  # deleted between the HEAD and the GET
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(f"File does not exist: {name}") from error
            raise
        try:
            yield body.iter_chunks(chunk_bytes)
        finally:
            body.close()


def reporting(chunks, total, message):
    """`chunks`, reporting the bytes read so far (of `total`) as the running task's
    progress, and stopping (storage_backends.tasks.Stopped) when its worker asks."""
    done = 0
    for chunk in chunks:
        raise_if_stopped()
        yield chunk
        done += len(chunk)
        report_progress(done, total, message)


def read_facts(name, storage, size=None):
    """Stream the stored object `name` (of `size` bytes, if known) once: its Facts.
    FileNotFoundError if it is gone."""
    facts = Facts()
    with stored_chunks(name, storage, CHUNK_BYTES) as chunks:
        for chunk in reporting(chunks, size, "reading the file"):
            facts.feed(chunk)
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
        facts = read_facts(file.file.name, file.file.storage, file.size)
    except FileNotFoundError:
        if not File.objects.filter(pk=file_id).exists():
            logger.info("file facts skipped file=%s reason=deleted", file_id)
            return None
        raise
    recorded = {"sha256": facts.sha256, "detected_type": facts.detected_type}
    updated = File.objects.filter(pk=file_id, facts_recorded_at__isnull=True).update(
        **recorded, facts_recorded_at=timezone.now(),
        kind=kind_of(facts.detected_type, file.content_type))
    if not updated:
        # Deleted meanwhile, or another delivery of this task recorded the same facts first.
        logger.info("file facts not written file=%s reason=deleted-or-recorded", file_id)
    else:
        logger.info("file facts recorded file=%s sha256=%s detected_type=%s", file_id,
                    recorded["sha256"], recorded["detected_type"])
    return recorded


@task
def build_previews(file_id):
    """Make file `file_id`'s preview; returns {"state": ..., "note": ...}, or None if the
    file was deleted.

    A file that cannot have a preview (its kind, its size, corrupt or hostile bytes) is an
    outcome, not an error: state none with the reason in preview_note, as retrying would
    refuse it again. A storage error is raised, so the task is retried; a missing object is
    handled as record_file_facts handles it.
    """
    file = File.objects.filter(pk=file_id).first()
    if file is None:
        logger.info("previews skipped file=%s reason=deleted", file_id)
        return None
    if not file.preview_pending:
        return {"state": file.preview_state, "note": file.preview_note}
    storage = file.file.storage
    try:
        with stored_chunks(file.file.name, storage, PREVIEW_CHUNK_BYTES) as chunks:
            preview = previews.make_preview(reporting(chunks, file.size, "reading the file"),
                                            file.size,
                                            max_bytes=settings.STRATUS_PREVIEW_MAX_BYTES,
                                            max_pixels=settings.STRATUS_PREVIEW_MAX_PIXELS)
    except previews.Refused as refusal:
        logger.info("previews refused file=%s reason=%s", file_id, refusal.reason)
        _record_preview(file_id, state=PreviewState.NONE, note=refusal.reason)
        return {"state": PreviewState.NONE, "note": refusal.reason}
    except FileNotFoundError:
        if not File.objects.filter(pk=file_id).exists():
            logger.info("previews skipped file=%s reason=deleted", file_id)
            return None
        raise
    report_progress(file.size, file.size, "storing the preview")
    key = ""
    if preview.image:
        thumbnail = ContentFile(preview.image)
        thumbnail.content_type = previews.THUMBNAIL_TYPE  # what S3 stores and sends
        key = storage.save(preview_key_for(file), thumbnail)
    if _record_preview(file_id, state=PreviewState.READY, key=key, text=preview.text):
        logger.info("previews made file=%s key=%s text_chars=%d", file_id, key,
                    len(preview.text))
    else:
        # Deleted meanwhile, or another delivery recorded its own preview first.
        logger.info("previews not written file=%s reason=deleted-or-recorded", file_id)
        if key:
            storage.delete(key)
    return {"state": PreviewState.READY, "note": ""}


def preview_key_for(file):
    """A new key for `file`'s thumbnail: its own prefix, the file's public id and a random
    part, so a rebuilt or concurrent preview never lands on a key a browser has seen."""
    return (f"previews/{file.public_id}-{uuid.uuid4().hex[:12]}"
            f"{previews.THUMBNAIL_EXTENSION}")


def _record_preview(file_id, state, key="", text="", note=""):
    """Write a preview's outcome if the file's preview is still pending; whether it was."""
    return bool(File.objects.filter(pk=file_id, preview_state=PreviewState.PENDING).update(
        preview_state=state, preview_key=key, preview_text=text, preview_note=note))


def rebuild_previews(file):
    """Forget `file`'s preview, deleting its thumbnail, and send the task again; whether
    it was sent (see enqueue_previews).

    The row is reset only if it still holds the preview read, and the thumbnail deleted in
    the same transaction: an S3 error leaves both as they were.
    """
    with transaction.atomic():
        reset = File.objects.filter(pk=file.pk, preview_key=file.preview_key).update(
            preview_state=PreviewState.PENDING, preview_key="", preview_text="",
            preview_note="")
        if reset and file.preview_key:
            file.file.storage.delete(file.preview_key)
    return enqueue_previews(file.pk) is not None


def resend_overdue_tasks(file):
    """Send `file`'s facts and previews tasks again if they are overdue; the kinds sent.

    The upload commits the row, then sends the tasks: a node killed between the two leaves
    a file whose facts or preview would stay pending for good. Its page heals it: once
    they are STRATUS_FACTS_RESEND_AFTER seconds late, opening the page sends the task
    again, at most once per that many seconds (a cache key claimed with add()). A second
    delivery is harmless: the tasks record nothing twice. Never fails the page: a cache or
    queue outage is logged and the next look tries again.
    """
    wait = settings.STRATUS_FACTS_RESEND_AFTER
    if timezone.now() - file.uploaded_at < timedelta(seconds=wait):
        return []
    overdue = [(kind, enqueue) for kind, pending, enqueue in (
        ("facts", file.facts_pending, enqueue_file_facts),
        ("previews", file.preview_pending, enqueue_previews)) if pending]
    sent = []
    for kind, enqueue in overdue:
        try:
            if not caches["default"].add(f"library:{kind}-resent:{file.public_id}", 1,
                                         timeout=wait):
                continue
        except Exception as error:  # noqa: BLE001 - the page renders; the next look retries
            logger.warning("file %s resend skipped file=%s error=%s: %s", kind, file.pk,
                           type(error).__name__, error)
            continue
        logger.warning("file %s overdue file=%s: sending the task again", kind, file.pk)
        if enqueue(file.pk) is not None:
            sent.append(kind)
    return sent


def enqueue_file_facts(file_id):
    """Send record_file_facts(file_id); its TaskResult, or None if SQS or the result store failed.

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


def enqueue_previews(file_id):
    """Send build_previews(file_id); its TaskResult, or None if SQS or the result store failed.

    Like enqueue_file_facts, it never fails its caller (an upload already stored): the
    failure is logged, the preview stays pending, and the file's page or the admin's
    "Rebuild previews" action sends the task again.
    """
    try:
        return build_previews.enqueue(file_id)
    except ENQUEUE_ERRORS as error:
        logger.error("previews not enqueued file=%s error=%s: %s", file_id,
                     type(error).__name__, error)
        return None
