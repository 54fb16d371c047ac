"""The storage quota: files plus uploads under way count against STRATUS_USER_QUOTA_BYTES;
an upload that would pass it is refused before any byte is sent (the direct-upload API) or
before anything is stored (the plain form), with a message saying what is left."""

import json

import pytest
from django.urls import reverse

from apps.library.models import File
from apps.uploads.models import PendingUpload
from apps.uploads.quota import usage_of
from tests.library.helpers import make_rows
from tests.library.helpers import upload as form_upload

from .direct import create, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def quota(settings):
    """A quota of 1,000 bytes."""
    settings.STRATUS_USER_QUOTA_BYTES = 1000
    return 1000


def answer(response):
    return json.loads(response.content)


def fill(user, size):
    """One row of `size` bytes for `user` (no S3 object)."""
    [row] = make_rows(user, 1, prefix=f"filler-{size}")
    File.objects.filter(pk=row.pk).update(size=size)


def test_usage_counts_files_and_uploads_under_way(user, quota):
    fill(user, 300)
    PendingUpload.objects.create(owner=user, uploader=user, key="uploads/x/a", size=200,
                                 original_name="a")
    usage = usage_of(user)
    assert (usage.files, usage.pending, usage.used, usage.left) == (300, 200, 500, 500)


def test_other_users_files_do_not_count(user, other_user, quota):
    fill(other_user, 900)
    assert usage_of(user).used == 0


def test_an_upload_that_fits_exactly_is_issued(user_client, user, quota):
    fill(user, 600)
    assert create(user_client, "fits.bin", 400).status_code == 201


def test_an_upload_over_the_quota_is_refused_before_any_byte_is_sent(user_client, user,
                                                                     quota):
    fill(user, 600)
    response = create(user_client, "big.bin", 401)
    assert response.status_code == 400
    refused = answer(response)
    assert refused["code"] == "over_quota"
    assert refused["error"] == (
        "This file (401\xa0bytes) does not fit in your storage: you use 600\xa0bytes of "
        "1000\xa0bytes, so 400\xa0bytes is left. Delete some files to make room.")
    assert not PendingUpload.objects.exists()  # nothing issued: no URL to send bytes to


def test_uploads_under_way_hold_their_room(user_client, quota):
    assert create(user_client, "first.bin", 700).status_code == 201  # issued, not sent
    assert answer(create(user_client, "second.bin", 301))["code"] == "over_quota"


def test_a_published_upload_counts_once(user_client, user, quota):
    assert upload(user_client, "sent.bin", b"x" * 600).status_code == 201
    assert usage_of(user).used == 600
    assert answer(create(user_client, "more.bin", 401))["code"] == "over_quota"


def test_no_quota_when_the_setting_is_zero(user_client, user, settings):
    settings.STRATUS_USER_QUOTA_BYTES = 0
    fill(user, 10**12)
    assert create(user_client, "any.bin", 10**9).status_code == 201


def test_the_plain_form_refuses_a_file_over_the_quota_before_storing_it(user_client, user,
                                                                        quota, s3):
    fill(user, 990)
    response = form_upload(user_client, "eleven.txt", b"x" * 11)
    assert response.status_code == 200
    assert "does not fit in your storage" in response.content.decode()
    assert not File.objects.filter(original_name="eleven.txt").exists()


def test_the_plain_form_takes_a_file_that_fits(user_client, user, quota):
    fill(user, 990)
    assert form_upload(user_client, "ten.txt", b"x" * 10).status_code == 302


def test_the_list_shows_usage_of_the_quota_with_a_bar(user_client, user, quota):
    fill(user, 250)
    page = user_client.get(reverse("library:list")).content.decode()
    assert "250\xa0bytes of 1000\xa0bytes used" in page
    assert '<meter id="usage-meter" min="0" max="1000"' in page and 'value="250"' in page
    assert "750\xa0bytes left" in page


def test_without_a_quota_the_list_shows_only_the_bytes_used(user_client, user, settings):
    settings.STRATUS_USER_QUOTA_BYTES = 0
    fill(user, 250)
    page = user_client.get(reverse("library:list")).content.decode()
    assert "250\xa0bytes used" in page and "<meter" not in page


def test_the_upload_page_shows_what_is_left(user_client, user, quota):
    fill(user, 250)
    assert "750\xa0bytes left" in user_client.get(reverse("library:upload")).content.decode()
