"""Zip exports in the admin: operators can see what was asked for and how it went, and
remove an export early. Users make exports on the site; nothing is edited here."""

from django.contrib import admin
from django.core.files.storage import default_storage

from .models import ZipExport


@admin.register(ZipExport)
class ZipExportAdmin(admin.ModelAdmin):
    """Read-only list and detail; deleting an export deletes its zip from S3 too."""

    list_display = ["public_id", "owner", "state", "created_at", "files_done", "files_total",
                    "zip_size", "ready_at"]
    list_filter = ["state", "created_at"]
    search_fields = ["=public_id", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = ["public_id", "owner", "state", "created_at", "ready_at", "files_total",
                       "files_done", "bytes_total", "bytes_done", "key", "zip_size", "note"]
    exclude = ["files"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        if obj.key:
            default_storage.delete(obj.key)
        obj.delete()

    def delete_queryset(self, request, queryset):
        for export in queryset:
            self.delete_model(request, export)
