"""Files are named in URLs by an unguessable public id, never by their sequential pk."""

import base64
import re

import pytest
from django.urls import reverse

from apps.library.models import PUBLIC_ID_LENGTH, File

from .helpers import make_rows, upload

pytestmark = pytest.mark.django_db

FILE_URLS = ["library:detail", "library:download", "library:delete"]
#: A library URL that names a file by a number.
INTEGER_FILE_URL = re.compile(r"/library/\d+/")


def test_a_new_file_gets_128_random_bits_as_its_public_id(stored_file):
    assert re.fullmatch(rf"[A-Za-z0-9_-]{{{PUBLIC_ID_LENGTH}}}", stored_file.public_id)
    assert len(base64.urlsafe_b64decode(stored_file.public_id + "==")) == 16


def test_every_file_gets_its_own_public_id(user):
    rows = make_rows(user, 200)
    assert len({row.public_id for row in rows}) == 200


def test_consecutive_uploads_get_unrelated_ids(user_client):
    upload(user_client, "a.txt", b"a")
    upload(user_client, "b.txt", b"b")
    first, second = File.objects.order_by("pk")
    assert first.public_id[:8] != second.public_id[:8]


def test_the_upload_redirects_to_the_public_id(user_client):
    response = upload(user_client, "notes.txt", b"hello")
    file = File.objects.get()
    assert response.url == f"/library/{file.public_id}/"


@pytest.mark.parametrize("name", FILE_URLS)
def test_file_urls_carry_the_public_id_and_no_integer(stored_file, name):
    url = reverse(name, args=[stored_file.public_id])
    assert stored_file.public_id in url
    assert not re.search(r"/\d+/", url)


def test_the_pages_link_to_no_integer_file_url(user_client, stored_file):
    pages = [user_client.get(reverse("library:list")),
             user_client.get(stored_file.get_absolute_url()),
             user_client.get(reverse("library:delete", args=[stored_file.public_id]))]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert stored_file.public_id in html
        assert not INTEGER_FILE_URL.search(html)


@pytest.mark.parametrize("suffix", ["", "download/", "delete/"])
def test_the_owners_file_by_its_integer_id_is_not_found(user_client, stored_file, suffix):
    assert user_client.get(f"/library/{stored_file.pk}/{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", ["", "download/", "delete/"])
def test_the_next_integer_id_is_not_found(user_client, stored_file, suffix):
    assert user_client.get(f"/library/{stored_file.pk + 1}/{suffix}").status_code == 404


@pytest.mark.parametrize("name", FILE_URLS)
def test_a_guessed_well_formed_id_is_not_found(user_client, stored_file, name):
    guess = "A" * PUBLIC_ID_LENGTH
    assert user_client.get(reverse(name, args=[guess])).status_code == 404


def test_a_post_to_an_integer_delete_url_deletes_nothing(user_client, stored_file):
    response = user_client.post(f"/library/{stored_file.pk}/delete/")
    assert response.status_code == 404
    assert File.objects.filter(pk=stored_file.pk).exists()


def test_the_admin_finds_a_file_by_its_public_id(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_changelist"),
                                {"q": stored_file.public_id})
    assert list(response.context["cl"].result_list) == [stored_file]


def test_the_admin_shows_the_public_id_read_only(admin_client, stored_file):
    response = admin_client.get(reverse("admin:library_file_change", args=[stored_file.pk]))
    assert stored_file.public_id in response.content.decode()
    assert "public_id" not in response.context["adminform"].form.fields
