"""Background tasks in the Django admin: results, queues, dead letters and schedules.

The pages themselves are in storage_backends/tasks/admin_views.py (and
storage_backends/tasks/schedules/admin_views.py); the models are
unmanaged anchors (storage_backends/models.py) for the admin index and permissions.
"""

from django.contrib import admin

from .models import DeadLetter, TaskQueue, TaskResultRecord, TaskSchedule
from .tasks.admin_views import DeadLetterAdmin, TaskQueueAdmin, TaskResultAdmin
from .tasks.schedules.admin_views import TaskScheduleAdmin

admin.site.register(TaskResultRecord, TaskResultAdmin)
admin.site.register(TaskQueue, TaskQueueAdmin)
admin.site.register(DeadLetter, DeadLetterAdmin)
admin.site.register(TaskSchedule, TaskScheduleAdmin)
