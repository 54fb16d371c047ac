"""Duplicates: once the facts task has the checksum of a file's bytes, a file whose bytes
are already in the same user's library says so, on its page and in the list, with a link to
the earlier copy.

Transactional tests: the in-process worker reads the rows through its own connections.
"""

import hashlib
import uuid

import pytest
from django.urls import reverse

from apps.library import tasks as file_tasks
from apps.library.models import File
from apps.library.tasks import read_facts

from .helpers import upload

pytestmark = pytest.mark.django_db(transaction=True)

ALREADY = "This file is already in your library"
DATA = b"the same bytes, twice\n" * 10


def upload_ok(client, name, data=DATA):
    response = upload(client, f"{uuid.uuid4().hex[:8]}-{name}", data)
    assert response.status_code == 302, response.content
    return File.objects.latest("pk")


def page(client, file):
    return client.get(file.get_absolute_url()).content.decode()


def test_a_second_upload_of_the_same_bytes_links_to_the_first(user_client, tasks, run_worker):
    first = upload_ok(user_client, "original.txt")
    second = upload_ok(user_client, "copy.txt")
    run_worker()
    shown = page(user_client, second)
    assert ALREADY in shown
    assert f'<a href="{first.get_absolute_url()}">{first.original_name}</a>' in shown
    assert f'href="{reverse("library:delete", args=[second.public_id])}">Delete this copy' in (
        shown)


def test_the_first_copy_is_not_called_a_duplicate(user_client, tasks, run_worker):
    first = upload_ok(user_client, "original.txt")
    upload_ok(user_client, "copy.txt")
    run_worker()
    assert ALREADY not in page(user_client, first)


def test_a_copy_is_not_marked_until_its_checksum_is_known(user_client, tasks, run_worker):
    upload_ok(user_client, "original.txt")
    run_worker()
    second = upload_ok(user_client, "copy.txt")  # its facts task not run yet
    assert ALREADY not in page(user_client, second)


def test_different_bytes_are_not_a_duplicate(user_client, tasks, run_worker):
    upload_ok(user_client, "one.txt", b"one\n")
    second = upload_ok(user_client, "two.txt", b"two\n")
    run_worker()
    assert ALREADY not in page(user_client, second)


def test_the_same_bytes_in_another_users_library_are_not_a_duplicate(
        user_client, other_client, tasks, run_worker):
    upload_ok(other_client, "theirs.txt")
    mine = upload_ok(user_client, "mine.txt")
    run_worker()
    assert ALREADY not in page(user_client, mine)


def test_the_list_marks_the_later_copy_with_a_link_to_the_first(user_client, tasks,
                                                                run_worker):
    first = upload_ok(user_client, "original.txt")
    upload_ok(user_client, "copy.txt")
    run_worker()
    listing = user_client.get(reverse("library:list")).content.decode()
    badge = (f'<a class="badge duplicate" href="{first.get_absolute_url()}">'
             f'already in your library</a>')
    assert listing.count(badge) == 1


def test_the_checksum_is_read_in_bounded_chunks(user_client, tasks, monkeypatch):
    """Memory stays flat: the object is hashed chunk by chunk, never read whole."""
    monkeypatch.setattr(file_tasks, "CHUNK_BYTES", 64 * 1024)
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    file = upload_ok(user_client, "big.bin", data)
    sizes = []
    feed = file_tasks.Facts.feed
    monkeypatch.setattr(file_tasks.Facts, "feed",
                        lambda self, chunk: (sizes.append(len(chunk)), feed(self, chunk)))
    facts = read_facts(file.file.name, file.file.storage)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert sum(sizes) == len(data) and max(sizes) <= 64 * 1024
