from django.apps import AppConfig


class LibraryConfig(AppConfig):
    """Users' files, stored in S3."""

    name = "apps.library"
    verbose_name = "Library"

    def ready(self):
        from . import signals  # noqa: F401  (connects the post_delete receiver)
