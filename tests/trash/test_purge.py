"""The trash's cleanup (manage.py empty_trash, the purge_trash task): files trashed longer
than STRATUS_TRASH_DAYS lose their rows and S3 objects, in the local S3; run again, nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.library.models import File
from apps.trash.purge import purge_due
from apps.trash.tasks import purge_trash
from tests.library.helpers import object_exists

pytestmark = pytest.mark.django_db


def age(file, days, seconds=0):
    """Say `file` was trashed `days` days (and `seconds`) ago."""
    File.objects.filter(pk=file.pk).update(
        deleted_at=timezone.now() - timedelta(days=days, seconds=seconds))


@pytest.fixture
def with_preview(trashed_file, s3):
    """`trashed_file` with a thumbnail object under previews/."""
    key = f"previews/{trashed_file.public_id}-test.webp"
    s3.put_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key, Body=b"RIFF-webp")
    File.objects.filter(pk=trashed_file.pk).update(preview_key=key)
    return File.objects.get(pk=trashed_file.pk)


def test_a_file_past_the_limit_is_purged_with_its_objects(with_preview, s3):
    age(with_preview, settings.STRATUS_TRASH_DAYS, seconds=1)
    assert purge_due() == 1
    assert not File.objects.filter(pk=with_preview.pk).exists()
    assert not object_exists(s3, with_preview.file.name)
    assert not object_exists(s3, with_preview.preview_key)


def test_a_file_within_the_limit_is_kept(trashed_file, s3):
    age(trashed_file, settings.STRATUS_TRASH_DAYS - 1)
    assert purge_due() == 0
    assert File.objects.filter(pk=trashed_file.pk).exists()
    assert object_exists(s3, trashed_file.file.name)


def test_a_file_in_the_library_is_never_purged(stored_file, s3):
    assert purge_due() == 0
    assert object_exists(s3, stored_file.file.name)


def test_the_limit_is_a_setting(trashed_file, settings):
    settings.STRATUS_TRASH_DAYS = 2
    age(trashed_file, 2, seconds=1)
    assert purge_due() == 1


def test_purging_twice_is_harmless(trashed_file):
    age(trashed_file, settings.STRATUS_TRASH_DAYS, seconds=1)
    assert purge_due() == 1
    assert purge_due() == 0


def test_an_object_already_gone_is_no_error(trashed_file, s3):
    s3.delete_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=trashed_file.file.name)
    age(trashed_file, settings.STRATUS_TRASH_DAYS, seconds=1)
    assert purge_due() == 1


def test_purging_takes_the_files_share_links(trashed_file):
    from apps.sharing.models import ShareLink

    ShareLink.create(trashed_file, timezone.now() + timedelta(days=1))
    age(trashed_file, settings.STRATUS_TRASH_DAYS, seconds=1)
    purge_due()
    assert not ShareLink.objects.exists()


def test_the_command_purges_and_says_how_many(trashed_file):
    age(trashed_file, settings.STRATUS_TRASH_DAYS, seconds=1)
    out = StringIO()
    call_command("empty_trash", stdout=out)
    assert out.getvalue().strip() == "Purged 1 file(s) from the trash."


@pytest.mark.django_db(transaction=True)  # the worker's threads read committed rows
def test_the_task_purges_on_a_worker(tasks, run_worker, trashed_file, s3):
    age(trashed_file, settings.STRATUS_TRASH_DAYS, seconds=1)
    result = purge_trash.enqueue()
    run_worker()
    result.refresh()
    assert (result.status, result.return_value) == ("SUCCESSFUL", 1)
    assert not object_exists(s3, trashed_file.file.name)


@pytest.mark.django_db(transaction=True)  # the worker's threads read committed rows
def test_the_command_can_send_the_task(tasks, run_worker, trashed_file):
    age(trashed_file, settings.STRATUS_TRASH_DAYS, seconds=1)
    call_command("empty_trash", "--enqueue", stdout=StringIO())
    run_worker()
    assert not File.objects.filter(pk=trashed_file.pk).exists()
