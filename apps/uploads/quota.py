"""Each user's storage quota (STRATUS_USER_QUOTA_BYTES; 0: none) and what counts against it.

What counts is the user's files plus the declared sizes of their uploads under way: an
upload reserves its room when it is issued, before any byte is sent, so many uploads
started at once cannot overshoot together. The check runs where an upload is issued (the
direct-upload API) and in the plain form before the file is stored.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Sum
from django.template.defaultfilters import filesizeformat

from apps.library.models import File

from .models import PendingUpload


@dataclass(frozen=True)
class Usage:
    """A user's bytes: in files, reserved by uploads under way, and the quota (0: none)."""

    files: int
    pending: int
    quota: int

    @property
    def used(self):
        return self.files + self.pending

    @property
    def limited(self):
        return self.quota > 0

    @property
    def left(self):
        return max(self.quota - self.used, 0) if self.limited else None

    @property
    def percent(self):
        """Share of the quota used, 0 to 100, for the usage bar."""
        return min(100, round(100 * self.used / self.quota)) if self.limited else 0

    def allows(self, size):
        """Whether a file of `size` bytes more fits."""
        return not self.limited or self.used + size <= self.quota

    def refusal(self, size):
        """What the user is told when a file of `size` bytes does not fit."""
        return (f"This file ({filesizeformat(size)}) does not fit in your storage: you use "
                f"{filesizeformat(self.used)} of {filesizeformat(self.quota)}, so "
                f"{filesizeformat(self.left)} is left. Delete some files to make room.")


def usage_of(user, pending=True):
    """`user`'s Usage; `pending=False` leaves the uploads under way out (one query fewer)."""
    files = File.objects.filter(owner=user).aggregate(total=Sum("size"))["total"] or 0
    reserved = 0
    if pending:
        reserved = (PendingUpload.objects.filter(owner=user)
                    .aggregate(total=Sum("size"))["total"] or 0)
    return Usage(files=files, pending=reserved, quota=settings.STRATUS_USER_QUOTA_BYTES)


@contextmanager
def usage_locked(user):
    """A block in which `user`'s usage is checked and their new upload recorded, one such
    block per user at a time: on PostgreSQL a transaction holding the user's row (SELECT
    ... FOR UPDATE), so uploads issued at the same moment are counted one after the other.

    Elsewhere (SQLite, the single-machine default) no transaction: SQLite cannot lock a row,
    and a transaction that reads and then writes fails at once with "database is locked"
    when another upload writes meanwhile, which the browser's parallel uploads do. There
    two uploads issued at the same instant may each pass the check.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        yield
