"""Files in the admin: find, inspect, download and delete; uploads happen on the site."""

from django.contrib import admin
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html

from .models import File


@admin.register(File)
class FileAdmin(admin.ModelAdmin):
    """Everything but the title is read-only: name, type and size were decided at upload."""

    list_display = ["__str__", "original_name", "owner", "human_size", "content_type",
                    "uploaded_at", "download_link"]
    # Only users who have files, not every account on the site.
    list_filter = [("owner", admin.RelatedOnlyFieldListFilter), "content_type"]
    search_fields = ["original_name", "title"]
    list_select_related = ["owner"]
    fields = ["owner", "title", "original_name", "stored_as", "human_size", "content_type",
              "uploaded_at", "download_link"]
    readonly_fields = ["owner", "original_name", "stored_as", "human_size", "content_type",
                       "uploaded_at", "download_link"]

    def has_add_permission(self, request):
        # An upload must go through the site's form, which sanitizes the name and checks
        # the type; the admin's plain file field would do neither.
        return False

    @admin.display(description="size", ordering="size")
    def human_size(self, file):
        return filesizeformat(file.size)

    @admin.display(description="S3 key")
    def stored_as(self, file):
        return file.file.name

    @admin.display(description="download")
    def download_link(self, file):
        # Signing is local, so a page of links costs no S3 calls.
        return format_html('<a href="{}">Download</a>', file.download_url())
