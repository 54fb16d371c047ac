"""The admin's log-in is throttled as the site's is: one count, one lock-out page."""

import pytest

from .conftest import PAIR_LIMIT, PASSWORD, fail, is_authenticated, is_locked_out

pytestmark = pytest.mark.usefixtures("login_limits")

ATTACKER = "203.0.113.66"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password=PASSWORD)


def test_twelve_wrong_passwords_then_the_right_one_do_not_get_into_the_admin(
        client, superuser, admin_log_in):
    # The audit's finding: 12 wrong passwords, then the right one, got in.
    fail(admin_log_in, 12, username="root", REMOTE_ADDR=ATTACKER)

    response = admin_log_in(username="root", REMOTE_ADDR=ATTACKER)

    assert is_locked_out(response)
    assert not is_authenticated(client)


def test_admin_lockout_is_the_sites_lockout_page(superuser, admin_log_in):
    fail(admin_log_in, PAIR_LIMIT, username="root", REMOTE_ADDR=ATTACKER)

    response = admin_log_in(username="root", REMOTE_ADDR=ATTACKER)

    assert response.status_code == 429
    assert [t.name for t in response.templates][-2:] == ["registration/locked_out.html",
                                                         "base.html"]
    assert b"Too many failed log-in attempts" in response.content


def test_superuser_gets_into_the_admin_from_an_address_that_has_not_failed(
        client, superuser, admin_log_in):
    fail(admin_log_in, PAIR_LIMIT * 4, username="root", REMOTE_ADDR=ATTACKER)

    response = admin_log_in(username="root", REMOTE_ADDR="198.51.100.20")

    assert response.status_code == 302
    assert response.url == "/admin/"
    assert is_authenticated(client)


def test_failures_on_the_site_and_the_admin_share_one_count(client, superuser, log_in,
                                                            admin_log_in):
    fail(log_in, PAIR_LIMIT - 1, username="root", REMOTE_ADDR=ATTACKER)
    fail(admin_log_in, 1, username="root", REMOTE_ADDR=ATTACKER)

    on_the_site = log_in(username="root", REMOTE_ADDR=ATTACKER)
    on_the_admin = admin_log_in(username="root", REMOTE_ADDR=ATTACKER)

    assert is_locked_out(on_the_site)
    assert is_locked_out(on_the_admin)
    assert not is_authenticated(client)
