"""Log-in attempts racing for one (username, address) pair, each from its own thread and
client: each attempt is counted before its password is checked, so at most the pair's limit
of passwords are checked whatever the concurrency, and an attempt that cannot be counted is
the 503 page."""

import threading

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from storage_backends.simpledb.cache import swaps

from .conftest import (
    PAIR_LIMIT,
    PASSWORD,
    USERNAME,
    is_authenticated,
    is_locked_out,
)
from .test_login_throttle import CountingHasher
from .test_throttle_faults import is_unavailable_page

# The threads' own database connections must see the user: committed, not in a test
# transaction.
pytestmark = [pytest.mark.usefixtures("login_limits"), pytest.mark.django_db(transaction=True)]

ATTACKER = "203.0.113.66"
RACERS = 20


def race(password):
    """RACERS clients posting alice's log-in form from ATTACKER at once: (client, response)
    for each. An exception a request raised (a 500) fails the test."""
    clients = [Client() for _ in range(RACERS)]
    responses = [None] * RACERS
    errors = []
    start = threading.Barrier(RACERS)

    def post(n):
        try:
            start.wait(timeout=60)  # only so that one thread's failure cannot hang the rest
            responses[n] = clients[n].post(reverse("login"),
                                           {"username": USERNAME, "password": password},
                                           REMOTE_ADDR=ATTACKER)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return list(zip(clients, responses))


def is_form_with_errors(response):
    return response.status_code == 200 and bool(response.context["form"].errors)


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = [f"{CountingHasher.__module__}.CountingHasher"]
    CountingHasher.verified = 0
    return CountingHasher


def test_racing_guesses_for_one_pair_check_at_most_the_limits_passwords(
        user, log_in, counting_hasher):
    answers = race(password="wrong")

    assert counting_hasher.verified <= PAIR_LIMIT
    # Each racer had its answer: the form (checked and wrong), the lock-out page (refused
    # unchecked), or the 503 page (its count lost to the others' too often, unchecked).
    assert [r for _, r in answers
            if not (is_form_with_errors(r) or is_locked_out(r) or is_unavailable_page(r))] == []
    # ... and the pair's attempts are used up.
    assert is_locked_out(log_in(REMOTE_ADDR=ATTACKER))


@pytest.mark.usefixtures("simpledb_state_store")  # DynamoDB counts in one atomic call
def test_a_count_lost_to_contention_is_the_503_page_and_no_log_in(user, monkeypatch):
    # CAS_ATTEMPTS is the cache's bound on a change's compare-and-swaps (a constant, not an
    # option). At 1, a racer whose swap loses once to another racer's gives up (Contended)
    # instead of trying again: the losses are real, only fewer are needed.
    monkeypatch.setattr(swaps, "CAS_ATTEMPTS", 1)

    answers = race(password=PASSWORD)

    unavailable = [client for client, r in answers if is_unavailable_page(r)]
    assert unavailable  # the contention did strike
    assert [r for _, r in answers
            if not (r.status_code == 302 or is_locked_out(r) or is_unavailable_page(r))] == []
    assert not any(is_authenticated(client) for client in unavailable)
