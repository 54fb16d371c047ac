"""Share links in the admin: operators can see and revoke them, never read a token."""

from django.contrib import admin
from django.utils import timezone

from .models import ShareLink


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Read-only but for revoking: a link is made by its owner, on the file page."""

    list_display = ["token_hint", "file", "created_at", "expires_at", "revoked_at",
                    "download_count", "last_download_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["=public_id", "=token_hint", "file__original_name"]
    readonly_fields = ["public_id", "file", "token_hint", "created_at", "expires_at",
                       "revoked_at", "download_count", "last_download_at"]
    exclude = ["token_digest", "password"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected links")
    def revoke(self, request, queryset):
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
