"""Fixtures for zip exports: the library's users, clients and S3 client."""

from tests.library.conftest import other_client, other_user, s3, stored_file, user, user_client  # noqa: F401
