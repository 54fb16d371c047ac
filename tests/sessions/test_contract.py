"""Session engines against the contract every Django session engine keeps."""

from django.contrib.sessions.backends.cache import SessionStore as DjangoCacheSessionStore

from storage_backends.simpledb.sessions import SessionStore

from .contract import SessionBackendContract


class TestSimpleDBSessionStore(SessionBackendContract):
    backend = SessionStore


class TestDjangoCacheSessionStore(SessionBackendContract):
    """Django's own cache engine (on LocMemCache): checks the contract tests themselves."""

    backend = DjangoCacheSessionStore
