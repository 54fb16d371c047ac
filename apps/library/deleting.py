"""Deleting a file: the one path every delete in the library takes."""

from django.db import transaction


def delete_file(file):
    """Delete `file`: its row, and with it (apps.library.signals) its S3 objects.

    The file's own page and the list's "Delete selected" both come here, so a change to
    what deleting means (a trash, say) applies to both. Each file has its own savepoint: if
    S3 refuses an object's deletion, that row comes back even inside a caller's
    transaction, and the error reaches the user, who can try again.
    """
    with transaction.atomic():
        file.delete()
