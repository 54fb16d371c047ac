"""The shared page, mounted at /s/: a link's token is its URL."""

from django.urls import path, register_converter

from . import views
from .models import TOKEN_LENGTH

app_name = "sharing"


class TokenConverter:
    """A share token: exactly TOKEN_LENGTH URL-safe base64 characters; anything else matches
    no URL and is a 404 without a query."""

    regex = f"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(TokenConverter, "share_token")

urlpatterns = [
    path("<share_token:token>/", views.shared, name="shared"),
]
