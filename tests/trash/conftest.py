"""Fixtures for the trash: the library's users and files, and a file already trashed."""

import pytest
from django.urls import reverse

from apps.library.models import File
from tests.library.conftest import other_client, other_user, s3, stored_file, user, user_client  # noqa: F401


@pytest.fixture
def trashed_file(user_client, stored_file):
    """`stored_file`, deleted through its page: in the trash."""
    user_client.post(reverse("library:delete", args=[stored_file.public_id]))
    return File.objects.get(pk=stored_file.pk)
