"""The trash page: a user's deleted files, each restorable until it is purged."""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .purge import cutoff, in_trash
from .tasks import enqueue_purge

#: Files on one page of the trash.
PAGE_SIZE = 25


@login_required
@require_safe
def trash(request):
    """The user's trashed files, most recently deleted first, with the day each goes."""
    files = in_trash(request.user).order_by("-deleted_at", "-pk")
    page = Paginator(files, PAGE_SIZE).get_page(request.GET.get("page"))
    keep = timedelta(days=settings.STRATUS_TRASH_DAYS)
    for file in page:
        file.purge_at = file.deleted_at + keep
    return render(request, "trash/trash.html", {
        "page_obj": page, "trash_days": settings.STRATUS_TRASH_DAYS})


@login_required
@require_POST
def restore(request, public_id):
    """Put a trashed file back in the library (its share links work again until they
    expire); one already purged, or anyone else's, is a message, not an error."""
    file = in_trash(request.user).filter(public_id=public_id).first()
    if file is None or not in_trash(request.user).filter(pk=file.pk).update(deleted_at=None):
        messages.error(request, "That file is no longer in the trash.")
        return redirect("trash:list")
    messages.success(request, f"Restored {file}.")
    return redirect("trash:list")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def empty(request):
    """GET asks for confirmation. POST empties the trash: its files are set at the purge limit, so they leave the page at once,
    and the purge task is sent to delete their rows and objects (a long job, so a worker's)."""
    if request.method != "POST":
        return render(request, "trash/confirm_empty.html", {
            "count": in_trash(request.user).count()})
    now = timezone.now()
    emptied = in_trash(request.user, now).update(deleted_at=cutoff(now))
    if emptied:
        transaction.on_commit(partial(enqueue_purge, request.user.pk))
        messages.success(request, f"Emptied the trash: {emptied} file(s) deleted for good.")
    return redirect("trash:list")
