"""Who may reach what: anonymous users log in first; another user's file is a 404."""

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from apps.library.models import PUBLIC_ID_LENGTH, File

from .helpers import object_exists

pytestmark = pytest.mark.django_db

FILE_URLS = ["library:detail", "library:download", "library:delete"]
#: A well-formed public id that no file has.
NOBODYS_ID = "A" * PUBLIC_ID_LENGTH


@pytest.mark.parametrize("url", [
    reverse("library:list"),
    reverse("library:upload"),
    *(reverse(name, args=[NOBODYS_ID]) for name in FILE_URLS),
])
def test_anonymous_users_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{resolve_url(settings.LOGIN_URL)}?next={url}"


def test_anonymous_upload_stores_nothing(client):
    response = client.post(reverse("library:upload"), {"title": "x"})
    assert response.status_code == 302
    assert not File.objects.exists()


@pytest.mark.parametrize("name", FILE_URLS)
def test_another_users_file_is_not_found(other_client, stored_file, name):
    assert other_client.get(reverse(name, args=[stored_file.public_id])).status_code == 404


def test_another_user_cannot_delete_a_file(other_client, stored_file, s3):
    response = other_client.post(reverse("library:delete", args=[stored_file.public_id]))
    assert response.status_code == 404
    assert File.objects.filter(pk=stored_file.pk).exists()
    assert object_exists(s3, stored_file.file.name)


def test_the_owner_sees_the_detail_page(user_client, stored_file):
    response = user_client.get(reverse("library:detail", args=[stored_file.public_id]))
    assert response.status_code == 200
    assert stored_file.original_name.encode() in response.content
