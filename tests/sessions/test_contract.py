"""Session engines against the contract every Django session engine keeps."""

import pytest
from django.contrib.sessions.backends.cache import SessionStore as DjangoCacheSessionStore

from storage_backends.dynamodb.sessions import SessionStore as DynamoDBSessionStore
from storage_backends.simpledb.sessions import SessionStore

from .contract import SessionBackendContract


class TestSimpleDBSessionStore(SessionBackendContract):
    backend = SessionStore


@pytest.mark.usefixtures("dynamodb_sessions_table")
class TestDynamoDBSessionStore(SessionBackendContract):
    backend = DynamoDBSessionStore


class TestDjangoCacheSessionStore(SessionBackendContract):
    """Django's own cache engine (on LocMemCache): checks the contract tests themselves."""

    backend = DjangoCacheSessionStore
