"""Deleting a file: the one path every delete in the library takes."""

from django.utils import timezone


def delete_file(file):
    """Move `file` to the trash (apps.trash), from which its owner may restore it for
    STRATUS_TRASH_DAYS days; the cleanup then deletes its row and S3 objects.

    The file's own page and the list's "Delete selected" both come here, so what deleting
    means is decided once. Only a live file moves (one UPDATE): a second delete changes
    nothing. Returns whether it moved.
    """
    from .models import File

    return bool(File.objects.live().filter(pk=file.pk).update(deleted_at=timezone.now()))
