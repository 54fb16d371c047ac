"""Uploading through the form: what reaches S3 and the database, and what is refused."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from apps.library.forms import UploadForm
from apps.library.models import File

from .helpers import keys_ending_with, stored_object, tiny_png, upload, upload_raw

pytestmark = pytest.mark.django_db

DATA = b"The quick brown fox\n" * 50


def unique(name):
    """`name` with a random stem, so a test can find its own objects in the shared bucket."""
    return f"{uuid.uuid4().hex[:12]}-{name}"


def test_the_upload_page_shows_a_multipart_form(user_client):
    response = user_client.get(reverse("library:upload"))
    assert response.status_code == 200
    assert b'enctype="multipart/form-data"' in response.content


def test_upload_stores_the_bytes_in_s3_under_a_random_prefix(user_client, s3):
    name = unique("notes.txt")
    upload(user_client, name, DATA)
    file = File.objects.get()
    assert re.fullmatch(rf"uploads/[0-9a-f]{{32}}/{re.escape(name)}", file.file.name)
    body, _ = stored_object(s3, file.file.name)
    assert body == DATA


def test_upload_records_name_size_type_and_owner(user_client, user):
    name = unique("notes.txt")
    upload(user_client, name, DATA)
    file = File.objects.get()
    assert (file.original_name, file.size, file.content_type, file.owner) == (
        name, len(DATA), "text/plain", user)


def test_upload_redirects_to_the_file_with_a_message(user_client):
    response = upload(user_client, unique("notes.txt"), DATA)
    file = File.objects.get()
    assert response.status_code == 302
    assert response.url == file.get_absolute_url()
    page = user_client.get(response.url)
    assert f"Uploaded {file}." in [str(message) for message in page.context["messages"]]


def test_the_stored_object_is_encrypted_at_rest(user_client, s3):
    upload(user_client, unique("notes.txt"), DATA)
    _, response = stored_object(s3, File.objects.get().file.name)
    assert response["ServerSideEncryption"] == "AES256"


@pytest.mark.parametrize("sent, kept", [
    ("../../etc/passwd", "passwd"),
    ("a/b\\c.txt", "c.txt"),
    ("..\\..\\windows\\win.ini", "win.ini"),
])
def test_the_key_never_holds_the_users_directories(user_client, sent, kept):
    response = upload_raw(user_client, sent, DATA)
    assert response.status_code == 302
    file = File.objects.get()
    assert re.fullmatch(rf"uploads/[0-9a-f]{{32}}/{re.escape(kept)}", file.file.name)
    assert file.original_name == kept


def test_title_is_optional(user_client):
    upload(user_client, unique("notes.txt"), DATA)
    assert File.objects.get().title == ""


def test_title_is_kept(user_client):
    upload(user_client, unique("notes.txt"), DATA, title="Meeting notes")
    assert File.objects.get().title == "Meeting notes"


def test_the_browsers_claimed_type_is_ignored(user_client, s3):
    upload(user_client, unique("page.txt"), b"<html><script>alert(1)</script>",
           content_type="text/html")
    file = File.objects.get()
    _, response = stored_object(s3, file.file.name)
    assert file.content_type == response["ContentType"] == "text/plain"


def test_a_real_png_is_typed_as_png(user_client):
    upload(user_client, unique("dot.png"), tiny_png())
    assert File.objects.get().content_type == "image/png"


def test_a_png_name_on_other_bytes_is_typed_octet_stream(user_client):
    upload(user_client, unique("fake.png"), b"<svg onload=alert(1)>", content_type="image/png")
    assert File.objects.get().content_type == "application/octet-stream"


def test_no_file_is_a_form_error(user_client):
    response = user_client.post(reverse("library:upload"), {"title": "nothing"})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == ["Choose a file to upload."]
    assert not File.objects.exists()


def test_an_empty_file_is_a_form_error(user_client):
    response = upload(user_client, unique("empty.txt"), b"")
    assert response.context["form"].errors["file"] == ["The file is empty."]


def test_an_empty_file_stores_nothing(user_client, s3):
    name = unique("empty.txt")
    upload(user_client, name, b"")
    assert not File.objects.exists()
    assert keys_ending_with(s3, name) == []


def test_a_file_over_the_limit_is_refused_with_the_413_page(user_client, settings):
    # The upload handler stops the file as it passes the limit (tests/site/
    # test_request_bodies.py); the form's own check below never sees it.
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 10
    response = upload(user_client, unique("big.txt"), b"x" * 11)
    assert response.status_code == 413
    assert "<title>Too large — Stratus</title>" in response.content.decode()


def test_the_form_refuses_a_file_over_the_limit_naming_it_in_human_units(settings):
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 2048
    form = UploadForm({"title": ""}, {"file": SimpleUploadedFile("big.txt", b"x" * 2049)})
    [error] = form.errors["file"]
    assert error == f"The file is {filesizeformat(2049)}; files can be at most 2.0\xa0KB."


def test_a_file_over_the_limit_stores_nothing(user_client, settings, s3):
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 10
    name = unique("big.txt")
    upload(user_client, name, b"x" * 11)
    assert not File.objects.exists()
    assert keys_ending_with(s3, name) == []


def test_a_file_at_the_limit_is_accepted(user_client, settings):
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 10
    response = upload(user_client, unique("exact.txt"), b"x" * 10)
    assert response.status_code == 302


def test_a_failed_insert_leaves_no_object_in_s3(user_client, s3):
    name = unique("notes.txt")

    def refuse_insert(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "library_file"'):
            raise DatabaseError("insert refused by the test")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_insert), pytest.raises(DatabaseError):
        upload(user_client, name, DATA)
    assert keys_ending_with(s3, name) == []
