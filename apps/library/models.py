"""A user's files: one row per upload, the bytes in S3 (the default storage)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse

from . import files, previews

#: Random bytes in a public id: 128 bits (a UUID4 has 122), so ids can be neither
#: guessed nor counted.
PUBLIC_ID_BYTES = 16
#: Characters of a public id: PUBLIC_ID_BYTES in URL-safe base64, without padding.
PUBLIC_ID_LENGTH = 22


#: Types whose files are text, beside text/*: the bytes of any of these may be plain text.
TEXTUAL_TYPES = {"application/json", "application/xml", "application/javascript",
                 "application/x-sh", "application/sql", "application/x-yaml",
                 "application/yaml", "application/toml"}
#: Formats whose files are ZIP archives (prefixes), so that a ZIP signature fits them.
ZIP_BASED_TYPES = ("application/zip", "application/x-zip-compressed", "application/epub+zip",
                   "application/java-archive", "application/vnd.android.package-archive",
                   "application/vnd.openxmlformats-officedocument.",
                   "application/vnd.oasis.opendocument.", "application/vnd.ms-")


class PreviewState(models.TextChoices):
    """Where a file's preview stands."""

    PENDING = "pending", "being made"
    READY = "ready", "ready"
    #: No preview: not a kind we preview, or refused (preview_note says why).
    NONE = "none", "none"


class Kind(models.TextChoices):
    """What a file is, broadly, for filtering the library (`?type=`)."""

    IMAGE = "image", "images"
    PDF = "pdf", "PDFs"
    TEXT = "text", "text"
    OTHER = "other", "other"


def kind_of(detected_type, content_type):
    """A file's Kind: the bytes decide (detected_type, from the facts task); until they are
    read (detected_type blank), the type the file was stored with."""
    if detected_type:
        if detected_type.startswith("image/"):
            return Kind.IMAGE
        if detected_type == "application/pdf":
            return Kind.PDF
        return Kind.TEXT if detected_type.startswith("text/") else Kind.OTHER
    if content_type.startswith("image/"):
        return Kind.IMAGE
    if content_type == "application/pdf":
        return Kind.PDF
    return Kind.TEXT if _is_textual(content_type) else Kind.OTHER


def new_public_id():
    """A fresh public id: PUBLIC_ID_BYTES from the OS's CSPRNG, URL-safe base64."""
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


class FileQuerySet(models.QuerySet):
    """Files in the library, or in the trash: `File.objects` holds both, so every page
    says which it means."""

    def live(self):
        """Files not in the trash: the only ones the library, downloads and shares show."""
        return self.filter(deleted_at__isnull=True)

    def trashed(self):
        """Files in the trash (until the cleanup purges them)."""
        return self.filter(deleted_at__isnull=False)


def _is_textual(content_type):
    return (content_type.startswith("text/") or content_type in TEXTUAL_TYPES
            or content_type.endswith(("+xml", "+json")))


class File(models.Model):
    """One uploaded file: who owns it, what it is called and is, and its S3 object.

    URLs name a file by its public_id, never by its pk: a sequential id would tell anyone
    how many files the site holds and invite guessing.
    """

    # Unique index: every library URL looks a file up by it.
    public_id = models.CharField(max_length=PUBLIC_ID_LENGTH, unique=True,
                                 default=new_public_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="files")
    title = models.CharField(max_length=200, blank=True)
    original_name = models.CharField(
        max_length=255,
        help_text="The file's name as its user gave it; the S3 key holds a sanitised form.")
    # 255: "uploads/<32 hex>/" + a name of at most files.MAX_NAME_LENGTH + a collision suffix.
    file = models.FileField(upload_to=files.upload_to, max_length=255)
    size = models.PositiveBigIntegerField(help_text="In bytes.")
    content_type = models.CharField(max_length=255)
    uploaded_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Facts a background task (tasks.record_file_facts) reads from the stored bytes; blank
    # until it has run.
    sha256 = models.CharField("SHA-256", max_length=64, blank=True,
                              help_text="The stored bytes' checksum, in hex.")
    detected_type = models.CharField(
        max_length=255, blank=True,
        help_text="The type the bytes' signature shows, whatever the name says.")
    facts_recorded_at = models.DateTimeField(null=True, blank=True)
    # Kept from the two types by save() and by the facts task, which writes detected_type
    # (kind_of); a column, so the list filters on an index.
    kind = models.CharField(max_length=5, choices=Kind, default=Kind.OTHER, editable=False)
    # The preview a background task (tasks.build_previews) makes: a thumbnail in the default
    # storage for an image or a PDF, the first lines for text, or none and why not.
    preview_state = models.CharField(max_length=8, choices=PreviewState,
                                     default=PreviewState.PENDING)
    preview_key = models.CharField(
        "preview's key", max_length=255, blank=True,
        help_text="The thumbnail's key in the media bucket, under previews/.")
    preview_text = models.TextField(blank=True, help_text="A text file's first lines.")
    preview_note = models.CharField(
        max_length=100, blank=True, help_text="Why there is no preview, for its owner.")
    # When its owner moved it to the trash; None while it is in the library. The row and its
    # objects stay until apps.trash's cleanup purges it, STRATUS_TRASH_DAYS later.
    deleted_at = models.DateTimeField("moved to the trash", null=True, blank=True)

    objects = FileQuerySet.as_manager()

    class Meta:
        # pk breaks ties between rows created in the same instant, so pages never overlap.
        ordering = ["-uploaded_at", "-pk"]
        indexes = [
            # The library page, in each order it offers (listing.SORTS): by date (newest
            # first, read backwards for oldest), by name as people read it (case aside), by
            # size; pk last, the tie-breaker every order ends with, so a page is read off
            # the index without a sort.
            models.Index(fields=["owner", "-uploaded_at", "-id"], name="library_owner_date"),
            models.Index(F("owner"), Lower("original_name"), F("id"),
                         name="library_owner_name"),
            models.Index(fields=["owner", "size", "id"], name="library_owner_size"),
            # One kind, newest first (the other orders filter this one's rows).
            models.Index(fields=["owner", "kind", "-uploaded_at", "-id"],
                         name="library_owner_kind"),
            # Duplicates: a user's files with the same bytes.
            models.Index(fields=["owner", "sha256"], name="library_owner_sha256"),
            # The trash page and the cleanup: the few trashed rows only, oldest first.
            models.Index(fields=["deleted_at"], name="library_trashed",
                         condition=models.Q(deleted_at__isnull=False)),
        ]

    def __str__(self):
        return self.title or self.original_name

    def save(self, *args, **kwargs):
        self.kind = kind_of(self.detected_type, self.content_type)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "kind"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("library:detail", args=[self.public_id])

    @property
    def in_trash(self):
        return self.deleted_at is not None

    @property
    def inline(self):
        """Whether a browser may show the file rather than save it (a checked image type)."""
        return files.is_inline(self.content_type)

    @property
    def facts_pending(self):
        """Whether the checksum and detected type are still to come from the task."""
        return self.facts_recorded_at is None

    @property
    def preview_pending(self):
        """Whether the preview task has still to run."""
        return self.preview_state == PreviewState.PENDING

    @property
    def preview_image(self):
        """Whether the file has a thumbnail to show (else maybe text, or nothing)."""
        return self.preview_state == PreviewState.READY and bool(self.preview_key)

    @property
    def type_from_name(self):
        """The type the file's name suggests, whatever its bytes are.

        Not content_type, which is already octet-stream when a name claims an image type
        the bytes do not carry (fake.png holding text).
        """
        return files.type_from_name(self.original_name)

    @property
    def type_disagrees(self):
        """Whether the bytes show a type other than the one the name suggests.

        Only a clear contradiction counts: no type on either side (octet-stream) says
        nothing, text fits any textual type, and a ZIP any format built on ZIP.
        """
        detected, declared = self.detected_type, self.type_from_name
        if self.facts_pending or detected == declared or files.OCTET_STREAM in (detected,
                                                                                declared):
            return False
        if detected == "text/plain":
            return not _is_textual(declared)
        if detected == "application/zip":
            return not declared.startswith(ZIP_BASED_TYPES)
        return True

    def earlier_copy(self):
        """The first file of the same owner with the same bytes uploaded before this one;
        None if there is none, or the checksum is still to come (a query, on the
        library_owner_sha256 index)."""
        return earlier_copies(self.owner_id, self.sha256, self.uploaded_at, self.pk).first()

    def download_url(self):
        """A presigned S3 GET URL, valid for STRATUS_DOWNLOAD_URL_EXPIRY seconds.

        S3 sends the type and disposition decided here, whatever the object's metadata says.
        Signing is local: this makes no call to S3.
        """
        return self.file.storage.url(
            self.file.name,
            parameters={
                "ResponseContentType": self.content_type,
                "ResponseContentDisposition": files.content_disposition(
                    self.original_name, inline=self.inline),
            },
            expire=settings.STRATUS_DOWNLOAD_URL_EXPIRY,
        )

    def preview_url(self):
        """A presigned S3 GET URL of the thumbnail (see download_url); None if it has none.

        Browsers may keep the image as long as the URL lives: a thumbnail never changes
        under its key (a rebuilt preview gets a new one).
        """
        if not self.preview_image:
            return None
        expiry = settings.STRATUS_DOWNLOAD_URL_EXPIRY
        return self.file.storage.url(
            self.preview_key,
            parameters={"ResponseContentType": previews.THUMBNAIL_TYPE,
                        "ResponseContentDisposition": "inline",
                        "ResponseCacheControl": f"private, max-age={expiry}"},
            expire=expiry,
        )


def earlier_copies(owner, sha256, uploaded_at, pk):
    """Files of `owner` (an id) with the checksum `sha256` uploaded before the file
    (`uploaded_at`, `pk`), oldest first; none while the checksum is blank. Each argument is a
    value, or an OuterRef when the list annotates each row with its first copy."""
    return (File.objects.live().filter(owner_id=owner, sha256=sha256).exclude(sha256="")
            .filter(Q(uploaded_at__lt=uploaded_at) | Q(uploaded_at=uploaded_at, pk__lt=pk))
            .order_by("uploaded_at", "pk"))
