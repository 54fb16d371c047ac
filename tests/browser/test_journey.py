"""A person in Chromium: sign up, upload, list, download, delete, log out and back in."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-Long-enough-passw0rd"


def sign_up(page, username):
    page.goto("/accounts/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.wait_for_url("**/library/")


def upload(page, path, title=""):
    page.goto("/library/upload/")
    page.set_input_files("input[name=file]", str(path))
    if title:
        page.fill("input[name=title]", title)
    page.click("main button:has-text('Upload')")
    page.wait_for_url("**/library/*/")


def test_sign_up_upload_download_delete(page, tmp_path):
    sign_up(page, "walker")
    assert "No files yet." in page.inner_text("main")

    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"remember the milk\n")
    upload(page, notes, title="Shopping")
    assert "notes.txt" in page.inner_text("main")

    page.goto("/library/")
    row = page.locator("tbody tr")
    assert row.count() == 1
    assert "notes.txt" in row.inner_text() and "Shopping" in row.inner_text()

    row.locator("a").first.click()
    with page.expect_download() as caught:
        page.click("a:has-text('Download')")
    download = caught.value
    assert download.suggested_filename == "notes.txt"
    assert open(download.path(), "rb").read() == b"remember the milk\n"

    page.click("a:has-text('Delete')")
    page.click("main button:has-text('Delete')")
    page.wait_for_url("**/library/")
    assert "No files yet." in page.inner_text("main")


def test_log_out_and_back_in(page):
    sign_up(page, "returner")
    page.click("header button:has-text('Log out')")
    page.wait_for_url("**/accounts/login/")
    page.goto("/library/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "returner")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/library/")
    assert "Your files" in page.inner_text("h1")


def test_an_empty_file_gets_a_form_error_in_the_page(page, tmp_path):
    sign_up(page, "emptyhanded")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    page.goto("/library/upload/")
    page.set_input_files("input[name=file]", str(empty))
    page.click("main button:has-text('Upload')")
    assert "/library/upload/" in page.url
    assert "empty" in page.inner_text("main").lower()
