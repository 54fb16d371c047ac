"""What the operations app keeps in the database: the releases prepared so far."""

from django.db import models


class PreparedRelease(models.Model):
    """A release whose migrations and static files `manage.py prepare_release` prepared.

    One row per preparation, in order: the last row is the release whose static files'
    manifest the static bucket holds. A rollback adds a row for the earlier release again.
    """

    version = models.CharField(max_length=64)
    prepared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        get_latest_by = "id"

    def __str__(self):
        return self.version
