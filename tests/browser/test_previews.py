"""Previews in Chromium: the file page shows the thumbnail once the worker has made it,
with no reload, and the library shows it beside the name."""

import io

import pytest
from PIL import Image, ImageDraw


from .test_journey import sign_up, upload

pytestmark = pytest.mark.django_db(transaction=True)


def picture():
    """An 800 x 600 PNG: a sky-to-sea gradient with a sun, so a thumbnail is easy to judge."""
    sky = Image.linear_gradient("L").resize((800, 600))
    image = Image.merge("RGB", (sky.point(lambda v: 60 + v // 3), sky.point(lambda v: 120 + v // 4),
                                Image.new("L", (800, 600), 200)))
    ImageDraw.Draw(image).ellipse((520, 80, 680, 240), fill=(250, 200, 60))
    output = io.BytesIO()
    image.save(output, "PNG")
    return output.getvalue()


def shown_preview_size(page):
    """Wait for the file page's preview image to appear and load; its [width, height]."""
    thumbnail = page.locator("img.preview-image")
    thumbnail.wait_for(state="visible")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=thumbnail.element_handle())
    return thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]")


@pytest.fixture
def console_errors(page):
    """What the console says about the policy or script errors, for every page opened."""
    seen = []
    page.on("console", lambda message: seen.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.append(f"script error {error}"))
    return seen


def test_the_thumbnail_appears_on_the_file_page_without_a_reload(
        page, tmp_path, tasks, run_worker, screenshots, console_errors):
    sign_up(page, "viewer")
    photo = tmp_path / "harbour.png"
    photo.write_bytes(picture())
    upload(page, photo)
    assert page.locator(".preview .pending").inner_text() == "being made…"
    screenshots(page, "detail-preview-pending")
    loads = []
    page.on("load", lambda loaded: loads.append(loaded.url))

    run_worker()

    assert shown_preview_size(page) == [480, 360]
    assert page.locator("[data-pending]").count() == 0  # the facts came too
    assert "SHA-256" in page.inner_text("main dl")
    assert loads == []  # no reload: the page updated itself
    screenshots(page, "detail-preview")

    page.goto("/library/")
    small = page.locator("tbody .thumb img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=small.element_handle())
    screenshots(page, "list-preview")
    assert console_errors == []


def test_a_text_files_first_lines_show_on_its_page(page, tmp_path, tasks, run_worker,
                                                   screenshots):
    sign_up(page, "reader")
    notes = tmp_path / "notes.md"
    notes.write_text("# Trip notes\n\n" + "".join(
        f"- day {n}: walked along the harbour, very long line that wraps on a phone\n"
        for n in range(1, 30)))
    upload(page, notes)
    run_worker()
    text = page.locator("pre.preview-text")
    text.wait_for(state="visible")
    assert text.inner_text().startswith("# Trip notes\n\n- day 1:")
    screenshots(page, "detail-text-preview")
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_pdfs_first_page_appears_on_its_page_without_a_reload(page, tmp_path, tasks,
                                                                 run_worker, screenshots):
    sign_up(page, "reviewer")
    report = tmp_path / "report.pdf"
    first, second = Image.new("RGB", (200, 300), "red"), Image.new("RGB", (300, 200), "blue")
    output = io.BytesIO()
    first.save(output, "PDF", save_all=True, append_images=[second])
    report.write_bytes(output.getvalue())
    upload(page, report)
    loads = []
    page.on("load", lambda loaded: loads.append(loaded.url))

    run_worker()

    assert shown_preview_size(page) == [320, 480]
    assert loads == []
    screenshots(page, "detail-pdf-preview")
