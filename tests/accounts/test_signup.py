"""Sign-up: Django's UserCreationForm, then logged in and sent to the library."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from apps.accounts.forms import SignupForm
from apps.accounts.views import SignupView

from .conftest import PASSWORD, USERNAME, form_errors, is_authenticated


def sign_up(client, username="bob", password1=PASSWORD, password2=PASSWORD,
            email="bob@example.com"):
    return client.post(reverse("signup"), {
        "username": username, "email": email, "password1": password1, "password2": password2})


def test_signup_page_shows_the_form(client, db):
    response = client.get(reverse("signup"))

    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == ["registration/signup.html", "base.html"]
    assert list(response.context["form"].fields) == ["username", "email", "password1",
                                                     "password2"]


def test_signup_creates_the_user_logs_them_in_and_redirects_to_the_library(
        client, django_user_model):
    response = sign_up(client)

    assert response.status_code == 302
    assert response.url == reverse("library:list") == "/library/"
    created = django_user_model.objects.get(username="bob")
    assert created.check_password(PASSWORD)
    assert client.session["_auth_user_id"] == str(created.pk)


def test_signup_follows_a_safe_next(client, db):
    response = client.post(reverse("signup") + "?next=/library/upload/", {
        "username": "bob", "email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD})

    assert response.url == "/library/upload/"


def test_signup_ignores_a_next_on_another_site(client, db):
    response = client.post(reverse("signup") + "?next=https://evil.example/", {
        "username": "bob", "email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD})

    assert response.url == "/library/"


def test_signup_with_mismatched_passwords_shows_the_error_and_creates_nothing(
        client, django_user_model):
    response = sign_up(client, password2=PASSWORD + "x")

    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    assert b"errorlist" in response.content
    assert not django_user_model.objects.exists()
    assert not is_authenticated(client)


def test_signup_with_an_existing_username_shows_the_error_and_creates_nothing(
        client, django_user_model, user):
    response = sign_up(client, username=USERNAME.upper())

    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert list(django_user_model.objects.values_list("username", flat=True)) == [USERNAME]
    assert not is_authenticated(client)


def test_signup_with_a_weak_password_shows_the_error_and_creates_nothing(
        client, django_user_model):
    response = sign_up(client, password1="password", password2="password")

    assert response.status_code == 200
    assert any("too common" in error for error in form_errors(response))
    assert b"too common" in response.content
    assert not django_user_model.objects.exists()


def test_signed_in_user_visiting_signup_is_redirected_to_the_library(client, user):
    client.force_login(user)

    response = client.get(reverse("signup"))

    assert response.status_code == 302
    assert response.url == "/library/"


def test_signup_keeps_the_email_address(client, django_user_model):
    sign_up(client, email="Bob@Example.COM")

    assert django_user_model.objects.get(username="bob").email == "Bob@example.com"


def test_signup_without_an_email_address_shows_the_error_and_creates_nothing(
        client, django_user_model):
    response = sign_up(client, email="")

    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not django_user_model.objects.exists()


def test_signup_with_an_address_another_account_has_shows_the_error_and_creates_nothing(
        client, django_user_model):
    django_user_model.objects.create_user("carol", "bob@example.com", PASSWORD)

    response = sign_up(client, email="BOB@example.com")

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "An account with this email address already exists."]
    assert not django_user_model.objects.filter(username="bob").exists()


def test_two_accounts_cannot_share_an_address_whatever_its_case(django_user_model, db):
    django_user_model.objects.create_user("carol", "Bob@Example.com", PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        django_user_model.objects.create_user("dave", "bob@example.com", PASSWORD)


def test_accounts_without_an_address_are_not_constrained(django_user_model, db):
    django_user_model.objects.create_user("carol", "", PASSWORD)
    django_user_model.objects.create_user("dave", "", PASSWORD)
    assert django_user_model.objects.filter(email="").count() == 2


def test_a_signup_that_loses_a_race_for_its_address_shows_the_error(rf, django_user_model):
    data = {"username": "bob", "email": "bob@example.com", "password1": PASSWORD,
            "password2": PASSWORD}
    form = SignupForm(data)
    assert form.is_valid()
    # Another sign-up saves the same address after this form was checked, before it saves.
    django_user_model.objects.create_user("carol", "bob@example.com", PASSWORD)
    view = SignupView()
    view.setup(rf.post(reverse("signup"), data))

    response = view.form_valid(form)

    assert response.status_code == 200
    assert response.context_data["form"].errors["email"] == [
        "An account with this email address already exists."]
    assert list(django_user_model.objects.values_list("username", flat=True)) == ["carol"]
