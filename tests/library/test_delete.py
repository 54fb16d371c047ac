"""Deleting a file: confirmation first, then the row and its S3 object go together."""

import pytest
from django.urls import reverse

from apps.library.models import File

from .helpers import object_exists

pytestmark = pytest.mark.django_db


def test_get_asks_for_confirmation_and_deletes_nothing(user_client, stored_file, s3):
    response = user_client.get(reverse("library:delete", args=[stored_file.public_id]))
    assert response.status_code == 200
    assert b'<form method="post">' in response.content
    assert File.objects.filter(pk=stored_file.pk).exists()
    assert object_exists(s3, stored_file.file.name)


def test_post_deletes_the_row(user_client, stored_file):
    user_client.post(reverse("library:delete", args=[stored_file.public_id]))
    assert not File.objects.filter(pk=stored_file.pk).exists()


def test_post_deletes_the_s3_object(user_client, stored_file, s3):
    user_client.post(reverse("library:delete", args=[stored_file.public_id]))
    assert not object_exists(s3, stored_file.file.name)


def test_post_redirects_to_the_list_with_a_message(user_client, stored_file):
    response = user_client.post(reverse("library:delete", args=[stored_file.public_id]), follow=True)
    assert response.redirect_chain == [(reverse("library:list"), 302)]
    assert f"Deleted {stored_file}." in [str(m) for m in response.context["messages"]]


def test_deleting_the_owner_deletes_their_objects(stored_file, s3):
    stored_file.owner.delete()
    assert not object_exists(s3, stored_file.file.name)
