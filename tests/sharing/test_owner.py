"""The owner's view of their links: listed on the file page, with counts, and revocable."""

import pytest
from django.urls import reverse

from apps.sharing.models import ShareLink

from .helpers import shared_url

pytestmark = pytest.mark.django_db


def revoke_url(link):
    return reverse("sharing_owner:revoke", args=[link.file.public_id, link.public_id])


def test_the_file_page_lists_the_links(user_client, make_link, stored_file):
    link, _ = make_link()
    response = user_client.get(stored_file.get_absolute_url())
    assert list(response.context["links"]) == [link]
    assert f"/s/{link.token_hint}…".encode() in response.content


def test_the_file_page_shows_downloads_and_the_last_one(user_client, visitor, make_link,
                                                        stored_file):
    link, token = make_link()
    visitor.post(shared_url(token))
    link.refresh_from_db()
    content = user_client.get(stored_file.get_absolute_url()).content.decode()
    assert '<td data-label="Downloads" class="share-downloads">1</td>' in content
    assert link.last_download_at.strftime("%Y-%m-%d %H:%M") in content


def test_the_file_page_never_shows_a_whole_token(user_client, make_link, stored_file):
    _, token = make_link()
    assert token.encode() not in user_client.get(stored_file.get_absolute_url()).content


def test_the_file_page_says_when_there_are_no_links(user_client, stored_file):
    assert b"No share links yet." in user_client.get(stored_file.get_absolute_url()).content


def test_revoking_stops_the_link_at_once(user_client, visitor, make_link):
    link, token = make_link()
    response = user_client.post(revoke_url(link))
    assert response.status_code == 302 and response.url.endswith("#sharing")
    assert visitor.get(shared_url(token)).status_code == 410
    assert visitor.post(shared_url(token)).status_code == 410


def test_a_revoked_link_stays_listed_as_revoked(user_client, make_link, stored_file):
    link, _ = make_link()
    user_client.post(revoke_url(link))
    content = user_client.get(stored_file.get_absolute_url()).content
    assert b'class="share-link share-revoked"' in content


def test_revoking_needs_a_post(user_client, make_link):
    link, _ = make_link()
    assert user_client.get(revoke_url(link)).status_code == 405
    link.refresh_from_db()
    assert link.revoked_at is None


def test_no_one_else_can_revoke_a_users_link(other_client, make_link):
    link, _ = make_link()
    assert other_client.post(revoke_url(link)).status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_revoking_twice_keeps_the_first_time(user_client, make_link):
    link, _ = make_link()
    user_client.post(revoke_url(link))
    first = ShareLink.objects.get().revoked_at
    user_client.post(revoke_url(link))
    assert ShareLink.objects.get().revoked_at == first
