"""The trash's cleanup as a task any worker runs: the site's schedule sends it daily
(settings.TASKS SCHEDULES), and the "Empty trash" button sends it for one user."""

import logging

from django.tasks import task

from apps.library.tasks import ENQUEUE_ERRORS

from .purge import purge_due

logger = logging.getLogger(__name__)


@task
def purge_trash(owner_id=None):
    """Purge the files trashed longer than STRATUS_TRASH_DAYS (of one user, if given);
    returns how many went. Idempotent: a second delivery finds nothing more to do."""
    return purge_due(owner_id)


def enqueue_purge(owner_id):
    """Send purge_trash for one user; an outage is logged, not raised: the daily cleanup
    purges what it leaves."""
    try:
        purge_trash.enqueue(owner_id)
    except ENQUEUE_ERRORS:
        logger.exception("trash purge not enqueued owner=%s", owner_id)
