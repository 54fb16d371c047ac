"""Sharing in Chromium: the owner makes a link with a password, someone logged out opens it
in a browser of their own and downloads the file, and the owner sees the download."""

import pytest

from tests.browser.test_journey import sign_up
from tests.browser.uploading import upload

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "shared-secret"
CONTENT = b"the minutes of the meeting\n"


def test_a_link_with_a_password_is_opened_logged_out_and_counted(
        page, browser, live_server, tmp_path, screenshots):
    sign_up(page, "sharer")
    minutes = tmp_path / "minutes.txt"
    minutes.write_bytes(CONTENT)
    upload(page, minutes)
    file_page = page.url

    page.select_option("select[name=expires_in]", "1d")
    page.fill(".share-form input[name=password]", PASSWORD)
    page.click(".share-form button:has-text('Create link')")
    link = page.input_value("#new-link-url")
    assert "/s/" in link
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("button:has-text('Copy')")
    page.wait_for_selector("button:has-text('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == link
    screenshots(page, "sharing-new-link")

    visitor = browser.new_context(accept_downloads=True)  # no cookies: logged out
    try:
        shared = visitor.new_page()
        shared.goto(link)
        assert "minutes.txt" in shared.inner_text("h1")
        shared.fill("input[name=password]", "wrong")
        shared.click("main button:has-text('Download')")
        shared.wait_for_selector("text=That is not the link's password.")
        screenshots(shared, "sharing-shared-page")
        shared.fill("input[name=password]", PASSWORD)
        with shared.expect_download() as caught:
            shared.click("main button:has-text('Download')")
        download = caught.value
        assert download.suggested_filename == "minutes.txt"
        assert open(download.path(), "rb").read() == CONTENT
    finally:
        visitor.close()

    page.goto(file_page)
    assert page.inner_text(".share-link .share-downloads") == "1"
    screenshots(page, "sharing-file-page")

    page.click(".share-link button:has-text('Revoke')")
    page.wait_for_selector(".share-revoked")
    gone = browser.new_context()
    try:
        shared = gone.new_page()
        response = shared.goto(link)
        assert response.status == 410
        assert "This link no longer works" in shared.inner_text("h1")
        screenshots(shared, "sharing-revoked")
    finally:
        gone.close()
