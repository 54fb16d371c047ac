"""Deleting several files at once from the list: tick them, confirm them by name, and each
is deleted as its own page would delete it (row and S3 object). The owner's files only."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from apps.library import views
from apps.library.models import File

from .helpers import object_exists, upload

pytestmark = pytest.mark.django_db

BULK = reverse("library:bulk_delete")


def stored(client, name):
    response = upload(client, f"{uuid.uuid4().hex[:6]}-{name}", b"some bytes\n")
    assert response.status_code == 302, response.content
    return File.objects.latest("pk")


@pytest.fixture
def three(user_client):
    return [stored(user_client, f"file-{i}.txt") for i in range(3)]


def test_the_list_has_a_box_per_file_and_one_delete_button(user_client, three):
    page = user_client.get(reverse("library:list")).content.decode()
    for file in three:
        assert f'name="files" value="{file.public_id}" form="bulk-form"' in page
    assert f'<form id="bulk-form" method="post" action="{BULK}"' in page
    assert "Delete selected" in page and "csrfmiddlewaretoken" in page


def test_the_first_post_asks_to_confirm_the_files_by_name(user_client, three):
    response = user_client.post(BULK, {"files": [three[0].public_id, three[1].public_id]})
    page = response.content.decode()
    assert response.status_code == 200 and "Delete 2 files?" in page
    listed = page.split('<ul class="file-names">')[1].split("</ul>")[0]
    assert three[0].original_name in listed and three[1].original_name in listed
    assert three[2].original_name not in listed
    assert File.objects.count() == 3


def test_confirming_moves_the_files_to_the_trash_keeping_their_objects(user_client, three,
                                                                       s3):
    chosen = three[:2]
    response = user_client.post(BULK, {"files": [f.public_id for f in chosen], "confirm": "1"})
    assert response.status_code == 302 and response.url == reverse("library:list")
    assert list(File.objects.live()) == [three[2]]
    assert sorted(f.pk for f in File.objects.trashed()) == sorted(f.pk for f in chosen)
    assert all(object_exists(s3, f.file.name) for f in chosen)  # until the trash is emptied
    assert "Moved 2 files to the trash." in user_client.get(response.url).content.decode()


def test_each_file_goes_through_the_single_delete_path(user_client, three, monkeypatch):
    deleted = []
    real = views.delete_file
    monkeypatch.setattr(views, "delete_file", lambda file: (deleted.append(file), real(file)))
    user_client.post(BULK, {"files": [f.public_id for f in three], "confirm": "1"})
    user_client.post(reverse("library:delete", args=[stored(user_client, "one.txt").public_id]))
    assert len(deleted) == 4


def test_another_users_files_are_ignored(user_client, other_client, three):
    theirs = stored(other_client, "theirs.txt")
    response = other_client.post(BULK, {"files": [three[0].public_id, theirs.public_id],
                                        "confirm": "1"})
    assert response.status_code == 302
    assert File.objects.live().filter(pk=three[0].pk).exists()
    assert not File.objects.live().filter(pk=theirs.pk).exists()


def test_nothing_selected_says_so(user_client, three):
    response = user_client.post(BULK, {"confirm": "1"}, follow=True)
    assert "No files were selected" in response.content.decode()
    assert File.objects.count() == 3


def test_unknown_ids_alone_count_as_nothing_selected(user_client, three):
    response = user_client.post(BULK, {"files": ["x" * 22], "confirm": "1"}, follow=True)
    assert "No files were selected" in response.content.decode()


def test_more_than_the_limit_is_a_400(user_client, three):
    ids = [three[0].public_id] * (views.MAX_BULK + 1)
    assert user_client.post(BULK, {"files": ids}).status_code == 400


def test_only_post_is_accepted(user_client):
    assert user_client.get(BULK).status_code == 405


def test_bulk_delete_needs_a_log_in(three):
    response = Client().post(BULK, {"files": [three[0].public_id], "confirm": "1"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert File.objects.count() == 3


def test_bulk_delete_without_the_csrf_token_is_refused(user, three):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(BULK, {"files": [three[0].public_id], "confirm": "1"})
    assert response.status_code == 403
    assert File.objects.count() == 3
