"""Stratus URLs: the site's apps, the admin, and the health endpoints."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from storage_backends.tasks.metrics.views import metrics_view

handler500 = "apps.ops.views.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="library:list"), name="home"),
    path("", include("apps.ops.urls")),
    path("accounts/", include("apps.accounts.urls")),
    # After the library: apps.library.urls registers the public_id converter both use.
    path("library/", include("apps.library.urls")),
    path("library/uploads/", include("apps.uploads.urls")),
    path("library/", include("apps.sharing.urls")),
    path("library/trash/", include("apps.trash.urls")),
    path("library/exports/", include("apps.exports.urls")),
    path("s/", include("apps.sharing.public_urls")),
    path("admin/", admin.site.urls),
    # Prometheus's text format, off unless STRATUS_METRICS_TOKEN is set (docs/tasks.md).
    path("metrics", metrics_view, name="metrics"),
]
