"""The library page: the user's own files, newest first, 25 a page."""

import pytest
from django.urls import reverse

from .helpers import make_rows

pytestmark = pytest.mark.django_db

LIST = reverse("library:list")


def names(response):
    return [file.original_name for file in response.context["page_obj"]]


def test_the_list_shows_own_files_newest_first(user_client, user):
    make_rows(user, 3)
    assert names(user_client.get(LIST)) == ["row-2.txt", "row-1.txt", "row-0.txt"]


def test_the_list_hides_other_users_files(user_client, user, other_user):
    make_rows(user, 1, prefix="mine")
    make_rows(other_user, 1, prefix="theirs")
    response = user_client.get(LIST)
    assert names(response) == ["mine-0.txt"]
    assert b"theirs-0.txt" not in response.content


def test_the_list_links_each_file_to_its_page(user_client, user):
    [row] = make_rows(user, 1)
    assert reverse("library:detail", args=[row.public_id]).encode() in user_client.get(LIST).content


def test_the_list_shows_sizes_in_human_units(user_client, user):
    [row] = make_rows(user, 1)
    row.size = 1536
    row.save()
    assert "1.5\xa0KB" in user_client.get(LIST).content.decode()


def test_the_list_shows_25_files_a_page(user_client, user):
    make_rows(user, 30)
    first = user_client.get(LIST)
    second = user_client.get(LIST, {"page": 2})
    assert names(first) == [f"row-{i}.txt" for i in range(29, 4, -1)]
    assert names(second) == [f"row-{i}.txt" for i in range(4, -1, -1)]


def test_the_list_links_to_the_next_page(user_client, user):
    make_rows(user, 26)
    assert b'href="?page=2"' in user_client.get(LIST).content


def test_a_page_past_the_end_shows_the_last_page(user_client, user):
    make_rows(user, 30)
    response = user_client.get(LIST, {"page": 99})
    assert response.context["page_obj"].number == 2


def test_a_page_that_is_not_a_number_shows_the_first_page(user_client, user):
    make_rows(user, 30)
    response = user_client.get(LIST, {"page": "abc"})
    assert response.context["page_obj"].number == 1


def test_an_empty_library_says_so(user_client):
    assert b"No files yet." in user_client.get(LIST).content
