"""A file's kind for the list's type filter: the bytes' type once the facts task has read
them, the stored type until then."""

import pytest

from apps.library.models import File, Kind, kind_of

from .helpers import tiny_png, upload


@pytest.mark.parametrize(("detected", "stored", "kind"), [
    ("image/png", "image/png", Kind.IMAGE),
    ("application/pdf", "application/octet-stream", Kind.PDF),
    ("text/plain", "application/octet-stream", Kind.TEXT),
    ("application/zip", "application/zip", Kind.OTHER),
    ("text/plain", "image/png", Kind.TEXT),  # the bytes win over the name
    ("", "image/jpeg", Kind.IMAGE),
    ("", "application/pdf", Kind.PDF),
    ("", "application/json", Kind.TEXT),
    ("", "text/csv", Kind.TEXT),
    ("", "application/octet-stream", Kind.OTHER),
])
def test_kind_of(detected, stored, kind):
    assert kind_of(detected, stored) == kind


@pytest.mark.django_db(transaction=True)
def test_the_facts_task_sets_the_kind_the_bytes_show(user_client, tasks, run_worker):
    upload(user_client, "fake.png", b"plain words, no picture\n")
    file = File.objects.latest("pk")
    assert file.kind == Kind.OTHER  # stored as octet-stream: the name lied about an image
    run_worker()
    file.refresh_from_db()
    assert file.kind == Kind.TEXT


@pytest.mark.django_db(transaction=True)
def test_an_upload_gets_its_kind_from_the_stored_type(user_client):
    upload(user_client, "dot.png", tiny_png())
    assert File.objects.latest("pk").kind == Kind.IMAGE
