"""The site's icon: linked from its pages, and at /favicon.ico for pages that name none."""

import pytest

from apps.ops.views import FAVICON_MAX_AGE

pytestmark = pytest.mark.django_db

ICO_HEADER = b"\x00\x00\x01\x00"


def test_favicon_ico_is_an_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/vnd.microsoft.icon"
    assert response.content.startswith(ICO_HEADER)


def test_favicon_ico_may_be_cached_by_browsers(client):
    cache_control = client.get("/favicon.ico")["Cache-Control"]
    assert "public" in cache_control and f"max-age={FAVICON_MAX_AGE}" in cache_control


def test_favicon_ico_answers_head(client):
    assert client.head("/favicon.ico").status_code == 200


def test_site_pages_link_the_icon_from_static_files(client):
    page = client.get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.ico">' in page


def test_the_linked_icon_is_served(client):
    response = client.get("/static/favicon.ico")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(ICO_HEADER)
