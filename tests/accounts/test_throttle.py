"""The throttle on its own: counting, expiry with the window, keys, client IP, messages."""

import types
import uuid

import pytest
from django.core.cache.backends import locmem
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from apps.accounts.forms import describe_seconds
from apps.accounts.throttle import LoginThrottle, client_ip, ip_key, username_key

WINDOW = 60


@pytest.fixture
def own_cache():
    """A LocMemCache of the test's own, so expiry does not depend on the site's cache."""
    return locmem.LocMemCache(f"throttle-{uuid.uuid4()}", {})


@pytest.fixture
def advance_cache_clock(monkeypatch):
    """Move LocMemCache's idea of now forward (expiry is checked against it), no sleeping."""
    import time
    offset = 0

    def advance(seconds):
        nonlocal offset
        offset += seconds
    monkeypatch.setattr(locmem, "time", types.SimpleNamespace(time=lambda: time.time() + offset))
    return advance


@pytest.fixture
def throttle(own_cache):
    return LoginThrottle(attempts=3, window=WINDOW, cache=own_cache)


def test_failures_are_counted_per_username_and_ip(throttle):
    assert throttle.record_failure("alice", "192.0.2.1") == (1, 1)
    assert throttle.record_failure("alice", "192.0.2.2") == (2, 1)
    assert throttle.record_failure("bob", "192.0.2.1") == (1, 2)


def test_locked_out_at_the_limit_and_not_before(throttle):
    for _ in range(2):
        throttle.record_failure("alice", "192.0.2.1")
    assert not throttle.is_locked_out("alice", "192.0.2.9")

    throttle.record_failure("alice", "192.0.2.1")

    assert throttle.is_locked_out("alice", "192.0.2.9")
    assert throttle.is_locked_out("bob", "192.0.2.1")
    assert not throttle.is_locked_out("bob", "192.0.2.9")


def test_unknown_ip_is_throttled_by_username_only(throttle):
    for failures in (1, 2, 3):
        assert throttle.record_failure("alice", None) == (failures, None)

    assert throttle.is_locked_out("alice", None)
    assert not throttle.is_locked_out("bob", None)


def test_lockout_lasts_until_the_window_after_the_first_failure(throttle, advance_cache_clock):
    throttle.record_failure("alice", "192.0.2.1")
    advance_cache_clock(WINDOW - 10)
    for _ in range(2):
        throttle.record_failure("alice", "192.0.2.1")
    assert throttle.is_locked_out("alice", "192.0.2.1")

    advance_cache_clock(10)

    assert not throttle.is_locked_out("alice", "192.0.2.1")
    assert throttle.record_failure("alice", "192.0.2.1") == (1, 1)


def test_clear_forgets_the_username_but_not_the_ip(throttle):
    for _ in range(3):
        throttle.record_failure("alice", "192.0.2.1")

    throttle.clear("ALICE")

    assert not throttle.is_locked_out("alice", "192.0.2.2")
    assert throttle.is_locked_out("alice", "192.0.2.1")


def test_username_keys_ignore_case_and_are_short_and_safe():
    long_unicode = "Ünïcødé user with spaces " * 20

    assert username_key("Alice") == username_key("alice") == username_key("ALICE")
    assert username_key(long_unicode) == username_key(long_unicode.upper())
    assert len(username_key(long_unicode)) < 100
    assert username_key(long_unicode).isascii() and " " not in username_key(long_unicode)
    assert username_key("alice") != ip_key("alice")


@pytest.mark.parametrize("attempts, window", [(0, 60), (3, 0), ("3", 60), (3, None), (True, 60)])
def test_bad_configuration_is_refused(own_cache, attempts, window):
    with pytest.raises(ImproperlyConfigured):
        LoginThrottle(attempts=attempts, window=window, cache=own_cache)


def request_from(remote_addr="10.0.0.1", forwarded_for=None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().post("/accounts/login/", **extra)


def test_client_ip_is_remote_addr_by_default():
    assert client_ip(request_from("10.0.0.1", "203.0.113.5")) == "10.0.0.1"


def test_client_ip_is_none_without_a_usable_remote_addr():
    assert client_ip(request_from("")) is None
    assert client_ip(request_from("unix:/run/gunicorn.sock")) is None


def test_client_ip_normalises_ipv6():
    assert client_ip(request_from("2001:DB8:0:0:0:0:0:1")) == "2001:db8::1"


@pytest.mark.parametrize("count, forwarded_for, expected", [
    (1, "203.0.113.5", "203.0.113.5"),                  # only the proxy's entry
    (1, "192.0.2.66, 203.0.113.5", "203.0.113.5"),      # forged entry left of it ignored
    (2, "203.0.113.5, 10.1.1.1", "203.0.113.5"),        # two proxies: second from the right
    (2, "203.0.113.5", "10.0.0.1"),                     # too short: did not pass both proxies
    (1, "", "10.0.0.1"),                                # no header: a direct request
    (1, "not-an-ip", "10.0.0.1"),
])
def test_client_ip_behind_trusted_proxies(settings, count, forwarded_for, expected):
    settings.STRATUS_TRUSTED_PROXY_COUNT = count

    assert client_ip(request_from("10.0.0.1", forwarded_for)) == expected


@pytest.mark.parametrize("count", [-1, "1", None])
def test_bad_trusted_proxy_count_is_refused(settings, count):
    settings.STRATUS_TRUSTED_PROXY_COUNT = count

    with pytest.raises(ImproperlyConfigured):
        client_ip(request_from())


@pytest.mark.parametrize("seconds, words", [
    (900, "15 minutes"), (60, "1 minute"), (61, "2 minutes"), (30, "30 seconds"), (1, "1 second"),
])
def test_wait_is_described_in_words_rounded_up(seconds, words):
    assert describe_seconds(seconds) == words
