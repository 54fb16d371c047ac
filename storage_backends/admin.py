"""Background tasks in the Django admin: results, queues and dead letters.

The pages themselves are in storage_backends/tasks/admin_views.py; the models are
unmanaged anchors (storage_backends/models.py) for the admin index and permissions.
"""

from django.contrib import admin

from .models import DeadLetter, TaskQueue, TaskResultRecord
from .tasks.admin_views import DeadLetterAdmin, TaskQueueAdmin, TaskResultAdmin

admin.site.register(TaskResultRecord, TaskResultAdmin)
admin.site.register(TaskQueue, TaskQueueAdmin)
admin.site.register(DeadLetter, DeadLetterAdmin)
