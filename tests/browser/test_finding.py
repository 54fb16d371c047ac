"""A person finds a file in a long library in Chromium: searches, picks a type, sorts by a
column, pages through, at 1280 and 390 px."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser.conftest import WIDTHS

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-Long-enough-passw0rd"


def log_in(page, username):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/library/")


def make_library(owner):
    """30 reports (PDFs of growing size) and a photo, without S3 objects or previews."""
    from apps.library.models import File, Kind, PreviewState

    now = timezone.now()
    rows = [File(owner=owner, original_name=f"Report {i:02}.pdf", size=1000 * (i + 1),
                 title="Quarterly figures" if i == 7 else "",
                 content_type="application/pdf", detected_type="application/pdf",
                 file=f"uploads/test/report-{i}.pdf", preview_state=PreviewState.NONE,
                 kind=Kind.PDF)
            for i in range(30)]
    rows.append(File(owner=owner, original_name="beach.jpg", size=50, content_type="image/jpeg",
                     detected_type="image/jpeg", file="uploads/test/beach.jpg",
                     preview_state=PreviewState.NONE, kind=Kind.IMAGE))
    created = File.objects.bulk_create(rows)  # kinds given: bulk_create skips save()
    for minutes, row in enumerate(created):
        File.objects.filter(pk=row.pk).update(uploaded_at=now - timedelta(minutes=60 - minutes))


@pytest.fixture
def finder(page, django_user_model):
    owner = django_user_model.objects.create_user("finder", password=PASSWORD)
    make_library(owner)
    log_in(page, "finder")
    return page


def rows(page):
    return page.locator("tbody tr a").all_inner_texts()


def no_sideways_scroll(page):
    page.set_viewport_size({"width": WIDTHS["narrow"], "height": 800})
    fits = page.evaluate("document.documentElement.scrollWidth") <= WIDTHS["narrow"]
    page.set_viewport_size({"width": WIDTHS["wide"], "height": 800})
    return fits


def test_a_search_by_title_finds_the_file_and_can_be_linked(finder, screenshots):
    page = finder
    page.fill("input[name=q]", "quarterly")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/library/?q=quarterly*")
    assert rows(page) == ["Report 07.pdf"]
    assert "1 file found" in page.inner_text("main")
    screenshots(page, "list-search")
    assert no_sideways_scroll(page)

    page.goto(page.url)  # the same search from its link
    assert page.input_value("input[name=q]") == "quarterly"
    assert rows(page) == ["Report 07.pdf"]


def test_a_type_and_a_column_order_narrow_and_sort_the_list(finder, screenshots):
    page = finder
    page.select_option("select[name=type]", "image")
    page.click("main form button:has-text('Show')")
    page.wait_for_url("**type=image*")
    assert rows(page) == ["beach.jpg"]

    page.click("main a:has-text('Clear search')")
    page.click("th a:has-text('Size')")  # largest first, then smallest
    page.wait_for_url("**sort=-size*")
    assert rows(page)[:2] == ["Report 29.pdf", "Report 28.pdf"]
    assert page.get_attribute("th:has(a:has-text('Size'))", "aria-sort") == "descending"
    page.click("th a:has-text('Size')")
    page.wait_for_url("**sort=size*")
    assert rows(page)[:2] == ["beach.jpg", "Report 00.pdf"]
    screenshots(page, "list-sorted")
    assert no_sideways_scroll(page)


def test_the_next_page_keeps_the_search_and_the_order(finder):
    page = finder
    page.fill("input[name=q]", "report")
    page.select_option("select[name=sort]", "name")
    page.click("main form button:has-text('Show')")
    page.wait_for_url("**sort=name*")
    assert rows(page)[0] == "Report 00.pdf" and len(rows(page)) == 25
    page.click("a[rel=next]")
    page.wait_for_url("**page=2*")
    assert rows(page) == [f"Report {i}.pdf" for i in range(25, 30)]
    assert "Page 2 of 2" in page.inner_text("main")


def test_a_search_that_finds_nothing_says_so(finder, screenshots):
    page = finder
    page.fill("input[name=q]", "holiday snaps")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=holiday*")
    assert "No files match “holiday snaps”." in page.inner_text("main")
    screenshots(page, "list-no-match")
