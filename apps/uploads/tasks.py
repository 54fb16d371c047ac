"""Upload housekeeping as a task: the site's schedule runs it daily on a worker."""

from django.tasks import task

from .cleanup import clear_abandoned


@task
def clear_uploads():
    """What `manage.py clearuploads` does: abort and forget uploads left unfinished for
    STRATUS_UPLOAD_PENDING_EXPIRY seconds; returns how many were cleared."""
    return clear_abandoned()
