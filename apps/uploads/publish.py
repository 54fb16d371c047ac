"""Verify, then publish: a direct upload becomes a library file only once S3 holds what was
announced.

Neither the browser nor S3 is trusted for the rules (moto checks no POST policy at all): the
parts are added up before they are joined, the joined object's real size is compared with
the limit and with the declared size, and its first bytes decide its type, as for an
upload through the node. An object that breaks a rule is deleted, its record too, and the
user is told why; one that is merely incomplete is kept, so the browser can resume it.
"""

import logging
from functools import partial

from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from apps.library import files
from apps.library.models import File
from apps.library.tasks import enqueue_file_facts, enqueue_previews

from .bucket import error_code

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The upload cannot be published; `message` tells the user why, `code` tells a program.

    `kept` says whether the upload is still there to resume or retry.
    """

    def __init__(self, message, code, kept=False):
        super().__init__(message)
        self.message, self.code, self.kept = message, code, kept


def too_big_message(size):
    return (f"The file is {filesizeformat(size)}; files can be at most "
            f"{filesizeformat(settings.STRATUS_UPLOAD_MAX_BYTES)}.")


def publish(pending, bucket):
    """Check the stored upload `pending` and make it a library File; Refused otherwise.

    Run it inside a transaction holding the pending row's lock (select_for_update), so two
    completions of one upload publish it once.
    """
    joined = _join_parts(pending, bucket) if pending.multipart else False
    size = bucket.stored_size(pending.key)
    if size is None and joined is None:
        # Joined by an earlier call that is still running (or its object lost meanwhile).
        raise Refused("The file is still being put together in storage; try again in a "
                      "moment.", "joining", kept=True)
    if size is None:
        raise Refused("The file has not arrived in storage yet; send it again.", "missing",
                      kept=True)
    if size > settings.STRATUS_UPLOAD_MAX_BYTES:
        _discard(pending, bucket)
        raise Refused(too_big_message(size), "too_big")
    if size != pending.size:
        _discard(pending, bucket)
        raise Refused(f"The file that arrived is {filesizeformat(size)}, not the "
                      f"{filesizeformat(pending.size)} announced; it was deleted. Upload "
                      f"it again.", "size_mismatch")
    head = bucket.read_head(pending.key, files.SIGNATURE_BYTES)
    file = File(owner=pending.owner, title=pending.title, original_name=pending.original_name,
                size=size, content_type=files.content_type_for(pending.original_name, head))
    file.file.name = pending.key
    file.save()
    pending.delete()
    transaction.on_commit(partial(enqueue_file_facts, file.pk))
    transaction.on_commit(partial(enqueue_previews, file.pk))
    logger.info("upload published file=%s key=%s size=%s", file.pk, pending.key, size)
    return file


def _join_parts(pending, bucket):
    """Complete the multipart upload once its parts add up to exactly the declared size:
    True; None if S3 no longer knows the upload (an earlier call completed it)."""
    try:
        parts = bucket.list_parts(pending.key, pending.upload_id)
    except ClientError as error:
        if error_code(error) == "NoSuchUpload":
            return None  # completed by an earlier call whose answer was lost: see the object
        raise
    arrived = sum(part["Size"] for part in parts)
    if arrived > pending.size or arrived > settings.STRATUS_UPLOAD_MAX_BYTES:
        _discard(pending, bucket)
        raise Refused(f"More arrived ({filesizeformat(arrived)}) than the "
                      f"{filesizeformat(pending.size)} announced; the upload was deleted. "
                      f"Upload it again.", "size_mismatch")
    if arrived < pending.size:
        raise Refused(f"Only {filesizeformat(arrived)} of {filesizeformat(pending.size)} "
                      f"has arrived; resume the upload to send the rest.", "incomplete",
                      kept=True)
    try:
        bucket.complete(pending.key, pending.upload_id, parts)
    except ClientError as error:
        if error_code(error) not in ("EntityTooSmall", "InvalidPart", "InvalidPartOrder"):
            raise
        _discard(pending, bucket)
        raise Refused("The upload's parts could not be joined (S3 said "
                      f"{error_code(error)}); it was deleted. Upload it again.",
                      "bad_parts") from error
    return True


def _discard(pending, bucket):
    """Remove everything of an upload that broke a rule: its parts or object, and its record."""
    logger.warning("upload refused key=%s owner=%s declared=%s", pending.key,
                   pending.owner_id, pending.size)
    pending.discard(bucket)
