"""The baseline's node-local files: the storage that keeps uploads on the node's own disk,
the URL the node serves them from, and a readiness check that matches what it depends on.

`File.download_url()` asks its storage for a presigned URL with S3's options; NodeDiskStorage
takes the same call for a file on disk, so the site runs unchanged on it.
"""

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.static import serve

from apps.ops.checks import check_database
from project.urls import handler500, urlpatterns as site_urlpatterns  # noqa: F401


class NodeDiskStorage(FileSystemStorage):
    """Uploads under MEDIA_ROOT on this node's disk, as a default project keeps them."""

    def url(self, name, parameters=None, expire=None):
        # S3's response headers and expiry have no meaning for a plain file URL.
        return super().url(name)


@never_cache
@require_safe
def readyz(request):
    """Ready when the database answers: the only service a default project depends on."""
    try:
        check_database()
    except Exception as error:  # any failure means not ready; say which
        return JsonResponse({"status": "unavailable", "checks": {"database": str(error)}},
                            status=503)
    return JsonResponse({"status": "ok", "checks": {"database": "ok"}})


urlpatterns = [
    # Before the site's own /readyz, which would also probe S3, SQS and SimpleDB.
    path("readyz", readyz, name="readyz"),
    *site_urlpatterns,
    path(settings.MEDIA_URL.strip("/") + "/<path:path>", serve,
         {"document_root": settings.MEDIA_ROOT}),
]
