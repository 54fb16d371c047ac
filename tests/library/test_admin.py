"""Files in the Django admin, for a superuser."""

import html
import re

import pytest
from django.urls import reverse

from .helpers import is_presigned

pytestmark = pytest.mark.django_db


def download_links(response):
    """The presigned URLs the page links to as "Download"."""
    links = re.findall(r'<a href="([^"]+)">Download</a>', response.content.decode())
    links = [html.unescape(link) for link in links]
    assert all(is_presigned(link) for link in links)
    return links


def test_the_changelist_lists_files_with_download_links(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_changelist"))
    assert response.status_code == 200
    assert stored_file.original_name.encode() in response.content
    assert [link for link in download_links(response) if stored_file.file.name in link]


def test_the_changelist_shows_sizes_in_human_units(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_changelist"))
    assert "15\xa0bytes" in response.content.decode()


def test_the_changelist_filters_by_owner(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_changelist"),
                                {"owner__id__exact": stored_file.owner_id})
    assert response.context["cl"].result_count == 1


def test_the_changelist_searches_names(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_changelist"), {"q": "no-such-name"})
    assert response.context["cl"].result_count == 0


def test_the_change_page_renders_with_a_download_link(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_change", args=[stored_file.pk]))
    assert response.status_code == 200
    [link] = download_links(response)
    assert stored_file.file.name in link


def test_files_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:library_file_add")).status_code == 403
