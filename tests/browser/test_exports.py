"""A zip in Chromium: select files, watch the zip being built, download it and compare."""

import io
import zipfile

import pytest

from tests.browser.test_journey import sign_up
from tests.browser.uploading import upload

pytestmark = pytest.mark.django_db(transaction=True)

CONTENTS = {"alpha.txt": b"alpha\n" * 100, "beta.txt": b"beta\n" * 200}


def test_select_files_and_download_them_as_one_zip(page, tmp_path, tasks, run_worker,
                                                    screenshots):
    sign_up(page, "zipper")
    for name, data in CONTENTS.items():
        path = tmp_path / name
        path.write_bytes(data)
        upload(page, path)

    page.goto("/library/")
    page.click("main a:has-text('Download several as a zip')")
    for name in CONTENTS:
        page.check(f"tr:has-text('{name}') input[type=checkbox]")
    screenshots(page, "zip-select")
    page.click("main button:has-text('Make the zip')")
    page.wait_for_selector("#zip-progress")
    screenshots(page, "zip-building")

    run_worker()  # the files' facts and previews, and the zip
    page.wait_for_selector("#zip-download")  # live.js refreshed the page
    screenshots(page, "zip-ready")
    with page.expect_download() as caught:
        page.click("#zip-download")
    archive = zipfile.ZipFile(io.BytesIO(open(caught.value.path(), "rb").read()))
    assert {name: archive.read(name) for name in archive.namelist()} == CONTENTS
