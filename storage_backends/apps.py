from django.apps import AppConfig


class StorageBackendsConfig(AppConfig):
    name = "storage_backends"
    verbose_name = "AWS storage backends"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
