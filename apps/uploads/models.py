"""Uploads under way: what a node issued to a browser, kept where every node can read it.

A browser may finish, resume or cancel an upload through any node, after a reload, a
closed tab or the death of the node that began it: so what was issued (owner, key, S3
UploadId, declared size) lives in the database, never in a node's memory.
"""

from django.conf import settings
from django.db import models

from apps.library.models import PUBLIC_ID_LENGTH, new_public_id

#: Longest fingerprint kept: the browser's name, size and modification time of its file.
FINGERPRINT_LENGTH = 200


class PendingUpload(models.Model):
    """One upload issued and not yet published or abandoned.

    `token` names it in URLs (random, like a file's public id); the S3 key was chosen
    here, never by the browser. A multipart upload has an `upload_id`; a presigned POST
    has none.
    """

    token = models.CharField(max_length=PUBLIC_ID_LENGTH, unique=True,
                             default=new_public_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="pending_uploads",
                              help_text="Whose library the file goes to.")
    # The owner, or the operator uploading for them from the admin: who may sign, resume,
    # complete or cancel it.
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                 related_name="+", help_text="Who sends the bytes.")
    key = models.CharField("S3 key", max_length=255, unique=True)
    upload_id = models.CharField("S3 UploadId", max_length=1024, blank=True,
                                 help_text="Blank for a presigned POST.")
    size = models.PositiveBigIntegerField(help_text="Declared by the browser, in bytes.")
    part_size = models.PositiveBigIntegerField(null=True, blank=True)
    original_name = models.CharField(max_length=255)
    title = models.CharField(max_length=200, blank=True)
    # The same file chosen again (after a reload) finds its upload by this.
    fingerprint = models.CharField(max_length=FINGERPRINT_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["uploader", "fingerprint"],
                                name="uploads_uploader_fingerprint")]

    def __str__(self):
        return f"{self.original_name} ({self.size} bytes)"

    @property
    def multipart(self):
        return bool(self.upload_id)

    def discard(self, bucket):
        """End this upload: its parts aborted, whatever object arrived deleted, the row gone."""
        if self.multipart:
            bucket.abort(self.key, self.upload_id)
        bucket.delete(self.key)
        PendingUpload.objects.filter(pk=self.pk).delete()
