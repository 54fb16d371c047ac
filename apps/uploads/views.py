"""The direct-upload API the browser's uploader calls: issue, sign, list, complete, cancel.

The node signs, checks and records; file bytes go from the browser straight to S3. Every
call is JSON, for a logged-in user, CSRF-protected, and names an upload by the random token
it was issued with: anyone else's upload is a 404. Bodies are small and bounded. docs/uploads.md
tells the whole flow.
"""

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.library import files
from apps.library.models import File
from storage_backends.budget import aws_budget_for_transfer

from . import parts
from .bucket import UploadBucket
from .models import FINGERPRINT_LENGTH, PendingUpload
from .page import describe
from .publish import Refused, publish, too_big_message
from .quota import usage_locked, usage_of

logger = logging.getLogger(__name__)

#: Largest JSON body any of these calls needs (a sign call's 100 part numbers fit easily).
MAX_BODY_BYTES = 16 * 1024
#: Parts signed by one call.
MAX_SIGNED_PER_CALL = 100
#: Longest name accepted before it is shortened for display (files.display_name).
MAX_NAME_CHARACTERS = 1024


class BadRequest(Exception):
    """A call this API cannot take; the message is for the user, `code` for the uploader."""

    def __init__(self, message, code="invalid"):
        super().__init__(message)
        self.code = code


def _error(message, code, status=400):
    return JsonResponse({"error": message, "code": code}, status=status)


def _json_body(request):
    if len(request.body) > MAX_BODY_BYTES:
        raise BadRequest("The request is too large.")
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError):
        raise BadRequest("The request is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request must be a JSON object.")
    return body


def _text(body, name, limit, required=False):
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise BadRequest(f"“{name}” must be a text of at most {limit} characters.")
    return value


def _api(view):
    """Answer BadRequest as a 400 with its message, whatever view raised it."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            return _error(str(error), error.code)

    wrapped.__name__, wrapped.__doc__ = view.__name__, view.__doc__
    return never_cache(login_required(wrapped))


def _own(request, token):
    return get_object_or_404(PendingUpload, token=token, uploader=request.user)


def _own_multipart(request, token):
    pending = _own(request, token)
    if not pending.multipart:
        raise BadRequest("This upload has no parts.")
    return pending


def _owner_for(request, body):
    """The uploading user, or the one (by username) that an operator with the admin's add
    permission for files names."""
    username = _text(body, "owner", get_user_model()._meta.get_field("username").max_length)
    if not username or username == request.user.get_username():
        return request.user
    if not request.user.has_perm("library.add_file"):
        raise BadRequest("Only an operator may upload for someone else.")
    owner = get_user_model().objects.filter(username=username).first()
    if owner is None:
        raise BadRequest(f"There is no user called “{username}”.")
    return owner


def _issued(pending, bucket, resumed=False):
    """What the browser needs to send `pending`'s bytes."""
    answer = {"upload": pending.token, "key": pending.key}
    if pending.multipart:
        count = parts.part_count(pending.size, pending.part_size)
        # The first parts come signed with the answer: one call fewer through the node.
        first = range(1, min(count, parts.SIGN_BATCH) + 1)
        answer.update(method="multipart", uploadId=pending.upload_id,
                      partSize=pending.part_size, resumed=resumed, parts=count,
                      signed=bucket.sign_parts(pending.key, pending.upload_id, first,
                                               settings.STRATUS_UPLOAD_URL_EXPIRY))
    else:
        post = bucket.presigned_post(pending.key, pending.size,
                                     settings.STRATUS_UPLOAD_URL_EXPIRY)
        answer.update(method="post", url=post["url"], fields=post["fields"])
    return answer


@_api
@require_http_methods(["GET", "POST"])
def uploads(request):
    """GET: the user's unfinished uploads. POST: issue a new upload (or find the one this
    same file began, to resume it), refusing a file over the limit or over the owner's
    quota (400, code "over_quota") before any byte is sent.
    """
    if request.method == "GET":
        return JsonResponse({"uploads": [
            describe(pending)
            for pending in PendingUpload.objects.filter(uploader=request.user)]})
    pending = _requested(request, _json_body(request))
    bucket = UploadBucket()
    multipart = pending.size > settings.STRATUS_UPLOAD_MULTIPART_THRESHOLD
    if multipart and pending.fingerprint:
        earlier = PendingUpload.objects.filter(
            uploader=request.user, owner=pending.owner, fingerprint=pending.fingerprint,
            size=pending.size).exclude(upload_id="").first()
        if earlier is not None:
            return JsonResponse(_issued(earlier, bucket, resumed=True), status=200)
    unfinished = PendingUpload.objects.filter(uploader=request.user).count()
    if unfinished >= settings.STRATUS_UPLOAD_PENDING_MAX:
        return _error(f"You have {unfinished} unfinished uploads: finish or discard some "
                      f"before starting another.", "too_many", status=429)
    # The quota is checked and the upload's room reserved (its row saved) under a lock on
    # the owner, so uploads issued at once are counted one after the other.
    with usage_locked(pending.owner):
        usage = usage_of(pending.owner)
        if not usage.allows(pending.size):
            logger.info("upload refused owner=%s size=%s reason=over-quota used=%s quota=%s",
                        pending.owner.pk, pending.size, usage.used, usage.quota)
            return _error(usage.refusal(pending.size), "over_quota")
        if multipart:
            pending.part_size = parts.part_size(pending.size)
            pending.upload_id = bucket.create_multipart(pending.key)
        try:
            pending.save()
        except Exception:
            if multipart:  # no record would ever point to it
                bucket.abort(pending.key, pending.upload_id)
            raise
    logger.info("upload issued key=%s size=%s multipart=%s", pending.key, pending.size,
                multipart)
    return JsonResponse(_issued(pending, bucket), status=201)


def _requested(request, body):
    """The upload a POST asks for, checked and not yet saved; BadRequest if it cannot be.

    A file that is empty or over STRATUS_UPLOAD_MAX_BYTES is refused here, before any byte
    is sent. The key is chosen here, never by the browser.
    """
    name = files.display_name(_text(body, "name", MAX_NAME_CHARACTERS, required=True))
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadRequest("“size” must be the file's size in bytes.")
    if size == 0:
        raise BadRequest("The file is empty.", "empty")
    if size > settings.STRATUS_UPLOAD_MAX_BYTES:
        raise BadRequest(too_big_message(size), "too_big")
    return PendingUpload(
        owner=_owner_for(request, body), uploader=request.user,
        key=files.upload_to(None, name), size=size, original_name=name,
        title=_text(body, "title", File._meta.get_field("title").max_length),
        fingerprint=_text(body, "fingerprint", FINGERPRINT_LENGTH))


@_api
@require_POST
def sign(request, token):
    """Presigned PUT URLs for the parts the browser names (at most MAX_SIGNED_PER_CALL)."""
    pending = _own_multipart(request, token)
    numbers = _json_body(request).get("parts")
    count = parts.part_count(pending.size, pending.part_size)
    if (not isinstance(numbers, list) or not 0 < len(numbers) <= MAX_SIGNED_PER_CALL
            or not all(type(n) is int and 1 <= n <= count for n in numbers)):
        raise BadRequest(f"“parts” must list up to {MAX_SIGNED_PER_CALL} part numbers "
                         f"from 1 to {count}.")
    return JsonResponse(UploadBucket().sign_parts(pending.key, pending.upload_id,
                                                  sorted(set(numbers)),
                                                  settings.STRATUS_UPLOAD_URL_EXPIRY))


@_api
@require_GET
def uploaded_parts(request, token):
    """The parts S3 already holds, so a resumed upload sends only the rest."""
    pending = _own_multipart(request, token)
    return JsonResponse({"parts": UploadBucket().list_parts(pending.key, pending.upload_id)})


@_api
@require_POST
def complete(request, token):
    """Check what S3 holds and publish it as a library file (see apps.uploads.publish).

    Idempotent: a second call for an upload already published answers with its file.
    A key other than the one issued is refused.
    """
    body = _json_body(request)
    key = _text(body, "key", 1024)
    with transaction.atomic():
        pending = (PendingUpload.objects.select_for_update()
                   .filter(token=token, uploader=request.user).first())
        if pending is None:
            published = _published(request.user, key)
            if published is None:
                return _error("No such upload: it was never issued to you, or it was "
                              "discarded.", "unknown", status=404)
            return JsonResponse({"file": published.public_id,
                                 "url": published.get_absolute_url()})
        if key and key != pending.key:
            logger.warning("upload completion refused token=%s reason=key-not-issued", token)
            return _error("That key was not issued for this upload.", "wrong_key",
                          status=403)
        try:
            # Joining parts and reading the object take time by the file's size, not the
            # request's few seconds (storage_backends.budget).
            with aws_budget_for_transfer(pending.size):
                file = publish(pending, UploadBucket())
        except Refused as refused:
            return _error(refused.message, refused.code,
                          status=409 if refused.kept else 400)
    messages.success(request, f"Uploaded {file}.")
    return JsonResponse({"file": file.public_id, "url": file.get_absolute_url()},
                        status=201)


def _published(uploader, key):
    """The file published from `key`, if `uploader` may see it (their own, or any for an
    operator who may add files)."""
    if not key:
        return None
    files_seen = File.objects.filter(file=key)
    if not uploader.has_perm("library.add_file"):
        files_seen = files_seen.filter(owner=uploader)
    return files_seen.first()


@_api
@require_http_methods(["DELETE", "POST"])
def cancel(request, token):
    """Cancel an upload: its parts are aborted and its record removed.

    DELETE for the uploader; POST from the upload page's "Discard" button, which works
    without JavaScript and goes back to the page.
    """
    pending = _own(request, token)
    pending.discard(UploadBucket())
    if request.method == "POST":
        messages.info(request, f"Discarded the unfinished upload of {pending.original_name}.")
        return redirect("library:upload")
    return HttpResponse(status=204)
