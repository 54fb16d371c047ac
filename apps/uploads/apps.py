from django.apps import AppConfig


class UploadsConfig(AppConfig):
    """Direct uploads: browsers send file bytes straight to S3; the node signs, checks, records."""

    name = "apps.uploads"
    verbose_name = "Uploads"

    def ready(self):
        from . import checks  # noqa: F401  (registers the upload limits' system checks)
