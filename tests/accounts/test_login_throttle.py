"""Log-in throttling through the site's log-in page: per (username, address), per address."""

import io
import logging
import threading

import pytest
from asgiref.sync import async_to_sync
from axes.exceptions import AxesBackendRequestParameterRequired
from django.contrib.auth import aauthenticate, authenticate
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import caches
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse


from .conftest import (
    ADDRESS_LIMIT,
    PAIR_LIMIT,
    PASSWORD,
    USERNAME,
    WINDOW,
    fail,
    is_authenticated,
    is_locked_out,
)

pytestmark = pytest.mark.usefixtures("login_limits")

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.20"


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=PASSWORD)


def test_pair_at_its_limit_refuses_even_the_right_password(client, user, log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert is_locked_out(response)
    assert not is_authenticated(client)


def test_failure_that_reaches_the_limit_answers_the_lockout_page(user, log_in):
    fail(log_in, PAIR_LIMIT - 1, REMOTE_ADDR=ATTACKER)

    response = log_in(password="wrong", REMOTE_ADDR=ATTACKER)

    assert is_locked_out(response)


def test_attempts_below_the_limit_are_still_checked(client, user, log_in):
    fail(log_in, PAIR_LIMIT - 1, REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_lockout_page_is_the_sites_page_with_retry_after(user, log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert response.status_code == 429
    # The log-in page the view rendered, then the lock-out page that replaced it.
    assert [t.name for t in response.templates][-2:] == ["registration/locked_out.html",
                                                         "base.html"]
    assert b"Too many failed log-in attempts" in response.content
    assert response["Retry-After"] == str(WINDOW)
    assert "no-store" in response["Cache-Control"]


def test_lockout_page_names_both_ways_back_in(user, log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    text = response.content.decode()
    assert "Wait 15 minutes</strong>, then log in again" in text
    assert f'href="{reverse("password_reset")}">Reset it by email</a>' in text


def test_owner_gets_in_from_an_address_that_has_not_failed_for_them(client, user, log_in):
    fail(log_in, PAIR_LIMIT * 3, REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=OWNER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_made_up_usernames_from_one_address_do_not_lock_out_real_users_there(
        client, user, log_in):
    # The audit's attack: five failures for made-up usernames from one address (here more
    # than the pair limit, but fewer than the address limit).
    for n in range(ADDRESS_LIMIT - 1):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_address_at_its_limit_is_locked_for_every_username(client, user, log_in):
    for n in range(ADDRESS_LIMIT):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR=ATTACKER)

    from_there = log_in(REMOTE_ADDR=ATTACKER)
    from_elsewhere = log_in(REMOTE_ADDR=OWNER)

    assert is_locked_out(from_there)
    assert from_elsewhere.status_code == 302


def test_one_users_failures_do_not_lock_out_another_from_the_same_address(
        client, user, bob, log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)

    response = log_in(username="bob", REMOTE_ADDR=ATTACKER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_behind_the_balancer_one_clients_failures_do_not_lock_out_another(
        client, user, settings, log_in):
    # The ALB appends the address it received from; the node's nginx entry is already
    # REMOTE_ADDR again (apps.ops.forwarded): the balancer's address.
    settings.STRATUS_TRUSTED_PROXY_COUNT = 1
    fail(log_in, PAIR_LIMIT * 2, REMOTE_ADDR="10.0.1.5",
         HTTP_X_FORWARDED_FOR=ATTACKER)
    for n in range(ADDRESS_LIMIT):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR="10.0.1.5",
             HTTP_X_FORWARDED_FOR=ATTACKER)

    response = log_in(REMOTE_ADDR="10.0.1.5", HTTP_X_FORWARDED_FOR=OWNER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_forged_forwarded_for_entries_do_not_evade_the_pair_limit(user, settings, log_in):
    settings.STRATUS_TRUSTED_PROXY_COUNT = 1
    # The client forges entries on the left; the ALB appends its real address.
    for n in range(PAIR_LIMIT):
        fail(log_in, 1, REMOTE_ADDR="10.0.1.5",
             HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {ATTACKER}")

    response = log_in(REMOTE_ADDR="10.0.1.5",
                      HTTP_X_FORWARDED_FOR=f"192.0.2.99, {ATTACKER}")

    assert is_locked_out(response)


def test_forwarded_for_is_ignored_without_trusted_proxies(user, log_in):
    for n in range(PAIR_LIMIT):
        fail(log_in, 1, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    response = log_in(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert is_locked_out(response)


def test_success_clears_the_pairs_failures(client, user, log_in):
    fail(log_in, PAIR_LIMIT - 1, REMOTE_ADDR=OWNER)
    log_in(REMOTE_ADDR=OWNER)
    client.logout()
    fail(log_in, PAIR_LIMIT - 1, REMOTE_ADDR=OWNER)

    response = log_in(REMOTE_ADDR=OWNER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_success_does_not_clear_the_addresss_failures(client, user, log_in):
    # Else one valid account would reset an address between guesses at others.
    for n in range(ADDRESS_LIMIT - 1):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR=ATTACKER)
    log_in(REMOTE_ADDR=ATTACKER)
    client.logout()
    fail(log_in, 1, username="made-up-last", REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert is_locked_out(response)


def test_successes_do_not_use_up_the_addresss_attempts(client, user, log_in):
    # Each success is counted on arrival, like any attempt, and gives its count back.
    for n in range(ADDRESS_LIMIT - 1):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR=ATTACKER)

    for _ in range(ADDRESS_LIMIT):
        assert log_in(REMOTE_ADDR=ATTACKER).status_code == 302
        client.logout()


def test_refused_attempts_are_not_counted(client, user, bob, log_in):
    # Locked pair: further attempts do not count towards the address (nor extend anything).
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)
    fail(log_in, ADDRESS_LIMIT * 2, REMOTE_ADDR=ATTACKER)

    response = log_in(username="bob", REMOTE_ADDR=ATTACKER)

    assert response.status_code == 302


class CountingHasher(MD5PasswordHasher):
    """MD5, counting the passwords it verifies (from any thread)."""

    verified = 0
    _lock = threading.Lock()

    def verify(self, password, encoded):
        with self._lock:
            type(self).verified += 1
        return super().verify(password, encoded)


def test_refused_attempt_checks_no_password(user, settings, log_in):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.verified = 0
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)
    assert CountingHasher.verified == PAIR_LIMIT  # the failures were checked
    CountingHasher.verified = 0

    log_in(REMOTE_ADDR=ATTACKER)
    log_in(password="another-guess", REMOTE_ADDR=ATTACKER)

    assert CountingHasher.verified == 0


def test_username_case_does_not_evade_the_pair_limit(user, log_in):
    for spelling in ["ALICE", "Alice", "aLiCe"][:PAIR_LIMIT]:
        fail(log_in, 1, username=spelling, REMOTE_ADDR=ATTACKER)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert is_locked_out(response)


def test_lockout_ends_with_the_window_after_the_first_failure(client, user, log_in, settings,
                                                              monkeypatch):
    counters = type(caches[settings.AXES_CACHE])  # the store's cache, whichever is in use
    now = counters._now
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)
    monkeypatch.setattr(counters, "_now", lambda self: now(self) + WINDOW - 5)
    assert is_locked_out(log_in(REMOTE_ADDR=ATTACKER))

    monkeypatch.setattr(counters, "_now", lambda self: now(self) + WINDOW + 1)
    response = log_in(REMOTE_ADDR=ATTACKER)

    assert response.status_code == 302
    assert is_authenticated(client)


def test_failed_attempt_is_logged_as_key_value_without_the_password(user, log_in, caplog):
    caplog.set_level(logging.WARNING, logger="apps.accounts.lockout")

    log_in(password="s3cret-guess", REMOTE_ADDR=ATTACKER)

    assert lockout_messages(caplog) == [
        f"login failed username='alice' address={ATTACKER} "
        f"pair_failures=1/{PAIR_LIMIT} address_failures=1/{ADDRESS_LIMIT}"]
    assert "s3cret-guess" not in caplog.text


def test_refused_attempt_is_logged_without_the_password(user, log_in, caplog):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)
    caplog.set_level(logging.WARNING, logger="apps.accounts.lockout")
    caplog.clear()

    log_in(password="s3cret-guess", REMOTE_ADDR=ATTACKER)

    assert lockout_messages(caplog) == [
        f"login refused reason=locked username='alice' address={ATTACKER} "
        f"pair_failures={PAIR_LIMIT} address_failures={PAIR_LIMIT}"]
    assert "s3cret-guess" not in caplog.text


def lockout_messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "apps.accounts.lockout"]


def login_request(address=ATTACKER):
    """A request from `address` to no log-in page at all, for authenticate() to be given."""
    return RequestFactory().post("/elsewhere/", REMOTE_ADDR=address)


def test_authenticate_anywhere_is_throttled(user):
    for _ in range(PAIR_LIMIT):
        assert authenticate(login_request(), username=USERNAME, password="wrong") is None

    assert authenticate(login_request(), username=USERNAME, password=PASSWORD) is None
    assert authenticate(login_request(OWNER), username=USERNAME, password=PASSWORD) == user


def test_aauthenticate_is_throttled_too(user):
    for _ in range(PAIR_LIMIT):
        authenticate(login_request(), username=USERNAME, password="wrong")

    refused = async_to_sync(aauthenticate)(login_request(), username=USERNAME,
                                           password=PASSWORD)
    allowed = async_to_sync(aauthenticate)(login_request(OWNER), username=USERNAME,
                                           password=PASSWORD)

    assert refused is None
    assert allowed == user


def test_authenticate_without_a_request_is_refused_not_left_unthrottled(user):
    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(username=USERNAME, password=PASSWORD)


def test_operator_lifts_a_pairs_lockout_with_axes_reset_ip_username(client, user, log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)

    call_command("axes_reset_ip_username", ATTACKER, "Alice", stdout=io.StringIO())

    assert log_in(REMOTE_ADDR=ATTACKER).status_code == 302


def test_operator_lifts_an_addresss_lockout_with_axes_reset_ip(client, user, log_in):
    for n in range(ADDRESS_LIMIT):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR=ATTACKER)

    call_command("axes_reset_ip", ATTACKER, stdout=io.StringIO())

    assert log_in(REMOTE_ADDR=ATTACKER).status_code == 302


def test_ipv6_addresses_count_as_their_64_block(client, user, log_in):
    # One subscriber can use any address of its /64 for each request.
    for n in range(PAIR_LIMIT):
        fail(log_in, 1, REMOTE_ADDR=f"2001:db8:0:7::{n + 1}")

    same_block = log_in(REMOTE_ADDR="2001:db8:0:7::ffff")
    other_block = log_in(REMOTE_ADDR="2001:db8:0:8::1")

    assert is_locked_out(same_block)
    assert other_block.status_code == 302


def test_attempts_from_an_unknown_address_are_counted_by_username(client, user, bob, log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR="")

    same_user = log_in(REMOTE_ADDR="")
    other_user = log_in(username="bob", REMOTE_ADDR="")

    assert is_locked_out(same_user)
    assert other_user.status_code == 302


def test_no_username_can_be_spelled_into_another_pairs_counter(client, user, log_in):
    # "alice20" + "3.0.113.5" and "alice" + "203.0.113.5" read the same when joined.
    fail(log_in, PAIR_LIMIT, username="alice20", REMOTE_ADDR="3.0.113.5")

    response = log_in(REMOTE_ADDR="203.0.113.5")

    assert response.status_code == 302
