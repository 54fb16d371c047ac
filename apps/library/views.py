"""The library pages: a user's own files only; anyone else's file is a 404."""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.uploads.page import uploader_context
from apps.uploads.quota import usage_of
from storage_backends.budget import aws_budget_for_transfer

from .csp import allow_media_origin, uploader_page
from .deleting import delete_file
from .forms import FileEditForm, UploadForm
from .listing import MAX_QUERY_LENGTH, SORT_LABELS, Listing
from .models import File, Kind
from .tasks import enqueue_file_facts, enqueue_previews, resend_overdue_tasks

#: Files on one page of the library.
PAGE_SIZE = 25
#: Files one bulk delete may name (a page holds PAGE_SIZE).
MAX_BULK = 100
#: A browser keeps a preview's redirect for 1/this of the URL's life, so what it kept
#: still works when used.
PREVIEW_REDIRECT_SHARE = 4


def _own_file(request, public_id):
    """The requesting user's file `public_id`; 404 for anyone else's, so ids reveal nothing,
    and for one in the trash (the trash page lists those)."""
    return get_object_or_404(File.objects.live(), public_id=public_id, owner=request.user)


@login_required
@require_safe
@allow_media_origin("img-src")  # thumbnails: /preview/ redirects to S3
def file_list(request):
    """The user's files, 25 a page (a page past the end shows the last): newest first, or
    as `?sort=` asks, narrowed by `?q=` and `?type=` (see listing.Listing)."""
    listing = Listing.from_params(request.GET)
    paginator = Paginator(listing.files(request.user), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = listing.mark_copies(page.object_list)
    return render(request, "library/file_list.html", {
        "page_obj": page, "listing": listing, "columns": listing.column_sorts(),
        "kinds": Kind.choices, "sorts": SORT_LABELS.items(),
        "max_query_length": MAX_QUERY_LENGTH, "usage": usage_of(request.user)})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@uploader_page
def upload(request):
    """The upload page: the uploader sends files straight to S3 (apps.uploads); its plain
    form, for browsers without JavaScript, uploads one file through this node, then goes to
    its page. Background tasks record each file's facts and make its preview.

    The tasks are sent once the row is committed (at once outside a transaction), so the
    worker finds the row. Sending them cannot fail the upload: enqueue_file_facts and
    enqueue_previews log an SQS or SimpleDB outage and the file's page says they are pending.
    """
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, instance=File(owner=request.user))
        if form.is_valid():
            # The file's parts go to S3 now: they get time by their size, not the
            # request's few seconds (storage_backends.budget).
            with aws_budget_for_transfer(form.cleaned_data["file"].size):
                file = form.save()
                transaction.on_commit(partial(enqueue_file_facts, file.pk))
                transaction.on_commit(partial(enqueue_previews, file.pk))
            messages.success(request, f"Uploaded {file}.")
            return redirect(file)
    else:
        form = UploadForm()
    return render(request, "library/file_form.html", {
        "form": form, "form_max_bytes": settings.STRATUS_FORM_UPLOAD_MAX_BYTES,
        "usage": usage_of(request.user),
        **uploader_context(request.user)})


@login_required
@require_safe
@allow_media_origin("img-src")  # the preview: /preview/ redirects to S3
def detail(request, public_id):
    """One file's details and preview, with download and delete links; overdue facts and
    previews are sent again."""
    file = _own_file(request, public_id)
    resend_overdue_tasks(file)
    return render(request, "library/file_detail.html", {
        "file": file, "earlier_copy": file.earlier_copy()})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def edit(request, public_id):
    """Rename the file or edit its title (the owner only: anyone else gets a 404)."""
    file = _own_file(request, public_id)
    form = FileEditForm(request.POST or None, instance=file)
    if request.method == "POST" and form.is_valid():
        # Only these two columns: the facts or preview task may be writing the others now.
        File.objects.filter(pk=file.pk).update(original_name=file.original_name,
                                               title=file.title)
        messages.success(request, f"Saved {file}.")
        return redirect(file)
    return render(request, "library/file_edit.html", {"file": file, "form": form})


@never_cache  # the redirect holds a URL that expires; nothing may keep it longer
@login_required
@require_safe
def download(request, public_id):
    """Redirect to a short-lived presigned S3 URL: the bytes never pass through this node."""
    return redirect(_own_file(request, public_id).download_url())


@login_required
@require_safe
def preview(request, public_id):
    """Redirect to a short-lived presigned URL of the file's thumbnail; 404 if it has none.

    The browser may keep the redirect for a while, well within the URL's life: a library
    page shows many thumbnails, and the page refreshes itself while facts are pending.
    """
    file = _own_file(request, public_id)
    if not file.preview_image:
        raise Http404("No preview.")
    response = redirect(file.preview_url())
    patch_cache_control(response, private=True,
                        max_age=settings.STRATUS_DOWNLOAD_URL_EXPIRY // PREVIEW_REDIRECT_SHARE)
    return response


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete(request, public_id):
    """GET asks for confirmation; POST moves the file to the trash (apps.trash), from which
    its owner may restore it for STRATUS_TRASH_DAYS days."""
    file = _own_file(request, public_id)
    if request.method == "POST":
        delete_file(file)
        messages.success(request, f"Moved {file} to the trash.")
        return redirect("library:list")
    return render(request, "library/file_confirm_delete.html", {
        "file": file, "trash_days": settings.STRATUS_TRASH_DAYS})


@login_required
@require_POST
def bulk_delete(request):
    """Delete the files ticked on the list: the first POST (from the list) asks to confirm
    them by name, the second (with `confirm`) deletes each through delete_file, as its own
    page would. Only the user's own files count; anyone else's id is ignored, as is an
    unknown one; more than MAX_BULK ids is a 400."""
    ids = request.POST.getlist("files")
    if len(ids) > MAX_BULK:
        raise BadRequest(f"Select at most {MAX_BULK} files at a time.")
    chosen = list(File.objects.live().filter(owner=request.user, public_id__in=ids))
    if not chosen:
        messages.info(request, "No files were selected: tick the files to delete first.")
        return redirect("library:list")
    if "confirm" not in request.POST:
        return render(request, "library/file_confirm_bulk_delete.html", {
            "files": chosen, "trash_days": settings.STRATUS_TRASH_DAYS})
    for file in chosen:
        delete_file(file)
    messages.success(request, f"Moved {len(chosen)} file{pluralize(len(chosen))} to the trash.")
    return redirect("library:list")
