"""Making a link: the owner picks an expiry and maybe a password, and sees the URL once."""

from datetime import date, datetime, time, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone

from apps.sharing.models import ShareLink, token_digest

from .helpers import create, new_token, shares_url

pytestmark = pytest.mark.django_db


def test_the_new_link_url_is_shown_once(user_client, stored_file):
    response = create(user_client, stored_file)
    assert response.status_code == 201
    assert response.context["new_link_url"].startswith("http://testserver/s/")
    assert response.context["new_link_url"].encode() in response.content
    again = user_client.get(shares_url(stored_file))
    assert new_token(response).encode() not in again.content


def test_only_a_digest_of_the_token_is_stored(user_client, stored_file):
    token = new_token(create(user_client, stored_file))
    link = ShareLink.objects.get()
    assert link.token_digest == token_digest(token)
    stored = [str(value) for value in ShareLink.objects.values_list().get()]
    assert token not in stored


def test_tokens_carry_256_random_bits(user_client, stored_file):
    tokens = {new_token(create(user_client, stored_file)) for _ in range(3)}
    assert len(tokens) == 3
    assert all(len(token) == 43 for token in tokens)


def test_the_page_is_never_cached(user_client, stored_file):
    assert "no-store" in create(user_client, stored_file)["Cache-Control"]


@pytest.mark.parametrize("choice, duration", [
    ("1h", timedelta(hours=1)), ("1d", timedelta(days=1)),
    ("7d", timedelta(days=7)), ("30d", timedelta(days=30))])
def test_a_chosen_duration_sets_the_expiry(user_client, stored_file, choice, duration):
    before = timezone.now()
    create(user_client, stored_file, expires_in=choice)
    after = timezone.now()
    assert before + duration <= ShareLink.objects.get().expires_at <= after + duration


def test_a_chosen_date_lasts_until_that_day_ends(user_client, stored_file):
    day = timezone.localdate() + timedelta(days=3)
    create(user_client, stored_file, expires_in="date", expires_on=day.isoformat())
    assert ShareLink.objects.get().expires_at == datetime.combine(
        day + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)


def test_a_past_date_is_refused(user_client, stored_file):
    response = create(user_client, stored_file, expires_in="date",
                      expires_on=date(2020, 1, 1).isoformat())
    assert response.status_code == 200
    assert "Choose today or a later date." in response.context["form"].errors["expires_on"]
    assert not ShareLink.objects.exists()


def test_a_date_past_the_limit_is_refused(user_client, stored_file, settings):
    settings.STRATUS_SHARE_MAX_DAYS = 10
    day = timezone.localdate() + timedelta(days=11)
    response = create(user_client, stored_file, expires_in="date", expires_on=day.isoformat())
    assert "A link can last at most 10 days." in response.context["form"].errors["expires_on"]
    assert not ShareLink.objects.exists()


def test_a_date_choice_needs_a_date(user_client, stored_file):
    response = create(user_client, stored_file, expires_in="date")
    assert response.context["form"].errors["expires_on"]
    assert not ShareLink.objects.exists()


def test_a_password_is_stored_hashed(user_client, stored_file):
    create(user_client, stored_file, password="open sesame")
    link = ShareLink.objects.get()
    assert link.password and "open sesame" not in link.password
    assert link.check_password("open sesame")


def test_no_password_leaves_the_link_open(user_client, stored_file):
    create(user_client, stored_file)
    assert not ShareLink.objects.get().needs_password


def test_no_one_else_can_share_a_users_file(other_client, stored_file):
    assert create(other_client, stored_file).status_code == 404
    assert not ShareLink.objects.exists()


def test_sharing_needs_a_log_in(visitor, stored_file):
    response = create(visitor, stored_file)
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert not ShareLink.objects.exists()
