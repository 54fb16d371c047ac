"""Deleting a File row deletes its S3 objects (the file and its thumbnail), however the row
goes (view, admin, cascade)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import File


@receiver(post_delete, sender=File, dispatch_uid="library.delete_stored_object")
def delete_stored_object(sender, instance, **kwargs):
    """Delete the object inside the deleting transaction, not after it commits.

    An S3 error then rolls the row back and reaches the user (a 503), who can retry: S3
    deletes are idempotent. After commit, a failure would leave an object that no row
    points to, unseen.
    """
    if instance.file.name:
        instance.file.storage.delete(instance.file.name)
    if instance.preview_key:
        instance.file.storage.delete(instance.preview_key)
