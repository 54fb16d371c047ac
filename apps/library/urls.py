from django.urls import path, register_converter

from . import views
from .models import PUBLIC_ID_LENGTH

app_name = "library"


class PublicIdConverter:
    """A file's public id in a URL: exactly PUBLIC_ID_LENGTH URL-safe base64 characters.

    Anything else, an old integer id included, matches no URL and is a 404 without a query.
    """

    regex = f"[A-Za-z0-9_-]{{{PUBLIC_ID_LENGTH}}}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(PublicIdConverter, "public_id")

urlpatterns = [
    path("", views.file_list, name="list"),
    path("upload/", views.upload, name="upload"),
    path("delete/", views.bulk_delete, name="bulk_delete"),
    path("<public_id:public_id>/", views.detail, name="detail"),
    path("<public_id:public_id>/download/", views.download, name="download"),
    path("<public_id:public_id>/preview/", views.preview, name="preview"),
    path("<public_id:public_id>/edit/", views.edit, name="edit"),
    path("<public_id:public_id>/delete/", views.delete, name="delete"),
]
