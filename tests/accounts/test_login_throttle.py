"""Log-in throttling through the log-in page: per username, per IP, counted in the cache."""

import logging

import pytest
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache

from apps.accounts.throttle import ip_key, username_key

from .conftest import PASSWORD, USERNAME, form_errors, is_authenticated

ATTEMPTS = 3


@pytest.fixture(autouse=True)
def throttle_settings(settings):
    settings.STRATUS_LOGIN_ATTEMPTS = ATTEMPTS
    settings.STRATUS_LOGIN_WINDOW = 900


def fail(log_in, times, **kwargs):
    kwargs.setdefault("password", "wrong")
    for _ in range(times):
        response = log_in(**kwargs)
        assert [e.code for e in response.context["form"].non_field_errors().as_data()] == [
            "invalid_login"]


def is_refused(response):
    return any("Too many failed log-in attempts" in error for error in form_errors(response))


def test_attempt_after_n_failures_for_a_username_is_refused_even_with_the_right_password(
        client, user, log_in):
    fail(log_in, ATTEMPTS)

    response = log_in(password=PASSWORD, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200
    assert is_refused(response)
    assert not is_authenticated(client)


def test_refusal_says_too_many_attempts_and_when_to_retry(user, log_in):
    fail(log_in, ATTEMPTS)

    response = log_in()

    assert "Too many failed log-in attempts. Try again in 15 minutes." in form_errors(response)
    assert b"Too many failed log-in attempts. Try again in 15 minutes." in response.content


def test_attempts_below_the_limit_are_still_checked(client, user, log_in):
    fail(log_in, ATTEMPTS - 1)

    response = log_in()

    assert response.status_code == 302
    assert is_authenticated(client)


def test_refused_attempt_does_not_check_the_password(user, log_in):
    fail(log_in, ATTEMPTS)
    checked = []
    user_login_failed.connect(receiver := lambda **kwargs: checked.append(kwargs))
    try:
        log_in(password="still-wrong", REMOTE_ADDR="203.0.113.9")
    finally:
        user_login_failed.disconnect(receiver)

    assert checked == []


def test_other_username_from_the_same_ip_is_refused_after_n_failures_from_that_ip(
        client, user, log_in):
    for n in range(ATTEMPTS):
        fail(log_in, 1, username=f"guess{n}", REMOTE_ADDR="198.51.100.7")

    response = log_in(REMOTE_ADDR="198.51.100.7")

    assert is_refused(response)
    assert not is_authenticated(client)


def test_failures_from_one_ip_do_not_affect_another_ip(client, django_user_model, log_in):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    for n in range(ATTEMPTS):
        fail(log_in, 1, username=f"guess{n}", REMOTE_ADDR="198.51.100.7")

    response = log_in(username="bob", REMOTE_ADDR="198.51.100.8")

    assert response.status_code == 302
    assert is_authenticated(client)


def test_failures_for_one_username_do_not_affect_another(client, user, django_user_model,
                                                         log_in):
    django_user_model.objects.create_user(username="bob", password=PASSWORD)
    for n in range(ATTEMPTS):
        fail(log_in, 1, REMOTE_ADDR=f"198.51.100.{n + 10}")

    response = log_in(username="bob", REMOTE_ADDR="198.51.100.50")

    assert response.status_code == 302
    assert is_authenticated(client)


def test_success_clears_the_username_counter(client, user, log_in):
    fail(log_in, ATTEMPTS - 1, REMOTE_ADDR="198.51.100.1")
    log_in(REMOTE_ADDR="198.51.100.1")
    client.logout()
    # From another IP, so that only the username's counter could refuse what follows.
    fail(log_in, ATTEMPTS - 1, REMOTE_ADDR="198.51.100.2")

    response = log_in(REMOTE_ADDR="198.51.100.2")

    assert response.status_code == 302
    assert is_authenticated(client)


def test_success_does_not_clear_the_ip_counter(user, log_in):
    fail(log_in, ATTEMPTS - 1, username="someone-else", REMOTE_ADDR="198.51.100.1")
    log_in(REMOTE_ADDR="198.51.100.1")

    assert cache.get(ip_key("198.51.100.1")) == ATTEMPTS - 1


def test_username_case_does_not_evade_the_throttle(client, user, log_in):
    for n, spelling in enumerate(["ALICE", "Alice", "aLiCe"]):
        fail(log_in, 1, username=spelling, REMOTE_ADDR=f"198.51.100.{n + 10}")

    response = log_in(REMOTE_ADDR="198.51.100.50")

    assert is_refused(response)
    assert not is_authenticated(client)


def test_forwarded_for_is_ignored_without_trusted_proxies(client, user, log_in):
    for n in range(ATTEMPTS):
        fail(log_in, 1, username=f"guess{n}", REMOTE_ADDR="10.0.0.1",
             HTTP_X_FORWARDED_FOR=f"203.0.113.{n + 10}")

    response = log_in(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert is_refused(response)


def test_forwarded_for_gives_the_client_ip_behind_trusted_proxies(client, user, settings,
                                                                   log_in):
    settings.STRATUS_TRUSTED_PROXY_COUNT = 1
    for n in range(ATTEMPTS):
        fail(log_in, 1, username=f"guess{n}", REMOTE_ADDR="10.0.0.1",
             HTTP_X_FORWARDED_FOR="203.0.113.10")

    other_client = log_in(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.11")
    client.logout()
    same_client = log_in(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.10")

    assert other_client.status_code == 302
    assert is_refused(same_client)


def test_forged_forwarded_for_entries_do_not_evade_the_ip_throttle(user, settings, log_in):
    settings.STRATUS_TRUSTED_PROXY_COUNT = 1
    # The client forges the left-most entry; the one trusted proxy appends the real address.
    for n in range(ATTEMPTS):
        fail(log_in, 1, username=f"guess{n}", REMOTE_ADDR="10.0.0.1",
             HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 10}, 203.0.113.10")

    response = log_in(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.10")

    assert is_refused(response)


def test_counters_live_in_the_cache(client, user, log_in):
    fail(log_in, ATTEMPTS, REMOTE_ADDR="198.51.100.1")
    assert cache.get(username_key(USERNAME)) == ATTEMPTS
    assert cache.get(ip_key("198.51.100.1")) == ATTEMPTS

    cache.clear()  # What the window's expiry does; test_throttle.py expires it by the clock.
    response = log_in(REMOTE_ADDR="198.51.100.1")

    assert response.status_code == 302
    assert is_authenticated(client)


def test_failed_attempt_is_logged_as_key_value_without_the_password(user, log_in, caplog):
    caplog.set_level(logging.WARNING, logger="apps.accounts.forms")

    log_in(password="s3cret-guess", REMOTE_ADDR="198.51.100.1")

    assert [r.getMessage() for r in caplog.records] == [
        "login failed username='alice' ip=198.51.100.1 user_failures=1 ip_failures=1 limit=3"]
    assert "s3cret-guess" not in caplog.text


def test_refused_attempt_is_logged_without_the_password(user, log_in, caplog):
    fail(log_in, ATTEMPTS, REMOTE_ADDR="198.51.100.1")
    caplog.set_level(logging.WARNING, logger="apps.accounts.forms")
    caplog.clear()

    log_in(password="s3cret-guess", REMOTE_ADDR="198.51.100.1")

    assert [r.getMessage() for r in caplog.records] == [
        "login refused reason=throttled username='alice' ip=198.51.100.1"]
    assert "s3cret-guess" not in caplog.text
