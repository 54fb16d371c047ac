"""Files in the admin: find, inspect, download and delete; "Add" is the site's uploader."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from apps.uploads.page import uploader_context

from .csp import allow_media_origin, uploader_page
from .models import File, PreviewState
from .tasks import enqueue_file_facts, rebuild_previews


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    """Everything but the title is read-only: name, type and size were decided at upload,
    checksum and detected type by the record_file_facts task.

    original_name is the name as the user gave it; the admin escapes it like any value.
    """

    list_display = ["__str__", "original_name", "owner", "human_size", "content_type",
                    "detected_type", "short_sha256", "uploaded_at", "download_link"]
    # Only users who have files, not every account on the site.
    list_filter = [("owner", admin.RelatedOnlyFieldListFilter), "content_type",
                   "detected_type", "preview_state"]
    # "=public_id": an operator can find the file a user's URL names.
    search_fields = ["original_name", "title", "=sha256", "=public_id"]
    list_select_related = ["owner"]
    fields = ["public_id", "owner", "title", "original_name", "stored_as", "human_size", "content_type",
              "detected_type", "sha256", "facts_recorded_at", "uploaded_at", "download_link",
              "preview_state", "preview_note", "preview_key", "preview"]
    readonly_fields = ["public_id", "owner", "original_name", "stored_as", "human_size", "content_type",
                       "detected_type", "sha256", "facts_recorded_at", "uploaded_at",
                       "download_link", "preview_state", "preview_note", "preview_key",
                       "preview"]
    actions = ["record_missing_facts", "rebuild_selected_previews"]

    def add_view(self, request, form_url="", extra_context=None):
        """Adding files is the site's uploader, not a model form: bytes go straight to S3
        and are checked before they are published (apps.uploads); the admin's plain file
        field would send them through the node and check nothing."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "changelist_url": reverse("admin:library_file_changelist"),
                   **uploader_context(request.user), **(extra_context or {})}
        return uploader_page(lambda request: TemplateResponse(
            request, "admin/library/file/upload.html", context).render())(request)

    @admin.display(description="size", ordering="size")
    def human_size(self, file):
        return filesizeformat(file.size)

    @admin.display(description="SHA-256", ordering="sha256")
    def short_sha256(self, file):
        # The first 12 hex digits tell files apart on a page; the change page shows all 64.
        return file.sha256[:12] + "…" if file.sha256 else "pending"

    @admin.action(description="Record missing facts (checksum, detected type)")
    def record_missing_facts(self, request, queryset):
        """Send the task again for the selected files whose facts are pending, e.g. after
        the queue was unreachable at upload."""
        pending = list(queryset.filter(facts_recorded_at__isnull=True).values_list(
            "pk", flat=True))
        sent = sum(enqueue_file_facts(pk) is not None for pk in pending)
        if sent < len(pending):
            self.message_user(request, f"Could not send {len(pending) - sent} of "
                              f"{len(pending)} task(s); see the logs.", messages.ERROR)
        else:
            self.message_user(request, f"Sent {sent} task(s), one per selected file whose "
                              f"facts were missing.", messages.SUCCESS)

    @admin.action(description="Rebuild previews")
    def rebuild_selected_previews(self, request, queryset):
        """Forget the selected files' previews (their thumbnails deleted) and send the task
        again: for files uploaded before previews, or after a change in how they are made."""
        files = list(queryset)
        sent = sum(rebuild_previews(file) for file in files)
        if sent < len(files):
            self.message_user(request, f"Could not send {len(files) - sent} of "
                              f"{len(files)} task(s); see the logs.", messages.ERROR)
        else:
            self.message_user(request, f"Sent {sent} task(s) to rebuild previews.",
                              messages.SUCCESS)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The preview's image comes from the media bucket.
        view = allow_media_origin("img-src")(super().change_view)
        return view(request, object_id, form_url, extra_context)

    @admin.display(description="preview")
    def preview(self, file):
        if file.preview_image:
            return format_html('<img src="{}" alt="Preview of {}">', file.preview_url(), file)
        if file.preview_state == PreviewState.READY:
            return format_html("<pre>{}</pre>", file.preview_text)
        return "-"

    @admin.display(description="S3 key")
    def stored_as(self, file):
        return file.file.name

    @admin.display(description="download")
    def download_link(self, file):
        # Signing is local, so a page of links costs no S3 calls.
        return format_html('<a href="{}">Download</a>', file.download_url())
