"""build_zip: one export's zip, streamed from the files' S3 objects into a new S3 object.

Its progress (bytes zipped of the total, "n of m files") is the task's own
(storage_backends.tasks.report_progress), which the export's page reads from the task's
result; it stops between chunks when its worker asks (its time limit, or a cancel).

Delivery is at least once: a ready export is returned as it is; a second delivery while one
builds builds again under the same key (S3 keeps whichever completes last, the same bytes),
and its progress restarts from zero. A failure aborts the multipart upload, marks the export
failed with a note and raises, so the task is retried (which marks it building again).
"""

import logging

from django.conf import settings
from django.tasks import task
from django.tasks.exceptions import TaskResultDoesNotExist, TaskResultMismatch
from django.utils import timezone

from apps.library.tasks import ENQUEUE_ERRORS
from storage_backends import aws
from storage_backends.tasks import raise_if_stopped, report_progress
from storage_backends.tasks.results import STORE_ERRORS

from .cleanup import clear_expired
from .models import ExportState, ZipExport
from .streaming import MultipartUpload, write_zip

logger = logging.getLogger(__name__)


@task
def build_zip(export_id):
    """Build export `export_id`'s zip; returns its key, or None if the export is gone."""
    export = ZipExport.objects.filter(pk=export_id).first()
    if export is None:
        return None
    if export.state == ExportState.READY:
        return export.key
    # Files trashed since the selection are left out.
    files = list(export.files.filter(deleted_at__isnull=True).order_by("uploaded_at", "pk"))
    key = f"exports/{export.public_id}.zip"
    bytes_total = sum(f.size for f in files)
    ZipExport.objects.filter(pk=export.pk).update(
        state=ExportState.BUILDING, key=key, note="", files_total=len(files),
        bytes_total=bytes_total)

    def progress(files_done, bytes_done):
        report_progress(bytes_done, bytes_total, f"{files_done} of {len(files)} files")
        raise_if_stopped()

    progress(0, 0)

    upload = MultipartUpload(aws.client("s3"), settings.STRATUS_MEDIA_BUCKET, key)
    try:
        write_zip(upload, files, progress)
        upload.complete()
    except Exception as error:
        upload.abort()
        ZipExport.objects.filter(pk=export.pk).update(
            state=ExportState.FAILED, note=f"{type(error).__name__}"[:200])
        raise
    ZipExport.objects.filter(pk=export.pk).update(
        state=ExportState.READY, ready_at=timezone.now(), zip_size=upload.size)
    logger.info("zip built export=%s files=%d bytes=%d", export.pk, len(files), upload.size)
    return key


def enqueue_build(export_id):
    """Send build_zip and keep its result id for the page; an outage is logged and the
    export marked failed, so the page says so."""
    try:
        result = build_zip.enqueue(export_id)
    except ENQUEUE_ERRORS:
        logger.exception("zip build not enqueued export=%s", export_id)
        ZipExport.objects.filter(pk=export_id).update(
            state=ExportState.FAILED, note="could not be queued")
        return
    ZipExport.objects.filter(pk=export_id).update(task_id=result.id)


def build_progress(export):
    """The build's progress (storage_backends.tasks.Progress) from its task's result, or
    None: none reported yet, or the result cannot be read now (the page says "waiting")."""
    if not export.task_id:
        return None
    try:
        return build_zip.get_result(export.task_id).progress
    except (TaskResultDoesNotExist, TaskResultMismatch, *STORE_ERRORS) as error:
        logger.warning("zip progress unreadable export=%s error=%s", export.pk,
                       type(error).__name__)
        return None


@task
def clear_exports():
    """What `manage.py clear_exports` does, on a worker (the site's schedule runs it
    daily); returns how many exports went."""
    return clear_expired()
