"""Finding files on the library page: ?q= searches names and titles, ?sort= orders by
name, size or date, ?type= keeps one kind; all of them survive paging."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.library.listing import MAX_QUERY_LENGTH
from apps.library.models import File

from .helpers import make_rows

pytestmark = pytest.mark.django_db

LIST = reverse("library:list")


def names(response):
    return [file.original_name for file in response.context["page_obj"]]


def make_file(owner, name, title="", size=1, content_type="application/octet-stream",
              detected_type="", minutes_ago=0):
    """One row with no S3 object, uploaded `minutes_ago`."""
    file = File.objects.create(owner=owner, original_name=name, title=title, size=size,
                               content_type=content_type, detected_type=detected_type,
                               file=f"uploads/test/{name}")
    File.objects.filter(pk=file.pk).update(
        uploaded_at=timezone.now() - timedelta(minutes=minutes_ago))
    return file


@pytest.fixture
def library(user):
    """Four files of four kinds, uploaded in this order (the PDF last)."""
    make_file(user, "beach.JPG", title="Summer holiday", size=3000, content_type="image/jpeg",
              detected_type="image/jpeg", minutes_ago=4)
    make_file(user, "notes.txt", title="Shopping", size=10, content_type="text/plain",
              detected_type="text/plain", minutes_ago=3)
    make_file(user, "archive.zip", size=500, content_type="application/zip",
              detected_type="application/zip", minutes_ago=2)
    make_file(user, "Tax return 2025.pdf", title="For the accountant", size=2000,
              content_type="application/pdf", detected_type="application/pdf", minutes_ago=1)


# -- search -------------------------------------------------------------------------------

def test_a_search_finds_a_part_of_a_name(user_client, library):
    assert names(user_client.get(LIST, {"q": "each"})) == ["beach.JPG"]


def test_a_search_ignores_case(user_client, library):
    assert names(user_client.get(LIST, {"q": "TAX RETURN"})) == ["Tax return 2025.pdf"]


def test_a_search_finds_a_title(user_client, library):
    assert names(user_client.get(LIST, {"q": "holiday"})) == ["beach.JPG"]


def test_every_word_of_a_search_must_match_the_name_or_the_title(user_client, library):
    assert names(user_client.get(LIST, {"q": "accountant 2025"})) == ["Tax return 2025.pdf"]
    assert names(user_client.get(LIST, {"q": "accountant beach"})) == []


def test_a_search_never_finds_another_users_files(user_client, library, other_user):
    make_file(other_user, "beach-theirs.jpg")
    assert names(user_client.get(LIST, {"q": "beach"})) == ["beach.JPG"]


def test_a_search_that_finds_nothing_says_so(user_client, library):
    response = user_client.get(LIST, {"q": "nothing like it"})
    assert "No files match “nothing like it”." in response.content.decode()


def test_a_search_is_kept_in_its_field(user_client, library):
    assert b'value="holiday"' in user_client.get(LIST, {"q": "holiday"}).content


def test_a_search_at_the_longest_length_is_answered(user_client, library):
    assert user_client.get(LIST, {"q": "x" * MAX_QUERY_LENGTH}).status_code == 200


def test_an_overlong_search_is_refused_with_a_400(user_client, library):
    assert user_client.get(LIST, {"q": "x" * (MAX_QUERY_LENGTH + 1)}).status_code == 400


def test_a_search_made_of_spaces_shows_everything(user_client, library):
    assert len(names(user_client.get(LIST, {"q": "   "}))) == 4


# -- sort ---------------------------------------------------------------------------------

def test_the_default_order_is_newest_first(user_client, library):
    assert names(user_client.get(LIST)) == [
        "Tax return 2025.pdf", "archive.zip", "notes.txt", "beach.JPG"]


def test_sort_by_date_oldest_first(user_client, library):
    assert names(user_client.get(LIST, {"sort": "date"})) == [
        "beach.JPG", "notes.txt", "archive.zip", "Tax return 2025.pdf"]


def test_sort_by_name_ignores_case(user_client, library):
    assert names(user_client.get(LIST, {"sort": "name"})) == [
        "archive.zip", "beach.JPG", "notes.txt", "Tax return 2025.pdf"]


def test_sort_by_name_z_to_a(user_client, library):
    assert names(user_client.get(LIST, {"sort": "-name"})) == [
        "Tax return 2025.pdf", "notes.txt", "beach.JPG", "archive.zip"]


def test_sort_by_size_smallest_first(user_client, library):
    assert names(user_client.get(LIST, {"sort": "size"})) == [
        "notes.txt", "archive.zip", "Tax return 2025.pdf", "beach.JPG"]


def test_sort_by_size_largest_first(user_client, library):
    assert names(user_client.get(LIST, {"sort": "-size"})) == [
        "beach.JPG", "Tax return 2025.pdf", "archive.zip", "notes.txt"]


def test_an_unknown_sort_falls_back_to_newest_first(user_client, library):
    response = user_client.get(LIST, {"sort": "owner; DROP TABLE"})
    assert response.status_code == 200
    assert names(response) == names(user_client.get(LIST))


def test_the_sorted_column_says_so_and_its_header_reverses_it(user_client, library):
    page = user_client.get(LIST, {"sort": "name"}).content.decode()
    assert 'aria-sort="ascending"><a href="?sort=-name">Name</a>' in page
    assert 'aria-sort="none"><a href="?sort=-size">Size</a>' in page


# -- type ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "expected"), [
    ("image", ["beach.JPG"]), ("pdf", ["Tax return 2025.pdf"]), ("text", ["notes.txt"]),
    ("other", ["archive.zip"]),
])
def test_a_type_keeps_only_files_of_that_kind(user_client, library, kind, expected):
    assert names(user_client.get(LIST, {"type": kind})) == expected


def test_the_type_is_the_one_the_bytes_show_not_the_name(user_client, user):
    make_file(user, "photo.png", content_type="application/octet-stream",
              detected_type="text/plain")
    assert names(user_client.get(LIST, {"type": "text"})) == ["photo.png"]
    assert names(user_client.get(LIST, {"type": "image"})) == []


def test_until_the_bytes_are_read_the_stored_type_decides(user_client, user):
    make_file(user, "data.json", content_type="application/json")
    assert names(user_client.get(LIST, {"type": "text"})) == ["data.json"]


def test_an_unknown_type_shows_every_type(user_client, library):
    assert len(names(user_client.get(LIST, {"type": "spreadsheet"}))) == 4


def test_a_type_with_no_files_says_so(user_client, user):
    make_file(user, "notes.txt", content_type="text/plain")
    assert "No files match among your images." in user_client.get(
        LIST, {"type": "image"}).content.decode()


# -- together -----------------------------------------------------------------------------

def test_search_type_and_sort_combine(user_client, user):
    make_file(user, "report-a.pdf", size=5, content_type="application/pdf")
    make_file(user, "report-b.pdf", size=9, content_type="application/pdf")
    make_file(user, "report-c.txt", size=7, content_type="text/plain")
    assert names(user_client.get(LIST, {"q": "report", "type": "pdf", "sort": "-size"})) == [
        "report-b.pdf", "report-a.pdf"]


def test_pages_of_a_search_keep_the_search_and_the_order(user_client, user):
    make_rows(user, 30, prefix="match")
    make_rows(user, 5, prefix="other")
    first = user_client.get(LIST, {"q": "match", "sort": "size"})
    assert first.context["page_obj"].paginator.count == 30
    assert 'href="?q=match&amp;sort=size&amp;page=2"' in first.content.decode()
    second = user_client.get(LIST, {"q": "match", "sort": "size", "page": 2})
    assert names(second) == [f"match-{i}.txt" for i in range(25, 30)]


def test_a_searched_sorted_filtered_page_takes_no_query_per_file(
        user_client, library, django_assert_max_num_queries):
    # The user, the count, the page, the page's earlier copies, the bytes in files and in
    # uploads under way: no query per file.
    with django_assert_max_num_queries(6):
        user_client.get(LIST, {"q": "a", "type": "pdf", "sort": "-name"})
