"""Log-in and log-out through Django's views with our LoginForm."""

from django.urls import reverse

from .conftest import PASSWORD, USERNAME, form_errors, is_authenticated


def test_login_page_shows_username_and_password(client, db):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["registration/login.html", "base.html"]
    assert list(response.context["form"].fields) == ["username", "password"]


def test_login_with_good_credentials_redirects_to_the_library_authenticated(
        client, user, log_in):
    response = log_in()

    assert response.status_code == 302
    assert response.url == "/library/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_with_a_bad_password_shows_a_form_error(client, user, log_in):
    response = log_in(password="wrong")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors().as_data()[0].code == "invalid_login"
    assert b"Please enter a correct username and password" in response.content
    assert not is_authenticated(client)


def test_login_with_a_missing_password_shows_the_field_error(client, user, log_in):
    response = log_in(password="")

    assert "password" in response.context["form"].errors
    assert not is_authenticated(client)


def test_inactive_user_cannot_log_in(client, user, log_in):
    user.is_active = False
    user.save()

    response = log_in()

    assert response.status_code == 200
    assert form_errors(response)
    assert not is_authenticated(client)


def test_signed_in_user_visiting_login_is_redirected_to_the_library(client, user):
    client.force_login(user)

    response = client.get(reverse("login"))

    assert response.status_code == 302
    assert response.url == "/library/"


def test_logout_by_post_logs_out_and_redirects_to_login(client, user):
    client.force_login(user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")
    assert not is_authenticated(client)


def test_logout_by_get_is_refused_with_405_and_keeps_the_session(client, user):
    client.force_login(user)

    response = client.get(reverse("logout"))

    assert response.status_code == 405
    assert is_authenticated(client)


def test_login_after_logout_works_again(client, user, log_in):
    log_in()
    client.post(reverse("logout"))

    response = log_in(username=USERNAME, password=PASSWORD)

    assert response.url == "/library/"
    assert is_authenticated(client)
