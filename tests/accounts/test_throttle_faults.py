"""The lock-out check reads consistently and fails closed: a store that cannot answer is the
503 page, never a log-in (the audit: 5 of 40 got through with SimpleDB failing 60% of calls).

Partial failures and stale reads come from the SimpleDB emulator's fault injection; DynamoDB
(moto) can only be made unreachable."""

import pytest
from django.test import override_settings

from tests.fixtures.localaws import reset_aws_clients
from tests.fixtures.state_store import use_state_store

from .conftest import ADDRESS_LIMIT, PAIR_LIMIT, fail, is_authenticated, is_locked_out

pytestmark = pytest.mark.usefixtures("login_limits")

ATTACKER = "203.0.113.66"


@pytest.fixture
def faults(local_aws, simpledb_state_store):
    """The SimpleDB emulator's fault injection, with one attempt per call (no retries, so
    that a failing call fails fast), all undone after the test; the state store is SimpleDB
    whichever the run chose."""
    with override_settings(AWS_MAX_ATTEMPTS=1):
        reset_aws_clients()
        yield local_aws.simpledb.faults
        local_aws.simpledb.faults.update(fail_rate=0, stale_read_rate=0)
    reset_aws_clients()


def is_unavailable_page(response):
    return response.status_code == 503 and \
        "503.html" in [t.name for t in response.templates]


def lock_address(log_in):
    for n in range(ADDRESS_LIMIT):
        fail(log_in, 1, username=f"made-up-{n}", REMOTE_ADDR=ATTACKER)


def lock_pair(log_in):
    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ATTACKER)


@pytest.mark.parametrize("lock", [lock_address, lock_pair], ids=["address", "pair"])
@pytest.mark.parametrize("page", ["log_in", "admin_log_in"])
def test_while_locked_no_login_gets_through_with_simpledb_failing_60_percent(
        request, client, django_user_model, faults, lock, page):
    log_in = request.getfixturevalue(page)
    django_user_model.objects.create_superuser(username="alice",
                                               password="correct-horse-battery-staple")
    lock(log_in)
    faults.update(fail_rate=0.6)

    responses = [log_in(REMOTE_ADDR=ATTACKER) for _ in range(40)]
    faults.update(fail_rate=0)  # so that the session can be read

    assert [r for r in responses if not (is_locked_out(r) or is_unavailable_page(r))] == []
    assert not is_authenticated(client)
    assert any(is_unavailable_page(r) for r in responses)  # the faults did strike


@pytest.mark.parametrize("page", ["log_in", "admin_log_in"])
def test_lockout_check_that_cannot_read_is_the_503_page(request, client, user, faults, page):
    log_in = request.getfixturevalue(page)
    faults.update(fail_rate=1.0)

    response = log_in(REMOTE_ADDR="198.51.100.20")
    faults.update(fail_rate=0)  # so that the session can be read

    assert is_unavailable_page(response)
    assert not is_authenticated(client)


@pytest.mark.parametrize("page", ["log_in", "admin_log_in"])
def test_lockout_check_on_an_unreachable_dynamodb_is_the_503_page(
        request, client, user, settings, dynamodb_outage, page):
    use_state_store(settings, "dynamodb")
    log_in = request.getfixturevalue(page)
    dynamodb_outage.start()

    response = log_in(REMOTE_ADDR="198.51.100.20")
    dynamodb_outage.end()  # so that the session can be read

    assert is_unavailable_page(response)
    assert not is_authenticated(client)


def test_lockout_check_reads_consistently(client, user, log_in, faults):
    lock_pair(log_in)
    # Every eventually consistent read now sees each record as it was before its latest
    # write: the pair's count one short of its limit.
    faults.update(stale_read_rate=1.0)

    response = log_in(REMOTE_ADDR=ATTACKER)

    assert is_locked_out(response)
    assert not is_authenticated(client)
