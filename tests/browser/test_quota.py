"""A person sees their storage used of their quota, and an upload that would pass it is
refused in the uploader before any byte is sent, in Chromium at 1280 and 390 px."""

import pytest

from apps.uploads.models import PendingUpload
from tests.browser.conftest import WIDTHS
from tests.browser.test_journey import sign_up
from tests.browser.uploading import UPLOAD_BUTTON, choose, upload

pytestmark = pytest.mark.django_db(transaction=True)


def test_usage_is_shown_and_an_upload_over_the_quota_is_refused(page, tmp_path, settings,
                                                                 screenshots):
    settings.STRATUS_USER_QUOTA_BYTES = 100
    sign_up(page, "thrifty")
    first = tmp_path / "first.txt"
    first.write_bytes(b"x" * 60)
    upload(page, first)

    page.goto("/library/")
    usage = page.locator(".usage")
    assert "60\xa0bytes of 100\xa0bytes used" in usage.inner_text()
    assert page.get_attribute("meter#usage-meter", "value") == "60"
    screenshots(page, "list-usage")

    second = tmp_path / "second.txt"
    second.write_bytes(b"y" * 41)
    choose(page, second)
    page.click(UPLOAD_BUTTON)
    error = page.locator(".upload-errors li")
    error.wait_for()
    assert "does not fit in your storage" in error.inner_text()
    assert "40\xa0bytes is left" in error.inner_text()
    assert not PendingUpload.objects.exists()
    screenshots(page, "upload-over-quota")
    page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["narrow"]
