"""Fixtures for the accounts tests: clean caches, fast hashing, a user, a log-in helper."""

import pytest
from django.conf import settings
from django.core.cache import caches
from django.urls import reverse

USERNAME = "alice"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def clear_cache():
    """Log-in counters live in their own cache: no test may see another's."""
    for alias in ("default", settings.AXES_CACHE):
        caches[alias].clear()
    yield
    for alias in ("default", settings.AXES_CACHE):
        caches[alias].clear()


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


#: The limits the throttle tests run with (small, so that tests stay quick).
PAIR_LIMIT = 3
ADDRESS_LIMIT = 6
WINDOW = 900


@pytest.fixture
def login_limits():
    """The throttle with PAIR_LIMIT, ADDRESS_LIMIT and WINDOW, and the site's own after.

    The handler reads its limits once, when axes makes it; so it is made again on both
    sides of the override.
    """
    from axes.handlers.proxy import AxesProxyHandler
    from django.test import override_settings

    with override_settings(STRATUS_LOGIN_ATTEMPTS=PAIR_LIMIT,
                           STRATUS_LOGIN_ADDRESS_ATTEMPTS=ADDRESS_LIMIT,
                           STRATUS_LOGIN_WINDOW=WINDOW):
        AxesProxyHandler.get_implementation(force=True)
        yield
    AxesProxyHandler.get_implementation(force=True)


@pytest.fixture
def admin_log_in(client):
    """POST the admin's log-in form, as log_in does the site's."""
    def post(username=USERNAME, password=PASSWORD, **extra):
        extra.setdefault("REMOTE_ADDR", "198.51.100.1")
        return client.post(reverse("admin:login"),
                           {"username": username, "password": password, "next": "/admin/"},
                           **extra)
    return post


def is_locked_out(response):
    """Whether the response is the site's lock-out page."""
    return response.status_code == 429 and \
        "registration/locked_out.html" in [t.name for t in response.templates]


def fail(log_in, times, **kwargs):
    """`times` failed log-ins (wrong password unless told), each answered as a failure."""
    kwargs.setdefault("password", "wrong")
    for _ in range(times):
        response = log_in(**kwargs)
        assert response.status_code in (200, 429), response.status_code
