"""The Content-Security-Policy in Chromium: the site's and the admin's pages, task pages
included, load and run their scripts with no violation reported in the console."""

import pytest
from django.urls import reverse

from storage_backends import resources
from tests.browser.uploading import upload
from tests.tasks import jobs

pytestmark = pytest.mark.django_db(transaction=True)

USERNAME = "root"
PASSWORD = "a-Long-enough-passw0rd"

#: Every violation the page's document sees, said in the console in a form we can find
#: (an init script is injected by the browser itself, so the policy does not apply to it).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def violations(page):
    """What the console says about the policy, for every page the test opens: Chromium's
    own "Refused to ... Content Security Policy" messages and the init script's."""
    seen = []

    def record(message):
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            seen.append(f"{page.url}: {message.text}")

    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", record)
    page.on("pageerror", lambda error: seen.append(f"{page.url}: script error {error}"))
    return seen


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(USERNAME, password=PASSWORD)


@pytest.fixture
def logged_in(page, superuser, violations):
    """The page, logged in through the admin's own log-in form."""
    page.goto("/admin/login/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    return page


def visit(page, path):
    """Open `path` and wait for its load event (its scripts have run); the response."""
    return page.goto(path, wait_until="load")


def test_the_detector_sees_a_violation(page, violations):
    """Guards the tests below: an inline script is refused, and that is reported."""
    visit(page, "/accounts/login/")
    page.evaluate("""() => {
      const script = document.createElement("script");
      script.textContent = "window.ranInline = true";
      document.body.append(script);
    }""")
    assert page.evaluate("window.ranInline") is None
    assert any("script-src" in violation for violation in violations)


def test_site_pages_have_no_violations(page, violations):
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password_reset/",
                 "/accounts/password_reset/done/", "/no/such/page"):
        visit(page, path)
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong")
    with page.expect_navigation(wait_until="load"):
        page.click("main button[type=submit]")  # the form again, with its error
    assert violations == []


def test_signed_in_site_pages_have_no_violations(logged_in, violations, tmp_path):
    page = logged_in
    for path in ("/library/", "/library/upload/", "/accounts/password_change/"):
        visit(page, path)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"remember the milk\n")
    upload(page, notes)  # the uploader, sending straight to the bucket
    assert violations == []


def test_admin_index_changelists_and_forms_have_no_violations(logged_in, violations,
                                                              superuser):
    page = logged_in
    for path in ("/admin/", "/admin/auth/user/", "/admin/auth/user/add/",
                 "/admin/library/file/", "/admin/library/file/add/",
                 "/admin/uploads/pendingupload/", "/admin/auth/group/add/"):
        visit(page, path)

    visit(page, f"/admin/auth/user/{superuser.pk}/change/")
    # The form's scripts build their widgets in the page: the calendar, the clock and the
    # two-box permission picker.
    page.click("#calendarlink0")
    page.wait_for_selector("#calendarbox0", state="visible")
    page.keyboard.press("Escape")
    page.click("#clocklink0")
    page.wait_for_selector("#clockbox0", state="visible")
    assert page.locator("#id_user_permissions_filter").count() == 1

    visit(page, "/admin/auth/user/")
    page.check("#action-toggle")  # the action bar's script counts the selection
    page.wait_for_selector(".action-counter:has-text('1 of 1 selected')")
    assert violations == []


def test_admin_task_pages_have_no_violations(logged_in, violations):
    page = logged_in
    result = jobs.add.enqueue(2, 3)  # a result to show; no worker runs it
    queue = resources.queues()[0]
    for path in (reverse("admin:storage_backends_taskresultrecord_changelist"),
                 reverse("admin:storage_backends_taskresultrecord_change", args=[result.id]),
                 reverse("admin:storage_backends_taskqueue_changelist"),
                 reverse("admin:storage_backends_taskschedule_changelist"),
                 reverse("admin:storage_backends_deadletter_changelist"),
                 reverse("admin:storage_backends_deadletter_queue",
                         args=[queue.dead_letter_name])):
        assert visit(page, path).status == 200, path
    assert violations == []
