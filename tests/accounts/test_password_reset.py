"""Password reset by email: Django's views at /accounts/password_reset/, the mail in the
outbox (Django's in-memory backend under test), the link sets a new password and logs in."""

import re

from django.urls import reverse

from .conftest import PASSWORD, USERNAME, is_authenticated

NEW_PASSWORD = "a-different-Horse-77"
LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/[^\s]+/)")


def ask_for_reset(client, email):
    return client.post(reverse("password_reset"), {"email": email})


def reset_link(message):
    return LINK.search(message.body).group(1)


def test_the_reset_page_is_at_its_conventional_path(client, db):
    response = client.get("/accounts/password_reset/")

    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == [
        "registration/password_reset_form.html", "base.html"]


def test_a_reset_request_mails_a_link_to_the_accounts_address(client, user, mailoutbox):
    user.email = "alice@example.com"
    user.save()

    response = ask_for_reset(client, "ALICE@example.com")

    assert response.url == reverse("password_reset_done")
    [message] = mailoutbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Reset your Stratus password"
    assert USERNAME in message.body
    assert reset_link(message).startswith("/accounts/reset/")


def test_a_reset_request_for_an_unknown_address_says_the_same_and_mails_nothing(
        client, db, mailoutbox):
    response = ask_for_reset(client, "nobody@example.com")

    assert response.url == reverse("password_reset_done")
    assert mailoutbox == []


def test_the_link_sets_the_new_password_and_logs_the_user_in(client, user, mailoutbox):
    user.email = "alice@example.com"
    user.save()
    ask_for_reset(client, user.email)

    form = client.get(reset_link(mailoutbox[0]), follow=True)
    response = client.post(form.redirect_chain[-1][0], {
        "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.url == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    assert is_authenticated(client)


def test_a_used_link_no_longer_works(client, user, mailoutbox):
    user.email = "alice@example.com"
    user.save()
    ask_for_reset(client, user.email)
    link = reset_link(mailoutbox[0])
    form = client.get(link, follow=True)
    client.post(form.redirect_chain[-1][0], {
        "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    client.logout()

    response = client.get(link, follow=True)

    assert not response.context["validlink"]
    assert b"This link no longer works" in response.content
