"""Fixtures for share links: the library's users and files, and a link maker."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.sharing.models import ShareLink
from tests.library.conftest import other_client, other_user, s3, stored_file, user, user_client  # noqa: F401


@pytest.fixture
def visitor():
    """A client with no account: whoever a link was sent to."""
    return Client()


@pytest.fixture
def make_link(stored_file):
    """Make a link to `stored_file` directly: (link, token)."""
    def make(expires_in=timedelta(days=1), password="", file=None):
        return ShareLink.create(file or stored_file, timezone.now() + expires_in, password)

    return make
