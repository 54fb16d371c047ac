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


def test_adding_files_in_the_admin_is_the_uploader_for_a_named_owner(admin_client):
    page = admin_client.get(reverse("admin:library_file_add"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="uploader"' in html and 'data-owner-field="upload-owner"' in html
    assert "connect-src 'self' http://" in page["Content-Security-Policy"]


def test_staff_without_the_add_permission_cannot_open_the_uploader(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:library_file_add")).status_code == 403
