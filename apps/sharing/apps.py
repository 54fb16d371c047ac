from django.apps import AppConfig


class SharingConfig(AppConfig):
    """Share links: a file fetched by anyone holding an unguessable, expiring link."""

    name = "apps.sharing"
