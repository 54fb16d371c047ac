"""Unfinished uploads in the admin: who is sending what, and a way to abort them."""

from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat

from .bucket import UploadBucket
from .models import PendingUpload


@admin.register(PendingUpload)
class PendingUploadAdmin(admin.ModelAdmin):
    """Read-only: uploads are issued by the site's uploader, and end by being published,
    cancelled, or cleared by `manage.py clearuploads`."""

    list_display = ["original_name", "owner", "uploader", "human_size", "multipart",
                    "created_at"]
    list_select_related = ["owner", "uploader"]
    search_fields = ["original_name", "=key", "=token"]
    actions = ["abort_uploads"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="size", ordering="size")
    def human_size(self, pending):
        return filesizeformat(pending.size)

    @admin.display(boolean=True)
    def multipart(self, pending):
        return pending.multipart

    @admin.action(description="Abort the selected uploads (their parts are deleted)",
                  permissions=["delete"])
    def abort_uploads(self, request, queryset):
        bucket = UploadBucket()
        count = 0
        for pending in queryset:
            pending.discard(bucket)
            count += 1
        self.message_user(request, f"Aborted {count} upload(s).", messages.SUCCESS)
