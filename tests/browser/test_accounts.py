"""Accounts in Chromium: a forgotten password reset by email (the mail read from the test
outbox), and a whole visit made with the keyboard alone."""

import re

import pytest

from tests.browser.conftest import WIDTHS

pytestmark = pytest.mark.django_db(transaction=True)

USERNAME = "forgetful"
EMAIL = "forgetful@example.com"
PASSWORD = "a-Long-enough-passw0rd"
NEW_PASSWORD = "another-Long-passw0rd"
#: The reset link in the mail's text.
LINK = re.compile(r"https?://\S+/accounts/reset/\S+/")


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(USERNAME, EMAIL, PASSWORD)


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_a_forgotten_password_is_reset_by_email_and_the_new_one_logs_in(
        page, user, mailoutbox, width, screenshots):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/accounts/login/")
    page.click("text=Reset it by email")
    page.fill("input[name=email]", EMAIL)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/password_reset/done/")
    assert "Check your email" in page.inner_text("h1")

    [message] = mailoutbox
    assert message.to == [EMAIL]
    page.goto(LINK.search(message.body).group(0))
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/accounts/reset/done/")
    assert "you are logged in" in page.inner_text("main")
    screenshots(page, "reset-complete")

    page.click("header button:has-text('Log out')")
    page.wait_for_url("**/accounts/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/library/")
    assert USERNAME in page.inner_text("header")


def focused(page):
    """A short description of the element that has the keyboard's focus."""
    return page.evaluate("""() => {
      const e = document.activeElement;
      return `${e.tagName.toLowerCase()} ${e.getAttribute("name") || ""} ${e.innerText || ""}`;
    }""")


def tab_to(page, selector, presses=40):
    """Press Tab until the focus is on the element `selector` finds; fail if it never is."""
    target = page.locator(selector).element_handle()
    for _ in range(presses):
        if page.evaluate("e => document.activeElement === e", target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never had the focus; last: {focused(page)}")


def focus_ring(page):
    """The focused element's outline: style and width, as the browser draws it."""
    return page.evaluate("""() => {
      const style = getComputedStyle(document.activeElement);
      return [style.outlineStyle, style.outlineWidth];
    }""")


def test_the_keyboard_alone_logs_in_opens_a_file_and_logs_out(page, user):
    from tests.library.helpers import make_rows

    make_rows(user, 2, prefix="keyboard")
    page.goto("/accounts/login/")

    tab_to(page, "input[name=username]")
    page.keyboard.type(USERNAME)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/library/")

    tab_to(page, "main tbody a >> nth=0")
    assert focus_ring(page) != ["none", "0px"]
    page.keyboard.press("Enter")
    page.wait_for_url("**/library/*/")
    assert page.inner_text("h1").startswith("keyboard-")

    tab_to(page, "header button:has-text('Log out')")
    assert focus_ring(page)[0] != "none"
    page.keyboard.press("Enter")
    page.wait_for_url("**/accounts/login/")


def test_the_first_tab_offers_to_skip_to_the_content(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/library/")  # a page with no field that takes the focus itself
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
