"""With S3 unreachable, the library answers with the 503 page and loses nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.library.models import File
from tests.fixtures.localaws import reset_aws_clients

pytestmark = pytest.mark.django_db


@pytest.fixture
def take_s3_down(settings):
    """Call it to point S3's endpoint at a port nothing listens on, for this test only."""
    def take_down():
        settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "s3": "http://127.0.0.1:9"}
        settings.AWS_MAX_ATTEMPTS = 1
        reset_aws_clients()

    yield take_down
    reset_aws_clients()


def test_upload_with_s3_down_is_the_503_page_and_stores_nothing(user_client, take_s3_down):
    take_s3_down()
    response = user_client.post("/library/upload/", {
        "file": SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"),
    })
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content
    assert File.objects.count() == 0


def test_delete_with_s3_down_still_moves_the_file_to_the_trash(user_client, stored_file,
                                                                take_s3_down):
    take_s3_down()
    response = user_client.post(f"/library/{stored_file.public_id}/delete/")
    assert response.status_code == 302
    assert File.objects.get(pk=stored_file.pk).deleted_at is not None


def test_a_purge_with_s3_down_keeps_the_file_for_the_next_run(user_client, stored_file,
                                                              take_s3_down, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.trash.purge import PurgeIncomplete, purge_due

    File.objects.filter(pk=stored_file.pk).update(
        deleted_at=timezone.now() - timedelta(days=settings.STRATUS_TRASH_DAYS + 1))
    take_s3_down()
    with pytest.raises(PurgeIncomplete):
        purge_due()
    assert File.objects.filter(pk=stored_file.pk).exists()
