"""Deleting a file: confirmation first, then it moves to the trash (apps.trash), its row and
S3 object kept until the trash's cleanup purges them."""

import pytest
from django.urls import reverse

from apps.library.models import File

from .helpers import object_exists

pytestmark = pytest.mark.django_db


def delete(client, file, **kwargs):
    return client.post(reverse("library:delete", args=[file.public_id]), **kwargs)


def test_get_asks_for_confirmation_and_deletes_nothing(user_client, stored_file, s3):
    response = user_client.get(reverse("library:delete", args=[stored_file.public_id]))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    assert b"goes to the trash" in response.content
    assert File.objects.get(pk=stored_file.pk).deleted_at is None


def test_post_moves_the_file_to_the_trash(user_client, stored_file):
    delete(user_client, stored_file)
    assert File.objects.get(pk=stored_file.pk).deleted_at is not None


def test_post_keeps_the_s3_object_for_the_trash(user_client, stored_file, s3):
    delete(user_client, stored_file)
    assert object_exists(s3, stored_file.file.name)


def test_post_redirects_to_the_list_with_a_message(user_client, stored_file):
    response = delete(user_client, stored_file, follow=True)
    assert response.redirect_chain == [(reverse("library:list"), 302)]
    assert f"Moved {stored_file} to the trash." in [str(m) for m in response.context["messages"]]


def test_a_trashed_file_leaves_the_list(user_client, stored_file):
    delete(user_client, stored_file)
    response = user_client.get(reverse("library:list"))
    assert stored_file not in response.context["page_obj"].object_list


@pytest.mark.parametrize("name", ["library:detail", "library:download", "library:preview",
                                  "library:delete"])
def test_a_trashed_files_pages_are_not_found(user_client, stored_file, name):
    delete(user_client, stored_file)
    assert user_client.get(reverse(name, args=[stored_file.public_id])).status_code == 404


def test_deleting_a_row_deletes_its_s3_object(stored_file, s3):
    stored_file.delete()
    assert not object_exists(s3, stored_file.file.name)


def test_deleting_the_owner_deletes_their_objects(stored_file, s3):
    stored_file.owner.delete()
    assert not object_exists(s3, stored_file.file.name)
