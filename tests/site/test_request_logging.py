"""A refused request is logged once, not once per handler Django's default config adds."""

import io
import logging

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output(settings):
    """Everything the configured log handlers print, in one buffer, with DEBUG on (as under
    `make run`, where Django's own console handler is active)."""
    settings.DEBUG = True
    buffer = io.StringIO()
    handlers = {
        handler
        for logger in (logging.getLogger("django.request"), logging.getLogger("django"),
                       logging.getLogger())
        for handler in logger.handlers
        # pytest's capture handlers are not the site's output.
        if isinstance(handler, logging.StreamHandler)
        and not type(handler).__module__.startswith("_pytest")
    }
    streams = {handler: handler.stream for handler in handlers}
    for handler in handlers:
        handler.setStream(buffer)
    yield buffer
    for handler, stream in streams.items():
        handler.setStream(stream)


def lines_with(buffer, text):
    return [line for line in buffer.getvalue().splitlines() if text in line]


def test_a_404_is_logged_once(client, log_output):
    assert client.get("/no/such/page").status_code == 404
    assert len(lines_with(log_output, "Not Found: /no/such/page")) == 1


def test_a_403_is_logged_once(client, log_output):
    client = type(client)(enforce_csrf_checks=True)
    assert client.post("/accounts/login/", {"username": "a", "password": "b"}).status_code == 403
    assert len(lines_with(log_output, "Forbidden (CSRF cookie not set.): /accounts/login/")) == 1
