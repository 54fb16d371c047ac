"""Purging the trash: files trashed longer than STRATUS_TRASH_DAYS lose their row and their
S3 objects (the file and its thumbnail).

Each file goes in its own transaction: the row's post_delete signal (apps.library.signals)
deletes its objects inside it, so an S3 refusal keeps that row for the next run, and the
others go on. S3 deletes succeed on a missing key, so a purge interrupted at any instruction
or run twice at once ends the same: idempotent.
"""

import logging
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.library.models import File

logger = logging.getLogger(__name__)


class PurgeIncomplete(Exception):
    """Some due files could not be purged (S3 refused or could not be reached); they stay
    due, for the next run (or the task's retry)."""

#: Rows read per query: memory stays flat however many files are due.
BATCH = 200


def cutoff(now=None):
    """Files trashed at or before this moment are due for purging."""
    return (now or timezone.now()) - timedelta(days=settings.STRATUS_TRASH_DAYS)


def in_trash(owner, now=None):
    """`owner`'s files in the trash: trashed, and not yet due for purging."""
    return File.objects.trashed().filter(owner=owner, deleted_at__gt=cutoff(now))


def purge_due(owner_id=None, now=None):
    """Purge every file due (of user `owner_id`, if given); returns how many went."""
    limit = cutoff(now)
    files = File.objects.filter(deleted_at__lte=limit)
    if owner_id is not None:
        files = files.filter(owner_id=owner_id)
    purged = failed = 0
    last_pk = 0
    while True:
        batch = list(files.filter(pk__gt=last_pk).order_by("pk")[:BATCH])
        if not batch:
            break
        last_pk = batch[-1].pk  # before delete() clears it
        for file in batch:
            try:
                purged += _purge_one(file, limit)
            except (BotoCoreError, ClientError) as error:
                failed += 1
                logger.warning("trash purge failed file=%s error=%s", file.pk, error)
    logger.info("trash purged files=%d failed=%d owner=%s", purged, failed, owner_id or "-")
    if failed:
        raise PurgeIncomplete(f"Purged {purged} file(s); {failed} could not be (S3), and "
                              f"stay in the trash for the next run.")
    return purged


def _purge_one(file, limit):
    """Delete `file`'s row, and so its objects, if it is still due: 1 if it went, else 0."""
    with transaction.atomic():
        # Still due? A restore between the read and now keeps the file.
        if not File.objects.select_for_update().filter(pk=file.pk,
                                                       deleted_at__lte=limit).exists():
            return 0
        file.delete()
        return 1
