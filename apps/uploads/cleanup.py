"""Forgetting abandoned uploads: what `manage.py clearuploads` does.

S3's lifecycle rule (provision_aws) aborts multipart uploads a day after they began, so
their parts stop costing; this removes the records the site keeps for them, and the object
of a presigned POST that arrived but was never completed, which no rule would find.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .bucket import UploadBucket
from .models import PendingUpload

logger = logging.getLogger(__name__)


def clear_abandoned(now=None, bucket=None):
    """Abort and forget every upload issued more than STRATUS_UPLOAD_PENDING_EXPIRY seconds
    before `now`; how many were cleared. Each is cleared on its own: a failure on one
    stops nothing but the run, and the next run tries again."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.STRATUS_UPLOAD_PENDING_EXPIRY)
    bucket = bucket or UploadBucket()
    cleared = 0
    for pending in PendingUpload.objects.filter(created_at__lt=cutoff).iterator():
        pending.discard(bucket)
        logger.info("abandoned upload cleared key=%s owner=%s", pending.key, pending.owner_id)
        cleared += 1
    return cleared
