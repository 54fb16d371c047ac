"""The shared page: anyone with the link, logged out, sees the file and downloads it."""

from datetime import timedelta

import pytest

from apps.sharing.models import ShareLink
from tests.library.helpers import fetch, is_presigned

from .helpers import shared_url

pytestmark = pytest.mark.django_db


def test_the_page_shows_the_file_to_a_logged_out_visitor(visitor, make_link, stored_file):
    _, token = make_link()
    response = visitor.get(shared_url(token))
    assert response.status_code == 200
    assert stored_file.original_name.encode() in response.content
    assert b"<button" in response.content and b"Download" in response.content


def test_the_page_is_never_cached_nor_indexed(visitor, make_link):
    _, token = make_link()
    response = visitor.get(shared_url(token))
    assert "no-store" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_page_lets_its_form_go_to_the_media_origin(visitor, make_link, settings):
    _, token = make_link()
    policy = visitor.get(shared_url(token))["Content-Security-Policy"]
    form_action = next(part for part in policy.split(";") if "form-action" in part)
    assert settings.AWS_ENDPOINT_URLS["s3"].rstrip("/") in form_action


def test_downloading_redirects_to_a_presigned_url_of_the_bytes(visitor, make_link):
    _, token = make_link()
    response = visitor.post(shared_url(token))
    assert response.status_code == 303
    assert is_presigned(response.url)
    status, _, body = fetch(response.url)
    assert (status, body) == (200, b"hello, library\n")


def test_a_download_is_counted(visitor, make_link):
    link, token = make_link()
    visitor.post(shared_url(token))
    visitor.post(shared_url(token))
    link.refresh_from_db()
    assert link.download_count == 2
    assert link.last_download_at is not None


def test_viewing_the_page_counts_nothing(visitor, make_link):
    link, token = make_link()
    visitor.get(shared_url(token))
    link.refresh_from_db()
    assert link.download_count == 0 and link.last_download_at is None


def test_an_unknown_token_is_a_404_that_names_nothing(visitor, make_link, stored_file):
    make_link()
    response = visitor.get(shared_url("A" * 43))
    assert response.status_code == 404
    assert stored_file.original_name.encode() not in response.content
    assert b"No such link" in response.content


def test_a_malformed_token_is_a_404(visitor):
    assert visitor.get("/s/short/").status_code == 404


def test_an_expired_link_is_a_410_that_names_nothing(visitor, make_link, stored_file):
    _, token = make_link(expires_in=timedelta(seconds=-1))
    response = visitor.get(shared_url(token))
    assert response.status_code == 410
    assert stored_file.original_name.encode() not in response.content
    assert b"This link no longer works" in response.content


def test_an_expired_link_downloads_nothing(visitor, make_link):
    link, token = make_link(expires_in=timedelta(seconds=-1))
    response = visitor.post(shared_url(token))
    assert response.status_code == 410
    link.refresh_from_db()
    assert link.download_count == 0


def test_a_link_revoked_after_the_page_was_read_counts_nothing(make_link):
    link, _ = make_link()
    ShareLink.objects.filter(pk=link.pk).update(revoked_at=link.created_at)
    assert link.count_download() is False
    link.refresh_from_db()
    assert link.download_count == 0


def test_a_link_to_a_trashed_file_is_a_410(visitor, make_link, user_client, stored_file):
    from django.urls import reverse

    _, token = make_link()
    user_client.post(reverse("library:delete", args=[stored_file.public_id]))
    response = visitor.get(shared_url(token))
    assert response.status_code == 410
    assert stored_file.original_name.encode() not in response.content
    assert visitor.post(shared_url(token)).status_code == 410


def test_a_restored_files_link_works_again(visitor, make_link, user_client, stored_file):
    from django.urls import reverse

    _, token = make_link()
    user_client.post(reverse("library:delete", args=[stored_file.public_id]))
    user_client.post(reverse("trash:restore", args=[stored_file.public_id]))
    assert visitor.post(shared_url(token)).status_code == 303
