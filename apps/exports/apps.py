from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Zip exports: several files as one zip, built by a task straight into S3."""

    name = "apps.exports"
