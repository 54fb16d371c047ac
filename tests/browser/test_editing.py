"""A person renames a file and gives it a title from its page, and is told when an upload
is already in their library, in Chromium at 1280 and 390 px."""

import pytest

from tests.browser.conftest import WIDTHS
from tests.browser.test_journey import sign_up
from tests.browser.uploading import upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_rename_and_retitle_from_the_file_page(page, tmp_path, screenshots):
    sign_up(page, "renamer")
    notes = tmp_path / "scan0001.txt"
    notes.write_bytes(b"minutes of the meeting\n")
    upload(page, notes)

    page.click("main a:has-text('Rename')")
    page.wait_for_url("**/edit/")
    screenshots(page, "file-edit")
    page.fill("input[name=original_name]", "folder/minutes.txt")
    page.click("main button:has-text('Save')")
    assert "cannot hold a slash" in page.inner_text("main")

    page.fill("input[name=original_name]", "Minutes 1 December.txt")
    page.fill("input[name=title]", "Board meeting")
    page.click("main button:has-text('Save')")
    page.wait_for_url("**/library/*/")
    assert page.inner_text("h1") == "Board meeting"
    assert "Minutes 1 December.txt" in page.inner_text("main dl")

    page.goto("/library/?q=board")
    assert page.locator("tbody tr").count() == 1


def test_an_upload_already_in_the_library_says_so_with_a_link(page, tmp_path, tasks,
                                                               run_worker, screenshots):
    sign_up(page, "doubler")
    first = tmp_path / "holiday.txt"
    first.write_bytes(b"the same words\n")
    upload(page, first)
    again = tmp_path / "holiday (1).txt"
    again.write_bytes(b"the same words\n")
    upload(page, again)

    run_worker()
    page.reload()
    notice = page.locator(".duplicate")
    assert "already in your library" in notice.inner_text()
    screenshots(page, "detail-duplicate")
    page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["narrow"]
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 800})

    page.goto("/library/")
    page.click("a.duplicate")
    assert page.inner_text("h1") == "holiday.txt"
    assert page.locator(".duplicate").count() == 0
