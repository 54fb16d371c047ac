"""Fixtures for direct uploads: the library's users and clients, and a low multipart
threshold so that multipart uploads need only a few MiB."""

import pytest

from tests.library.conftest import (other_client, other_user, s3,  # noqa: F401
                                    user, user_client)

MIB = 1024 * 1024


@pytest.fixture
def multipart_everything(settings):
    """Every upload is multipart (threshold 0): parts of 8 MiB, the smallest we cut."""
    settings.STRATUS_UPLOAD_MULTIPART_THRESHOLD = 0
