"""Zip exports: POST a selection of files, watch the zip being built, download it."""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from apps.library import files as library_files
from apps.library.models import File

from .models import ExportState, ZipExport
from .tasks import build_progress, enqueue_build

#: Files on one page of the selection.
PAGE_SIZE = 25


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def create(request):
    """GET: the user's files with a checkbox each. POST: a zip of the selected files
    (`files`: public ids of the user's own files in the library, from this page or the
    library's own selection); its page shows the progress."""
    if request.method != "POST":
        files = File.objects.live().filter(owner=request.user)
        page = Paginator(files, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "exports/select.html", {"page_obj": page})
    wanted = request.POST.getlist("files")
    limit = settings.STRATUS_EXPORT_MAX_FILES
    chosen = list(File.objects.live().filter(owner=request.user, public_id__in=wanted[:limit + 1]))
    if not chosen:
        messages.error(request, "Select the files to download as a zip.")
        return redirect("library:list")
    if len(wanted) > limit:
        messages.error(request, f"A zip can hold at most {limit} files.")
        return redirect("library:list")
    export = ZipExport.objects.create(owner=request.user, files_total=len(chosen),
                                      bytes_total=sum(f.size for f in chosen))
    export.files.set(chosen)
    transaction.on_commit(partial(enqueue_build, export.pk))
    return redirect(export)


@login_required
@require_safe
def detail(request, public_id):
    """The export's progress, from its task's result (refreshed by live.js while it
    builds), then its download link."""
    export = get_object_or_404(ZipExport, public_id=public_id, owner=request.user)
    expired = export.expires_at is not None and export.expires_at <= timezone.now()
    progress = build_progress(export) if export.pending else None
    return render(request, "exports/detail.html", {
        "export": export, "expired": expired, "progress": progress,
        "percent": (progress.percent or 0) if progress else 0,
    }, status=410 if expired else 200)


@never_cache
@login_required
@require_safe
def download(request, public_id):
    """Redirect to a presigned URL of the zip while its link lasts; else 410."""
    export = get_object_or_404(ZipExport, public_id=public_id, owner=request.user)
    if export.state != ExportState.READY or export.expires_at <= timezone.now():
        return render(request, "exports/detail.html", {"export": export, "expired": True},
                      status=410 if export.state == ExportState.READY else 404)
    return redirect(default_storage.url(export.key, parameters={
        "ResponseContentType": "application/zip",
        "ResponseContentDisposition": library_files.content_disposition(
            export.download_name(), inline=False)},
        expire=settings.STRATUS_DOWNLOAD_URL_EXPIRY))
