"""Admin anchors for background tasks: no tables, no rows.

Task results live in SimpleDB, queues and dead letters in SQS and schedules in the settings,
not in the database. These unmanaged models exist so that the Django admin can list the task
pages on its index, and so that permissions can be granted for them like for any model:
`view` to look, `change` to re-enqueue a result or redrive a dead letter, `delete` to delete
a dead letter. Nothing ever queries them; their ModelAdmins (storage_backends/tasks/
admin_views.py, storage_backends/tasks/schedules/admin_views.py) replace every view.
"""

from django.db import models


class TaskResultRecord(models.Model):
    """A task result in the results domain of an SQSBackend."""

    id = models.CharField(primary_key=True, max_length=64)

    class Meta:
        managed = False
        default_permissions = ("view", "change")
        verbose_name = "task result"
        verbose_name_plural = "task results"

    def __str__(self):
        return self.id


class TaskQueue(models.Model):
    """An SQS queue of an SQSBackend, with its dead-letter queue."""

    name = models.CharField(primary_key=True, max_length=80)

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "task queue"
        verbose_name_plural = "task queues"

    def __str__(self):
        return self.name


class DeadLetter(models.Model):
    """A message in a dead-letter queue of an SQSBackend."""

    message_id = models.CharField(primary_key=True, max_length=100)

    class Meta:
        managed = False
        default_permissions = ("view", "change", "delete")
        verbose_name = "dead letter"
        verbose_name_plural = "dead letters"

    def __str__(self):
        return self.message_id


class TaskSchedule(models.Model):
    """A periodic task in the SCHEDULES of an SQSBackend (docs/tasks.md, "Periodic tasks")."""

    name = models.CharField(primary_key=True, max_length=100)

    class Meta:
        managed = False
        default_permissions = ("view",)
        verbose_name = "task schedule"
        verbose_name_plural = "task schedules"

    def __str__(self):
        return self.name
