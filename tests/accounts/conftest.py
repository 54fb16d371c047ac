"""Fixtures for the accounts tests: a clean cache, fast hashing, a user, a log-in helper."""

import pytest
from django.core.cache import cache
from django.urls import reverse

USERNAME = "alice"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def clear_cache():
    """Log-in counters live in the cache: no test may see another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The default hasher takes a good part of a second per log-in, on purpose; not here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(django_user_model):
    """alice, with PASSWORD."""
    return django_user_model.objects.create_user(username=USERNAME, password=PASSWORD)


@pytest.fixture
def log_in(client):
    """POST the log-in form: log_in(username, password, REMOTE_ADDR=..., HTTP_...=...)."""
    def post(username=USERNAME, password=PASSWORD, **extra):
        extra.setdefault("REMOTE_ADDR", "198.51.100.1")
        return client.post(reverse("login"), {"username": username, "password": password},
                           **extra)
    return post


def is_authenticated(client):
    """Whether the client's session is logged in."""
    return "_auth_user_id" in client.session


def form_errors(response):
    """All the errors of the response's form, as one list of strings."""
    return [message for messages in response.context["form"].errors.values()
            for message in messages]
