"""Renaming a file and editing its title, from its page: the owner only, checked."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.library.models import File

from .helpers import presigned_query

pytestmark = pytest.mark.django_db


def edit_url(file):
    return reverse("library:edit", args=[file.public_id])


def rename(client, file, name, title=""):
    return client.post(edit_url(file), {"original_name": name, "title": title})


def test_the_file_page_links_to_renaming(user_client, stored_file):
    page = user_client.get(stored_file.get_absolute_url()).content.decode()
    assert f'href="{edit_url(stored_file)}">Rename</a>' in page


def test_the_edit_page_shows_the_current_name_and_title(user_client, stored_file):
    File.objects.filter(pk=stored_file.pk).update(title="Groceries")
    page = user_client.get(edit_url(stored_file)).content.decode()
    assert f'value="{stored_file.original_name}"' in page and 'value="Groceries"' in page


def test_the_owner_renames_a_file_and_goes_back_to_its_page(user_client, stored_file):
    response = rename(user_client, stored_file, "Shopping list.txt")
    assert response.status_code == 302 and response.url == stored_file.get_absolute_url()
    stored_file.refresh_from_db()
    assert stored_file.original_name == "Shopping list.txt"


def test_a_rename_keeps_the_stored_object_and_type(user_client, stored_file):
    key, content_type = stored_file.file.name, stored_file.content_type
    rename(user_client, stored_file, "renamed.csv")
    stored_file.refresh_from_db()
    assert (stored_file.file.name, stored_file.content_type) == (key, content_type)


def test_a_download_after_a_rename_carries_the_new_name(user_client, stored_file):
    rename(user_client, stored_file, "Résumé.txt")
    response = user_client.get(reverse("library:download", args=[stored_file.public_id]))
    disposition = presigned_query(response.url)["response-content-disposition"]
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9.txt" in disposition


def test_the_owner_sets_and_clears_a_title(user_client, stored_file):
    rename(user_client, stored_file, stored_file.original_name, title="  Weekly   shop ")
    stored_file.refresh_from_db()
    assert stored_file.title == "Weekly shop"
    assert str(stored_file) == "Weekly shop"
    rename(user_client, stored_file, stored_file.original_name, title="")
    stored_file.refresh_from_db()
    assert stored_file.title == ""


def test_saving_says_so(user_client, stored_file):
    response = rename(user_client, stored_file, "kept.txt", title="Kept")
    assert "Saved Kept." in user_client.get(response.url).content.decode()


@pytest.mark.parametrize(("name", "message"), [
    ("notes/evil.txt", "cannot hold a slash"),
    ("..\\evil.txt", "cannot hold a slash"),
    ("tab\there.txt", "cannot hold control characters"),
    ("bidi\u202egnp.txt", "cannot hold control characters"),
    ("..", "other than “.” or “..”"),
    ("", "This field is required."),
    ("   ", "This field is required."),
    ("é" * 128 + ".txt", "at most 255 bytes"),
], ids=["slash", "backslash", "tab", "bidi-override", "dots", "empty", "spaces", "too-long"])
def test_a_bad_name_is_refused_with_a_reason(user_client, stored_file, name, message):
    before = stored_file.original_name
    response = rename(user_client, stored_file, name)
    assert response.status_code == 200
    assert message in response.content.decode()
    stored_file.refresh_from_db()
    assert stored_file.original_name == before


def test_a_name_of_255_bytes_is_kept(user_client, stored_file):
    name = "é" * 125 + ".txt"  # 250 + 4 bytes
    rename(user_client, stored_file, name)
    stored_file.refresh_from_db()
    assert stored_file.original_name == name


def test_a_title_over_200_characters_is_refused(user_client, stored_file):
    response = rename(user_client, stored_file, "ok.txt", title="t" * 201)
    assert response.status_code == 200
    assert "at most 200 characters" in response.content.decode()


def test_another_users_file_cannot_be_edited(other_client, stored_file):
    assert other_client.get(edit_url(stored_file)).status_code == 404
    assert rename(other_client, stored_file, "mine now.txt").status_code == 404
    stored_file.refresh_from_db()
    assert stored_file.original_name != "mine now.txt"


def test_editing_needs_a_log_in(client, stored_file):
    client.logout()
    response = rename(client, stored_file, "anon.txt")
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_an_edit_without_the_csrf_token_is_refused(user, stored_file):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert rename(client, stored_file, "forged.txt").status_code == 403
