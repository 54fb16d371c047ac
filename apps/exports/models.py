"""A zip export: the files a user selected, built into one zip in S3 by a background task
(tasks.build_zip). Its state is recorded here; how far the build is, in the task's result
(its progress), which the page reads by `task_id`."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse

from apps.library.models import PUBLIC_ID_LENGTH, File, new_public_id


class ExportState(models.TextChoices):
    PENDING = "pending", "waiting for a worker"
    BUILDING = "building", "being built"
    READY = "ready", "ready"
    FAILED = "failed", "failed"


class ZipExport(models.Model):
    """One zip of several files; its download works STRATUS_EXPORT_EXPIRY seconds once ready."""

    public_id = models.CharField(max_length=PUBLIC_ID_LENGTH, unique=True,
                                 default=new_public_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="zip_exports")
    files = models.ManyToManyField(File, related_name="+")
    state = models.CharField(max_length=8, choices=ExportState, default=ExportState.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    files_total = models.PositiveIntegerField(default=0)
    bytes_total = models.PositiveBigIntegerField(default=0)
    # The build_zip task's result id: its progress is the page's.
    task_id = models.CharField(max_length=64, blank=True)
    # No longer written (the task's progress replaced them). Kept one release, because
    # during a rolling deploy the nodes of the release before still read them: remove them
    # in the next.
    files_done = models.PositiveIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    key = models.CharField("zip's key", max_length=255, blank=True)
    zip_size = models.PositiveBigIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True, help_text="Why it failed.")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"zip of {self.files_total} file(s)"

    def get_absolute_url(self):
        return reverse("exports:detail", args=[self.public_id])

    @property
    def pending(self):
        return self.state in (ExportState.PENDING, ExportState.BUILDING)

    @property
    def expires_at(self):
        if self.ready_at is None:
            return None
        return self.ready_at + timedelta(seconds=settings.STRATUS_EXPORT_EXPIRY)

    def download_name(self):
        return f"stratus-{self.created_at:%Y-%m-%d}-{self.public_id[:6]}.zip"
