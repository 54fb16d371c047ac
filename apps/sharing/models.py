"""Share links: anyone holding a link's token may download its file until it expires or
its owner revokes it.

Only a SHA-256 digest of each token is stored. A token is 256 random bits, so a digest
without a salt or a slow hash is as safe as the token itself (nothing to guess from it), and
whoever reads the table (a backup, an operator, a leaked dump) still cannot open a link.
The price: the site cannot show a link again. Its owner sees the whole URL once, when it is
made; afterwards the file page lists each link by the first characters of its token (its
hint), with its expiry, downloads and a revoke button. A lost link is revoked and made anew.
"""

import hashlib
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models import F
from django.utils import timezone

from apps.library.models import PUBLIC_ID_LENGTH, File, new_public_id

#: Random bytes in a token: 256 bits, far past guessing, and its digest needs no salt.
TOKEN_BYTES = 32
#: Characters of a token: TOKEN_BYTES in URL-safe base64, without padding.
TOKEN_LENGTH = 43
#: Characters of a token the owner's list shows, so they can tell their links apart
#: (36 bits of 256: the rest is still unguessable).
HINT_LENGTH = 6


def new_token():
    """A fresh token from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token):
    """What is stored of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class ShareLinkQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Links that still open their file: not revoked, not expired, the file not trashed."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now,
                           file__deleted_at__isnull=True)


class ShareLink(models.Model):
    """One link to one file. Counts the downloads made through it."""

    # For the owner's revoke URL: never the token, and not a sequential number.
    public_id = models.CharField(max_length=PUBLIC_ID_LENGTH, unique=True,
                                 default=new_public_id, editable=False)
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="share_links")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=HINT_LENGTH, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Django's password hash (PASSWORD_HASHERS), or blank for a link with no password.
    password = models.CharField(max_length=128, blank=True)
    download_count = models.PositiveIntegerField(default=0)
    last_download_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.token_hint}… → {self.file}"

    @classmethod
    def create(cls, file, expires_at, password=""):
        """A new link to `file`; returns (link, token). The token is not kept: show it now."""
        token = new_token()
        link = cls.objects.create(
            file=file, token_digest=token_digest(token), token_hint=token[:HINT_LENGTH],
            expires_at=expires_at, password=make_password(password) if password else "")
        return link, token

    @classmethod
    def find(cls, token):
        """The link `token` opens, whatever its state; None if there is none."""
        return cls.objects.select_related("file").filter(
            token_digest=token_digest(token)).first()

    @property
    def needs_password(self):
        return bool(self.password)

    def check_password(self, raw):
        """Whether `raw` is the link's password; an outdated hash is upgraded on success."""
        def upgrade(raw):
            self.password = make_password(raw)
            ShareLink.objects.filter(pk=self.pk).update(password=self.password)

        return check_password(raw, self.password, upgrade)

    def state(self, now=None):
        """"active", "expired", "revoked" or "trashed" (its file is in the trash)."""
        now = now or timezone.now()
        if self.file.in_trash:
            return "trashed"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def usable(self):
        return self.state() == "active"

    def count_download(self):
        """Count one download, atomically (F()), if the link is still usable at this instant;
        whether it was (a revocation or the expiry may have come since it was read)."""
        now = timezone.now()
        counted = ShareLink.objects.usable(now).filter(pk=self.pk).update(
            download_count=F("download_count") + 1, last_download_at=now)
        return bool(counted)

    def revoke(self):
        """Revoke the link now; a revoked link stays revoked (its first time is kept)."""
        ShareLink.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
