"""A real Chromium (the system's, see bin/install-system-packages) driven by Playwright."""

import os
import shutil
from pathlib import Path

import pytest

#: Widths the screenshots are taken at: a laptop and a phone.
WIDTHS = {"wide": 1280, "narrow": 390}
#: Where screenshots are kept after the run, for a person to look at (var/ is not in git).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    # This machine's network is closed: background fetches would only fail, noisily.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which Django's
    # guard against blocking calls in async code mistakes for async code: the test's own
    # database set-up and clean-up are plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Chromium is not installed (bin/install-system-packages installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def media_cors(live_server):
    """The media bucket's CORS rule names the live server's origin beside the site's (as
    provision_aws names the site's): the uploader sends files there from the page."""
    from django.conf import settings

    from storage_backends.provisioning import Provisioner

    Provisioner(sqs=False, sdb=False).ensure_bucket(settings.STRATUS_MEDIA_BUCKET,
                                                     [settings.SITE_URL, live_server.url])


@pytest.fixture
def page(browser, live_server, media_cors):
    """A fresh browser context (no cookies) on the live test server."""
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_without_script(browser, live_server):
    """A fresh browser context with JavaScript off: the site's plain forms only."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshots():
    """Call it with a page and a label to save full-page screenshots of the page at each of
    WIDTHS, under SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, label):
        size = page.viewport_size
        for name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=SCREENSHOTS / f"{label}-{name}.png", full_page=True)
        page.set_viewport_size(size)

    return take
