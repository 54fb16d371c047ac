"""Fixtures for the library's tests: two users, their logged-in clients, the S3 client."""

import uuid

import pytest
from django.test import Client

from apps.library.models import File
from storage_backends import aws

from .helpers import upload


@pytest.fixture
def s3():
    """The project's boto3 S3 client, to check what really reached the bucket."""
    return aws.client("s3")


# No passwords: hashing one takes most of a second, and the clients log in by force_login.
@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob")


@pytest.fixture
def user_client(client, user):
    """The test client, logged in as `user`."""
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user):
    """A second client, logged in as `other_user`, beside `user_client`."""
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def stored_file(user_client):
    """A text file `user` uploaded through the form: its row, with its object in S3."""
    response = upload(user_client, f"notes-{uuid.uuid4().hex[:8]}.txt", b"hello, library\n")
    assert response.status_code == 302, response.content
    return File.objects.latest("pk")
