"""A link with a password: the file only for whoever types it, and guesses limited."""

import pytest

from .helpers import shared_url

pytestmark = pytest.mark.django_db

PASSWORD = "open sesame"


@pytest.fixture
def locked_link(make_link, settings):
    settings.STRATUS_LOGIN_ATTEMPTS = 3
    return make_link(password=PASSWORD)


def test_the_page_asks_for_the_password(visitor, locked_link):
    _, token = locked_link
    response = visitor.get(shared_url(token))
    assert b'type="password"' in response.content


def test_the_right_password_downloads_and_counts(visitor, locked_link):
    link, token = locked_link
    response = visitor.post(shared_url(token), {"password": PASSWORD})
    assert response.status_code == 303
    link.refresh_from_db()
    assert link.download_count == 1


def test_a_wrong_password_downloads_nothing(visitor, locked_link):
    link, token = locked_link
    response = visitor.post(shared_url(token), {"password": "guess"})
    assert response.status_code == 403
    assert b"That is not the link&#x27;s password." in response.content
    link.refresh_from_db()
    assert link.download_count == 0


def test_no_password_downloads_nothing(visitor, locked_link):
    _, token = locked_link
    assert visitor.post(shared_url(token)).status_code == 403


def test_guesses_past_the_limit_are_refused_unchecked(visitor, locked_link):
    _, token = locked_link
    for _ in range(3):
        assert visitor.post(shared_url(token), {"password": "guess"}).status_code == 403
    response = visitor.post(shared_url(token), {"password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many wrong passwords" in response.content


def test_the_limit_is_per_address(locked_link):
    from django.test import Client

    _, token = locked_link
    guesser, recipient = Client(REMOTE_ADDR="198.51.100.7"), Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        guesser.post(shared_url(token), {"password": "guess"})
    assert recipient.post(shared_url(token), {"password": PASSWORD}).status_code == 303


def test_the_limit_is_per_link(visitor, locked_link, make_link):
    _, token = locked_link
    _, other_token = make_link(password=PASSWORD)
    for _ in range(3):
        visitor.post(shared_url(token), {"password": "guess"})
    assert visitor.post(shared_url(other_token), {"password": PASSWORD}).status_code == 303


def test_the_right_password_clears_the_guesses(visitor, locked_link):
    _, token = locked_link
    for _ in range(2):
        visitor.post(shared_url(token), {"password": "guess"})
    visitor.post(shared_url(token), {"password": PASSWORD})
    for _ in range(2):
        visitor.post(shared_url(token), {"password": "guess"})
    assert visitor.post(shared_url(token), {"password": PASSWORD}).status_code == 303


def test_an_address_is_limited_across_links(visitor, make_link, settings):
    settings.STRATUS_LOGIN_ATTEMPTS = 3
    settings.STRATUS_LOGIN_ADDRESS_ATTEMPTS = 4
    tokens = [make_link(password=PASSWORD)[1] for _ in range(3)]
    for token in tokens[:2]:
        for _ in range(2):
            visitor.post(shared_url(token), {"password": "guess"})
    assert visitor.post(shared_url(tokens[2]), {"password": PASSWORD}).status_code == 429


def test_a_link_without_a_password_counts_no_guesses(visitor, make_link, settings):
    settings.STRATUS_LOGIN_ATTEMPTS = 1
    _, token = make_link()
    for _ in range(3):
        assert visitor.post(shared_url(token)).status_code == 303
