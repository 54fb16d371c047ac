"""A person ticks several files on the list and deletes them in one go, in Chromium at 1280
and 390 px; ticks survive the list refreshing itself while previews are made."""

import pytest

from tests.browser.conftest import WIDTHS
from tests.browser.test_journey import sign_up
from tests.browser.uploading import upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_tick_three_files_of_four_and_delete_them(page, tmp_path, screenshots):
    sign_up(page, "tidier")
    paths = []
    for name in ("keep.txt", "old-1.txt", "old-2.txt", "old-3.txt"):
        path = tmp_path / name
        path.write_bytes(f"{name}\n".encode())
        paths.append(path)
    upload(page, *paths)  # several files: the uploader goes to the list

    for name in ("old-1.txt", "old-2.txt", "old-3.txt"):
        page.check(f"input[aria-label='Select {name}']")
    screenshots(page, "list-selected")
    page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["narrow"]
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 800})
    page.click("main button:has-text('Delete selected')")

    page.wait_for_selector("h1:has-text('Delete 3 files?')")
    assert "keep.txt" not in page.inner_text("main ul")
    screenshots(page, "bulk-delete-confirm")
    page.click("main button:has-text('Delete 3 files')")
    page.wait_for_url("**/library/")
    assert "Moved 3 files to the trash." in page.inner_text("main")
    assert page.locator("tbody tr a").first.inner_text() == "keep.txt"
    assert page.locator("tbody tr").count() == 1


def test_ticks_survive_the_list_refreshing_itself(page, tmp_path):
    from apps.library.models import File

    sign_up(page, "patient")
    paths = []
    for name in ("a.txt", "b.txt"):
        path = tmp_path / name
        path.write_bytes(b"pending preview\n")
        paths.append(path)
    upload(page, *paths)
    page.check("input[aria-label='Select a.txt']")
    # The previews are made (no worker runs here: the row is written as the task would),
    # so the next refresh of the rows brings new markup.
    File.objects.update(preview_state="none", preview_note="test")
    page.wait_for_selector("tbody:not(:has([data-pending]))", timeout=30_000)
    assert page.is_checked("input[aria-label='Select a.txt']")
    assert not page.is_checked("input[aria-label='Select b.txt']")
