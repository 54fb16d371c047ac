"""The tour docs/user-guide.md describes, walked in Chromium: each step does what the guide
says, and each leaves the picture the guide shows in var/test-artifacts/user-guide/
(bin/user-guide-screenshots runs this file and copies them to docs/images/)."""

import math
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_design import settled
from tests.browser.uploading import UPLOAD_BUTTON, choose, upload

pytestmark = pytest.mark.django_db(transaction=True)

#: Where the pictures are written (var/ is not in git; docs/images/ is).
GUIDE_IMAGES = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "user-guide"
#: The laptop window of the pictures: narrower than the tests' 1280 px, so a page fills it.
LAPTOP = 1024
PHONE = 390
#: A picture is cut off below this height (unless asked): the guide shows the top of a page.
MAX_HEIGHT = 720

SHARE_PASSWORD = "blue-harbour"


def photograph(page, name, width=LAPTOP, down_to="main > *", max_height=MAX_HEIGHT):
    """Save the top of the page, as wide as `width`, down to the last `down_to` element,
    as GUIDE_IMAGES/NAME.png in at most 256 colours (a page's few colours lose nothing)."""
    GUIDE_IMAGES.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 800})
    page.mouse.move(0, 0)  # no row lit by the pointer
    page.evaluate("document.activeElement && document.activeElement.blur()")
    settled(page)
    bottom = page.evaluate("""selector => Math.max(...[...document.querySelectorAll(selector)]
        .map(e => e.getBoundingClientRect().bottom + window.scrollY))""", down_to)
    height = min(math.ceil(bottom) + 16, max_height)
    path = GUIDE_IMAGES / f"{name}.png"
    page.screenshot(path=path, full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": height})
    _fewer_colours(path)


def _fewer_colours(path):
    from PIL import Image

    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def harbour_picture(path):
    """A small drawing to upload, so the library shows a thumbnail: sky, sea, sun, a sail."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (480, 320), "#8ec5ff")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 200, 480, 320), fill="#1f5fb4")
    draw.ellipse((360, 40, 420, 100), fill="#ffd65a")
    draw.polygon([(200, 190), (200, 90), (260, 190)], fill="#ffffff")
    draw.rectangle((170, 190, 280, 205), fill="#7a3e12")
    picture.save(path)


def files_to_upload(folder):
    """The files the tour uploads: notes, two minutes, a budget and a picture."""
    texts = {
        "holiday-notes.md": "# Harbour trip\n\n" + "".join(
            f"- day {n}: {what}\n" for n, what in enumerate(
                ["train to the coast", "boat to the island", "walk along the cliffs",
                 "fish market, then home"], start=1)),
        "minutes-january.txt": "Minutes of the January meeting\n\nPresent: Ana, Ben, Chloe\n",
        "minutes-february.txt": "Minutes of the February meeting\n\nPresent: Ana, Ben\n",
        "budget-2025.csv": "month,spent\njanuary,1200\nfebruary,950\n",
    }
    paths = []
    for name, text in texts.items():
        path = folder / name
        path.write_text(text)
        paths.append(path)
    picture = folder / "harbour.png"
    harbour_picture(picture)
    return [*paths, picture]


def open_file(page, name):
    page.goto("/library/")
    page.click(f"main a:text-is('{name}')")
    page.wait_for_selector(f"h1:text-is('{name}')")


def test_the_user_guide_tour(page, browser, tmp_path, tasks, run_worker, settings):
    # Sign up.
    page.goto("/accounts/signup/")
    page.fill("input[name=username]", "alex")
    page.fill("input[name=email]", "alex@example.com")
    page.fill("input[name=password1]", "a-Long-enough-passw0rd")
    page.fill("input[name=password2]", "a-Long-enough-passw0rd")
    photograph(page, "signup", max_height=900)
    page.click("main button:has-text('Sign up')")
    page.wait_for_url("**/library/")
    assert "No files yet." in page.inner_text("main")

    # Upload: the uploader takes several files at once; then the worker makes previews.
    files = files_to_upload(tmp_path)
    choose(page, *files)
    photograph(page, "upload", down_to="#uploader")
    # Sent one at a time: the tests' in-memory SQLite refuses concurrent writers at
    # once ("database table is locked") where the site's PostgreSQL or file would wait.
    page.reload()
    for path in files:
        upload(page, path)
    run_worker()
    page.goto("/library/")
    assert page.locator("table.files tbody tr").count() == 5
    page.locator(".thumb img").evaluate("image => image.decode()")  # the picture's, loaded
    photograph(page, "library")
    photograph(page, "library-phone", width=PHONE)

    # Find: a search by name, narrowed to text files, sorted by name.
    page.fill("#library-q", "minutes")
    page.select_option("#library-type", "text")
    page.select_option("#library-sort", "name")
    page.click("main button:has-text('Show')")
    page.wait_for_url("**/library/?q=minutes*")
    assert page.inner_text("main .result-count") == "2 files found"
    photograph(page, "find")

    # A file's page: its facts and preview.
    open_file(page, "holiday-notes.md")
    assert "boat to the island" in page.inner_text("pre.preview-text")
    photograph(page, "file", down_to="main .file-actions")

    # Share it: a link for 7 days, with a password.
    page.select_option("select[name=expires_in]", "7d")
    page.fill(".share-form input[name=password]", SHARE_PASSWORD)
    page.click(".share-form button:has-text('Create link')")
    link = page.input_value("#new-link-url")
    photograph(page, "share", down_to="main .sharing .table-scroll")

    visitor = browser.new_context(accept_downloads=True)  # logged out
    try:
        shared = visitor.new_page()
        shared.goto(link)
        shared.fill("input[name=password]", SHARE_PASSWORD)
        photograph(shared, "shared")
        with shared.expect_download() as caught:
            shared.click("main button:has-text('Download')")
        assert caught.value.suggested_filename == "holiday-notes.md"
    finally:
        visitor.close()

    # Delete a file, find it in the trash, restore it.
    open_file(page, "budget-2025.csv")
    page.click("main .file-actions a:has-text('Delete')")
    page.click("main button:has-text('Delete')")
    page.wait_for_url("**/library/")
    page.click("header a:has-text('Trash')")
    assert "budget-2025.csv" in page.inner_text("tr.trashed-file")
    photograph(page, "trash")
    page.click("tr.trashed-file button:has-text('Restore')")
    page.wait_for_selector("text=Restored budget-2025.csv.")

    # Download several files as one zip.
    page.goto("/library/")
    page.click("main a:has-text('Download several as a zip')")
    for name in ("minutes-january.txt", "minutes-february.txt"):
        page.check(f"tr:has-text('{name}') input[type=checkbox]")
    photograph(page, "zip-select")
    page.click("main button:has-text('Make the zip')")
    page.wait_for_selector("#zip-progress")
    run_worker()
    page.wait_for_selector("#zip-download")  # live.js brought the link
    photograph(page, "zip-ready")

    # Storage: what is used of the quota, and an upload that does not fit is refused.
    settings.STRATUS_USER_QUOTA_BYTES = 1024 * 1024
    choose(page, {"name": "holiday-video.mp4", "mimeType": "video/mp4",
                  "buffer": b"\0" * (2 * 1024 * 1024)})
    page.click(UPLOAD_BUTTON)
    error = page.locator(".upload-errors li")
    error.wait_for()
    assert "does not fit in your storage" in error.inner_text()
    # Uppy's own notice fades after a few seconds; the page's message stays.
    expect(page.locator(".uppy-Informer p")).to_have_count(0, timeout=15_000)
    photograph(page, "quota", down_to="main .usage, main .upload-errors")
