"""The trash in Chromium: a deleted file is found in the trash and restored to the library."""

import pytest

from tests.browser.test_journey import sign_up
from tests.browser.uploading import upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_delete_find_in_the_trash_and_restore(page, tmp_path, screenshots):
    sign_up(page, "regretter")
    report = tmp_path / "report.txt"
    report.write_bytes(b"the quarterly report\n")
    upload(page, report)

    page.click("a:has-text('Delete')")
    page.click("main button:has-text('Delete')")
    page.wait_for_url("**/library/")
    assert "No files yet." in page.inner_text("main")

    page.click("header a:has-text('Trash')")
    page.wait_for_url("**/library/trash/")
    row = page.locator("tr.trashed-file")
    assert row.count() == 1 and "report.txt" in row.inner_text()
    screenshots(page, "trash-page")

    row.locator("button:has-text('Restore')").click()
    page.wait_for_selector("text=Restored report.txt.")
    assert "The trash is empty." in page.inner_text("main")

    page.goto("/library/")
    assert "report.txt" in page.inner_text("main")


def test_emptying_the_trash_asks_first(page, tmp_path, screenshots):
    sign_up(page, "tidier")
    old = tmp_path / "old.txt"
    old.write_bytes(b"old\n")
    upload(page, old)
    page.click("a:has-text('Delete')")
    page.click("main button:has-text('Delete')")
    page.goto("/library/trash/")
    page.click("main a:has-text('Empty trash')")
    assert "1 file will be deleted for good" in page.inner_text("main")
    screenshots(page, "trash-confirm-empty")
    page.click("main button:has-text('Empty trash')")
    page.wait_for_selector("text=The trash is empty.")
