from django.apps import AppConfig


class TrashConfig(AppConfig):
    """The trash: deleted files kept STRATUS_TRASH_DAYS days, restorable, then purged."""

    name = "apps.trash"
