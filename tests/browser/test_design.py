"""Every user page in Chromium, as a phone and a laptop show it, light and dark: no page
scrolls sideways at 390 px, axe-core finds no serious or critical violation, and
screenshots of each are kept (var/test-artifacts/screenshots/page-*.png)."""

from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.browser.conftest import WIDTHS
from tests.browser.uploading import upload

pytestmark = pytest.mark.django_db(transaction=True)

USERNAME = "designer"
PASSWORD = "a-Long-enough-passw0rd"
#: axe-core, pinned in package.json and installed by `make assets` (bin/build-assets).
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
#: What fails a page: axe-core's two highest impacts.
BLOCKING = ("serious", "critical")

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.map(n => [n.target.join(" "), n.html.slice(0, 160),
                                                               n.failureSummary])}));
}"""


@pytest.fixture
def axe_page(browser, live_server, media_cors):
    """A fresh context whose pages may take axe-core as a script tag: the site's policy
    refuses any script not served by the site (test_csp.py checks the policy itself)."""
    assert AXE.exists(), f"{AXE} is missing: `make assets` installs it"
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture(autouse=True)
def forget_log_in_failures(settings):
    """The lock-out test's failures live in the shared cache: no other test may meet them."""
    from django.core.cache import caches

    caches[settings.AXES_CACHE].clear()
    yield
    caches[settings.AXES_CACHE].clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(USERNAME, f"{USERNAME}@example.com", PASSWORD)


def overflow(page):
    """How many pixels the page is wider than the window (0: no sideways scroll)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")


def settled(page):
    """Wait for the page's transitions (Uppy fades its colours to a new scheme) to end;
    endless animations (a pending fact's pulse) are not waited for, and one cancelled by a
    newer one (its promise rejects) counts as ended."""
    page.evaluate("""async () => {
      // Transitions start at the next frame's style update: wait for it, then for them.
      await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
      await Promise.all(document.getAnimations()
        .filter(a => a.effect.getComputedTiming().endTime !== Infinity)
        .map(a => a.finished.catch(() => null)));
    }""")


def serious_violations(page):
    """axe-core's serious and critical findings on the page as it is now."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]


def check(page, label, screenshots):
    """The page, light and dark, fits 390 px, passes axe-core at both widths, and is
    photographed at each width (page-LABEL-wide.png, page-LABEL-dark-narrow.png …)."""
    size = page.viewport_size
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        settled(page)
        for width in WIDTHS.values():
            page.set_viewport_size({"width": width, "height": 800})
            assert overflow(page) <= 0, f"{label} ({scheme}) scrolls sideways at {width} px"
            assert serious_violations(page) == [], f"{label} ({scheme}) at {width} px"
        screenshots(page, f"page-{label}" + ("-dark" if scheme == "dark" else ""))
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)


def log_in(page, username=USERNAME, password=PASSWORD):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/library/")


def reset_path(user):
    """The path of a fresh password reset link for `user`, as the mail gives it."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"/accounts/reset/{uid}/{default_token_generator.make_token(user)}/"


# -- logged out ---------------------------------------------------------------------------

def test_log_in_page(axe_page, screenshots):
    axe_page.goto("/accounts/login/")
    check(axe_page, "login", screenshots)


def test_log_in_page_with_an_error(axe_page, user, screenshots):
    axe_page.goto("/accounts/login/")
    axe_page.fill("input[name=username]", USERNAME)
    axe_page.fill("input[name=password]", "wrong")
    axe_page.click("main button[type=submit]")
    axe_page.wait_for_selector(".errorlist")
    check(axe_page, "login-error", screenshots)


def test_sign_up_page(axe_page, screenshots):
    axe_page.goto("/accounts/signup/")
    check(axe_page, "signup", screenshots)


def test_sign_up_page_with_errors(axe_page, user, screenshots):
    axe_page.goto("/accounts/signup/")
    axe_page.fill("input[name=username]", USERNAME)
    axe_page.fill("input[name=email]", f"{USERNAME}@example.com")
    axe_page.fill("input[name=password1]", "short")
    axe_page.fill("input[name=password2]", "other")
    axe_page.click("main button[type=submit]")
    axe_page.wait_for_selector(".errorlist")
    check(axe_page, "signup-errors", screenshots)


def test_password_reset_page(axe_page, screenshots):
    axe_page.goto("/accounts/password_reset/")
    check(axe_page, "password-reset", screenshots)


def test_password_reset_sent_page(axe_page, screenshots):
    axe_page.goto("/accounts/password_reset/done/")
    check(axe_page, "password-reset-sent", screenshots)


def test_new_password_page(axe_page, user, screenshots):
    axe_page.goto(reset_path(user))
    axe_page.wait_for_selector("input[name=new_password1]")
    check(axe_page, "password-reset-confirm", screenshots)


def test_used_reset_link_page(axe_page, db, screenshots):
    axe_page.goto("/accounts/reset/MQ/wrong-token/")
    assert "This link no longer works" in axe_page.inner_text("h1")
    check(axe_page, "password-reset-invalid", screenshots)


def test_password_set_page(axe_page, screenshots):
    axe_page.goto("/accounts/reset/done/")
    check(axe_page, "password-reset-complete", screenshots)


def test_lock_out_page(axe_page, user, settings, screenshots):
    for _ in range(settings.STRATUS_LOGIN_ATTEMPTS + 1):
        axe_page.goto("/accounts/login/")
        axe_page.fill("input[name=username]", USERNAME)
        axe_page.fill("input[name=password]", "wrong")
        axe_page.click("main button[type=submit]")
        axe_page.wait_for_load_state()
    assert "Too many log-in attempts" in axe_page.inner_text("h1")
    check(axe_page, "locked-out", screenshots)


def test_not_found_page(axe_page, screenshots):
    assert axe_page.goto("/no/such/page/").status == 404
    check(axe_page, "not-found", screenshots)


# -- logged in ----------------------------------------------------------------------------

def test_empty_library_page(axe_page, user, screenshots):
    log_in(axe_page)
    assert "No files yet." in axe_page.inner_text("main .empty")
    check(axe_page, "library-empty", screenshots)


def test_library_page(axe_page, user, screenshots):
    from tests.library.helpers import make_rows

    make_rows(user, 3, prefix="holiday-photos")
    make_rows(user, 1, prefix="a-very-long-file-name-that-has-no-spaces-to-break-it-anywhere"
                              "-at-all-so-it-must-wrap")
    log_in(axe_page)
    check(axe_page, "library", screenshots)


def test_file_page_with_its_preview(axe_page, user, tmp_path, tasks, run_worker, screenshots):
    log_in(axe_page)
    notes = tmp_path / "trip-notes.md"
    notes.write_text("# Trip notes\n\n" + "".join(
        f"- day {n}: walked along the harbour, a line long enough to wrap on a phone\n"
        for n in range(1, 12)))
    upload(axe_page, notes, title="Summer trip")
    run_worker()
    axe_page.locator("pre.preview-text").wait_for(state="visible")
    check(axe_page, "file", screenshots)


def test_delete_page(axe_page, user, screenshots):
    from tests.library.helpers import make_rows

    [row] = make_rows(user, 1, prefix="old-report")
    log_in(axe_page)
    axe_page.goto(f"/library/{row.public_id}/delete/")
    check(axe_page, "file-delete", screenshots)


def test_upload_page(axe_page, user, screenshots):
    log_in(axe_page)
    axe_page.goto("/library/upload/")
    axe_page.wait_for_selector("#uploader:not([hidden]) .uppy-Dashboard")
    assert axe_page.locator("form.plain-upload").is_hidden()  # the uploader replaces it
    check(axe_page, "upload", screenshots)


def test_password_change_page(axe_page, user, screenshots):
    log_in(axe_page)
    axe_page.goto("/accounts/password_change/")
    check(axe_page, "password-change", screenshots)


def test_password_changed_page(axe_page, user, screenshots):
    log_in(axe_page)
    axe_page.goto("/accounts/password_change/done/")
    check(axe_page, "password-change-done", screenshots)


def test_a_long_username_wraps_in_the_header(axe_page, django_user_model, screenshots):
    long_name = "a-name-as-long-as-django-allows-" * 4 + "and-then-some"
    django_user_model.objects.create_user(long_name, "long@example.com", PASSWORD)
    log_in(axe_page, username=long_name)
    axe_page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    assert overflow(axe_page) <= 0
    assert axe_page.locator("header button:has-text('Log out')").is_visible()
    screenshots(axe_page, "page-long-username")


# -- sharing, finding, the trash and zips -------------------------------------------------

def settled_files(user, names, kind_of_each="text/plain"):
    """File rows for `user` (no S3 objects) whose checksum and preview are recorded, so
    their pages show what a person sees once the worker is done, not "being checked…"."""
    from django.utils import timezone

    from apps.library.models import File, PreviewState
    from tests.library.helpers import make_rows

    rows = make_rows(user, len(names))
    for row, name in zip(rows, names):
        row.original_name = name
        row.content_type = row.detected_type = kind_of_each
        row.sha256 = f"{row.pk:064x}"
        row.facts_recorded_at = timezone.now()
        row.preview_state = PreviewState.READY
        row.preview_text = f"The first lines of {name}."
        row.save()
    return File.objects.filter(pk__in=[row.pk for row in rows]).order_by("pk")


def share(file, days, password="", downloads=0, revoked=False):
    """A share link to `file` lasting `days` (a negative number: expired), downloaded
    `downloads` times; its token."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.sharing.models import ShareLink

    link, token = ShareLink.create(file, timezone.now() + timedelta(days=days), password)
    if downloads:
        ShareLink.objects.filter(pk=link.pk).update(download_count=downloads,
                                                    last_download_at=timezone.now())
    if revoked:
        link.revoke()
    return token


def test_file_page_with_its_share_links(axe_page, user, screenshots):
    [report] = settled_files(user, ["quarterly-report.txt"])
    share(report, 7, downloads=3)
    share(report, 30, password="for-the-board")
    share(report, -1)
    share(report, 7, revoked=True)
    log_in(axe_page)
    axe_page.goto(f"{report.get_absolute_url()}#sharing")
    assert axe_page.locator("tr.share-link").count() == 4
    check(axe_page, "file-sharing", screenshots)


def test_share_links_start_with_a_link_on_a_phone(axe_page, user):
    """No empty band above the first link: the list's box begins with its first card."""
    [report] = settled_files(user, ["quarterly-report.txt"])
    share(report, 7)
    log_in(axe_page)
    axe_page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    axe_page.goto(report.get_absolute_url())
    gap = axe_page.evaluate("""() =>
      document.querySelector(".share-link").getBoundingClientRect().top
      - document.querySelector(".sharing .table-scroll").getBoundingClientRect().top""")
    assert gap <= 1  # the box's border


def test_shares_page_with_a_new_link(axe_page, user, screenshots):
    [report] = settled_files(user, ["quarterly-report.txt"])
    log_in(axe_page)
    axe_page.goto(f"/library/{report.public_id}/shares/")
    axe_page.click(".share-form button:has-text('Create link')")
    axe_page.wait_for_selector("#new-link-url")
    check(axe_page, "shares-new-link", screenshots)


def test_shared_page_logged_out(axe_page, user, screenshots):
    [report] = settled_files(user, ["quarterly-report.txt"])
    token = share(report, 7)
    axe_page.goto(f"/s/{token}/")
    assert "quarterly-report.txt" in axe_page.inner_text("h1")
    check(axe_page, "shared", screenshots)


def test_shared_page_with_a_password_logged_out(axe_page, user, screenshots):
    [report] = settled_files(user, ["quarterly-report.txt"])
    token = share(report, 7, password="for-the-board")
    axe_page.goto(f"/s/{token}/")
    axe_page.fill("input[name=password]", "a wrong guess")
    axe_page.click("main button:has-text('Download')")
    axe_page.wait_for_selector("text=That is not the link's password.")
    check(axe_page, "shared-password", screenshots)


def test_shared_page_of_a_revoked_link(axe_page, user, screenshots):
    [report] = settled_files(user, ["quarterly-report.txt"])
    token = share(report, 7, revoked=True)
    assert axe_page.goto(f"/s/{token}/").status == 410
    check(axe_page, "shared-gone", screenshots)


def test_trash_page(axe_page, user, screenshots):
    from apps.library.deleting import delete_file

    for file in settled_files(user, ["old-draft.txt", "holiday-budget-2024.txt",
                                     "a-very-long-file-name-that-has-no-spaces-to-break-"
                                     "it-anywhere-at-all.txt"]):
        delete_file(file)
    log_in(axe_page)
    axe_page.goto("/library/trash/")
    assert axe_page.locator("tr.trashed-file").count() == 3
    check(axe_page, "trash", screenshots)


def test_empty_trash_page(axe_page, user, screenshots):
    log_in(axe_page)
    axe_page.goto("/library/trash/")
    assert "The trash is empty." in axe_page.inner_text("main .empty")
    check(axe_page, "trash-empty", screenshots)


def test_empty_the_trash_confirmation_page(axe_page, user, screenshots):
    from apps.library.deleting import delete_file

    [old] = settled_files(user, ["old-draft.txt"])
    delete_file(old)
    log_in(axe_page)
    axe_page.goto("/library/trash/empty/")
    check(axe_page, "trash-confirm-empty", screenshots)


def test_zip_selection_page(axe_page, user, screenshots):
    settled_files(user, ["minutes-january.txt", "minutes-february.txt",
                         "a-very-long-file-name-that-has-no-spaces-to-break-it-anywhere.txt"])
    log_in(axe_page)
    axe_page.goto("/library/exports/")
    axe_page.locator("input[name=files]").first.check()
    check(axe_page, "zip-select", screenshots)


def make_export(user, state, **progress):
    from django.utils import timezone

    from apps.exports.models import ZipExport

    files = settled_files(user, ["minutes-january.txt", "minutes-february.txt"])
    export = ZipExport.objects.create(
        owner=user, state=state, files_total=2, bytes_total=sum(f.size for f in files),
        ready_at=timezone.now() if state == "ready" else None, **progress)
    export.files.set(files)
    return export


def test_zip_page_while_it_is_built(axe_page, user, screenshots):
    export = make_export(user, "building", files_done=1, bytes_done=1)
    log_in(axe_page)
    axe_page.goto(export.get_absolute_url())
    assert axe_page.locator("progress#zip-progress").is_visible()
    check(axe_page, "zip-building", screenshots)


def test_zip_page_when_it_is_ready(axe_page, user, screenshots):
    export = make_export(user, "ready", files_done=2, bytes_done=3, zip_size=310,
                         key="exports/test.zip")
    log_in(axe_page)
    axe_page.goto(export.get_absolute_url())
    assert axe_page.locator("#zip-download").is_visible()
    check(axe_page, "zip-ready", screenshots)


def test_bulk_delete_confirmation_page(axe_page, user, screenshots):
    settled_files(user, ["old-draft.txt", "holiday-budget-2024.txt", "notes.txt"])
    log_in(axe_page)
    for box in axe_page.locator("input[name=files]").all()[:2]:
        box.check()
    axe_page.click("main button:has-text('Delete selected')")
    axe_page.wait_for_selector("h1:has-text('Delete 2 files?')")
    check(axe_page, "bulk-delete", screenshots)


def test_library_page_searched_sorted_and_filtered(axe_page, user, screenshots):
    settled_files(user, ["minutes-january.txt", "minutes-february.txt", "budget.txt"])
    settled_files(user, ["minutes-scan.png"], kind_of_each="image/png")
    log_in(axe_page)
    axe_page.goto("/library/?q=minutes&type=text&sort=name")
    assert axe_page.locator("table.files tbody tr").count() == 2
    check(axe_page, "library-search", screenshots)


def test_library_page_with_no_match(axe_page, user, screenshots):
    settled_files(user, ["minutes-january.txt"])
    log_in(axe_page)
    axe_page.goto("/library/?q=invoice")
    assert "No files match “invoice”" in axe_page.inner_text("main .empty")
    check(axe_page, "library-no-match", screenshots)
