"""Password change: Django's views, old password required, the user stays logged in."""

from pathlib import Path

import pytest
from django.urls import reverse

from .conftest import PASSWORD, is_authenticated

NEW_PASSWORD = "a-brand-new-passphrase-42"
ACCOUNTS_TEMPLATES = Path(__file__).resolve().parents[2] / "apps" / "accounts" / "templates"


def change_password(client, old=PASSWORD, new=NEW_PASSWORD):
    return client.post(reverse("password_change"), {
        "old_password": old, "new_password1": new, "new_password2": new})


def test_password_change_requires_login(client, db):
    response = client.get(reverse("password_change"))

    assert response.status_code == 302
    assert response.url == reverse("login") + "?next=" + reverse("password_change")


def test_password_change_sets_the_new_password_and_keeps_the_user_logged_in(client, user):
    client.force_login(user)

    response = change_password(client)

    assert response.status_code == 302
    assert response.url == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get(reverse("password_change_done")).status_code == 200


def test_password_change_with_a_wrong_old_password_shows_the_error_and_changes_nothing(
        client, user):
    client.force_login(user)

    response = change_password(client, old="not-my-password")

    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    assert b"errorlist" in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert is_authenticated(client)


@pytest.mark.parametrize("url_name", ["password_change", "password_change_done"])
def test_password_change_pages_use_the_accounts_templates(client, user, url_name):
    client.force_login(user)

    response = client.get(reverse(url_name))

    origins = [Path(t.origin.name) for t in response.templates]
    assert origins[0].is_relative_to(ACCOUNTS_TEMPLATES)
    assert "base.html" in [t.name for t in response.templates]
