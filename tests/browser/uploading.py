"""Uploading in the browser: through the uploader (Uppy's Dashboard, straight to S3), or
through the plain form a browser without JavaScript gets."""

import re
from urllib.parse import urljoin

#: A library file's page: a 22-character public id, never a number.
FILE_URL = re.compile(r"/library/[A-Za-z0-9_-]{22}/$")
#: Uppy's file input (hidden; choosing files through it is what a drop or "browse" does).
UPPY_INPUT = ".uppy-Dashboard-input >> nth=0"
UPLOAD_BUTTON = ".uppy-StatusBar-actionBtn--upload"


def choose(page, *files):
    """Choose `files` in the page's uploader (the upload page's, unless the page has one),
    not yet sent: paths, or
    Playwright's {"name", "mimeType", "buffer"} payloads."""
    if page.locator("#uploader").count() == 0:  # not on a page with the uploader yet
        page.goto(urljoin(page.url, "/library/upload/"))
    page.wait_for_selector("#uploader:not([hidden]) .uppy-Dashboard")
    page.set_input_files(UPPY_INPUT, [f if isinstance(f, dict) else str(f) for f in files])


def upload(page, *files, title=""):
    """Upload `paths` through the uploader and wait for the page it goes to when done: the
    file's own page for one file, the library for several."""
    choose(page, *files)
    if title:
        page.click(".uppy-Dashboard-Item-action--edit")
        page.fill("#uppy-Dashboard-FileCard-input-title", title)
        page.click(".uppy-Dashboard-FileCard-actions button:has-text('Save')")
    page.click(UPLOAD_BUTTON)
    page.wait_for_url(FILE_URL if len(files) == 1 else "**/library/", timeout=60_000)


def upload_without_script(page, path):
    """Upload `path` through the plain form (the page as a browser without JavaScript gets it)."""
    page.goto("/library/upload/")
    page.set_input_files("input[name=file]", str(path))
    page.click("main button:has-text('Upload')")
