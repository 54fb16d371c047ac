"""A person in Chromium: sign up, upload, list, download, delete, log out and back in."""

import re

import pytest

from tests.browser.conftest import WIDTHS
from tests.browser.uploading import choose, upload, upload_without_script

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-Long-enough-passw0rd"
ACCENTED = "Résumé 2026 — été.pdf"
#: Markup a file on disk can be called (no slash): it must show as text, never as an element.
MARKUP = '<img src=x onerror="document.title=1">.txt'
#: A library file URL: a 22-character public id, never a number.
FILE_URL = re.compile(r"/library/[A-Za-z0-9_-]{22}/")


def sign_up(page, username):
    page.goto("/accounts/signup/")
    page.fill("input[name=username]", username)
    page.fill("input[name=email]", f"{username}@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.wait_for_url("**/library/")


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


def test_an_empty_file_is_refused_by_the_uploader(page, tmp_path):
    sign_up(page, "emptyhanded")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    choose(page, empty)
    page.wait_for_selector(".uppy-Informer:has-text('The file is empty.')")
    assert page.locator(".uppy-Dashboard-Item").count() == 0


def test_without_javascript_the_plain_form_uploads_through_the_node(page_without_script,
                                                                    tmp_path):
    page = page_without_script
    sign_up(page, "noscript")
    assert page.locator("#uploader").is_hidden()
    notes = tmp_path / "plain.txt"
    notes.write_bytes(b"sent the old way\n")
    upload_without_script(page, notes)
    page.wait_for_url(FILE_URL)
    assert page.inner_text("h1") == "plain.txt"


def test_without_javascript_an_empty_file_gets_a_form_error(page_without_script, tmp_path):
    page = page_without_script
    sign_up(page, "emptyhanded")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    upload_without_script(page, empty)
    assert "/library/upload/" in page.url
    assert "empty" in page.inner_text("main").lower()


def test_a_file_keeps_its_name_as_given(page, tmp_path, screenshots):
    sign_up(page, "accented")
    resume = tmp_path / ACCENTED
    resume.write_bytes(b"%PDF-1.7\n")
    upload(page, resume)
    assert page.inner_text("h1") == ACCENTED
    assert ACCENTED in page.inner_text("main dl")
    screenshots(page, "detail-accented")

    page.goto("/library/")
    row = page.locator("tbody tr")
    assert ACCENTED in row.inner_text()
    assert FILE_URL.fullmatch(row.locator("a").first.get_attribute("href"))
    screenshots(page, "list-accented")
    page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["narrow"]
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 800})

    row.locator("a").first.click()
    with page.expect_download() as caught:
        page.click("a:has-text('Download')")
    assert caught.value.suggested_filename == ACCENTED


def test_markup_in_a_name_shows_as_text(page):
    sign_up(page, "marked")
    upload(page, {"name": MARKUP, "mimeType": "text/plain", "buffer": b"harmless\n"})
    assert page.inner_text("h1") == MARKUP
    assert page.locator("main img").count() == 0
    assert page.title() != "1"


def test_a_png_name_on_text_is_warned_about_once_its_facts_are_recorded(
        page, tmp_path, tasks, run_worker, screenshots):
    sign_up(page, "wary")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"this is plain text, not a picture\n")
    upload(page, fake)
    pending = page.locator(".facts .pending")
    assert pending.is_visible() and pending.inner_text() == "being checked…"
    assert page.locator(".warning").count() == 0
    screenshots(page, "detail-pending")

    run_worker()
    page.reload()
    warning = page.locator(".warning")
    assert warning.is_visible()
    assert "contents are text/plain, not image/png as the name says" in warning.inner_text()
    assert page.locator(".pending").count() == 0
    # Styled, not bare text: the stylesheet gives it a background and a border.
    style = warning.evaluate(
        "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).borderLeftWidth]")
    assert style[0] != "rgba(0, 0, 0, 0)" and style[1] != "0px"
    screenshots(page, "detail-warning")

    page.goto("/library/")
    assert "contents differ" in page.locator("tbody tr").inner_text()
    screenshots(page, "list-warning")


def test_a_real_png_is_not_warned_about(page, tmp_path, tasks, run_worker):
    from tests.library.helpers import tiny_png

    sign_up(page, "trusting")
    dot = tmp_path / "dot.png"
    dot.write_bytes(tiny_png())
    upload(page, dot)
    run_worker()
    page.reload()
    assert "image/png" in page.inner_text("main dl")
    assert page.locator(".warning, .pending").count() == 0
