"""Request bodies over their URL's limit: refused with the 413 page, never read past it.

Through Django's test client, which hands the request's body to Django as a WSGI server
does. The node's nginx, which applies the same limits first, is tested in
tests/node/test_node_bodies.py.
"""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from apps.ops import bodies
from apps.ops.middleware import RequestBodyLimitMiddleware

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
ATTACK_LENGTH = 300 * MB


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    read_attempted = False

    def readable(self):
        return True

    def read(self, size=-1):
        UnreadableBody.read_attempted = True
        raise AssertionError("the server read a body it should have refused unread")

    readline = readinto = read


class CountingBody(io.BytesIO):
    """A request body that counts the bytes the server read from it."""

    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size=-1):
        data = super().readline(size)
        self.bytes_read += len(data)
        return data


def declared_post(client, path, length, content_type="application/octet-stream", **extra):
    """POST to `path` declaring a `length`-byte body that must never be read."""
    return client.generic("POST", path, b"x", content_type=content_type, **{
        "CONTENT_LENGTH": str(length), "wsgi.input": UnreadableBody(), **extra})


@pytest.fixture
def user_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("uploader"))
    return client


@pytest.fixture
def temp_dir(settings, tmp_path):
    """Uploads that pass through a temporary file put it here, where a test can look."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def test_a_300_mb_anonymous_post_to_healthz_is_refused_before_it_is_read(client):
    response = declared_post(client, "/healthz", ATTACK_LENGTH)
    assert response.status_code == 413


def test_a_300_mb_post_to_the_login_form_with_an_attackers_csrf_cookie_is_refused_unread(
        client, temp_dir):
    client.cookies["csrftoken"] = "a" * 32
    response = declared_post(client, reverse("login"), ATTACK_LENGTH,
                             content_type="multipart/form-data; boundary=attack",
                             HTTP_X_CSRFTOKEN="a" * 32)
    assert response.status_code == 413
    assert os.listdir(temp_dir) == []


def test_a_post_to_an_unknown_url_over_the_limit_is_refused_unread(client):
    assert declared_post(client, "/no/such/page", ATTACK_LENGTH).status_code == 413


def test_every_url_but_the_upload_form_refuses_a_body_just_over_the_node_limit(client,
                                                                               settings):
    response = declared_post(client, reverse("login"), settings.STRATUS_BODY_MAX_BYTES + 1)
    assert response.status_code == 413


def test_an_anonymous_post_to_the_upload_form_gets_the_small_limit(client, settings,
                                                                    temp_dir):
    client.cookies["csrftoken"] = "a" * 32
    response = declared_post(client, reverse("library:upload"),
                             settings.STRATUS_BODY_MAX_BYTES + 1,
                             content_type="multipart/form-data; boundary=attack",
                             HTTP_X_CSRFTOKEN="a" * 32)
    assert response.status_code == 413
    assert os.listdir(temp_dir) == []


def test_a_logged_in_post_to_the_upload_form_gets_the_upload_limit(user_client, settings):
    # Declared just over the small limit, but the body is a small form: not refused by length.
    response = user_client.post(reverse("library:upload"), {
        "file": SimpleUploadedFile("a.txt", b"a" * (settings.STRATUS_BODY_MAX_BYTES + 10))})
    assert response.status_code == 302


def test_the_413_page_is_the_sites_page_naming_the_limits(client, settings):
    response = declared_post(client, "/healthz", ATTACK_LENGTH)
    page = response.content.decode()
    assert "<title>Too large — Stratus</title>" in page
    assert "100.0\xa0MB" in page  # STRATUS_FORM_UPLOAD_MAX_BYTES
    assert "2.5\xa0MB" in page  # STRATUS_BODY_MAX_BYTES
    assert response["Content-Type"].startswith("text/html")


def test_a_logged_in_upload_over_the_limit_is_refused_before_it_is_read(
        user_client, settings, temp_dir):
    response = declared_post(user_client, reverse("library:upload"),
                             settings.STRATUS_UPLOAD_BODY_MAX_BYTES + 1,
                             content_type="multipart/form-data; boundary=upload")
    assert response.status_code == 413
    assert os.listdir(temp_dir) == []


def test_the_upload_form_accepts_a_body_over_the_limit_of_other_urls(user_client, settings):
    data = b"u" * (settings.STRATUS_BODY_MAX_BYTES + 1)
    response = user_client.post(reverse("library:upload"), {
        "file": SimpleUploadedFile("big.bin", data), "title": ""})
    assert response.status_code == 302


def multipart_upload(client, data, name="big.bin"):
    """POST `data` as the upload form's file; the response and the body as read."""
    boundary = "stratus-test-boundary"
    body = (f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + (
        f"\r\n--{boundary}--\r\n").encode()
    stream = CountingBody(body)
    response = client.generic(
        "POST", reverse("library:upload"), body,
        content_type=f"multipart/form-data; boundary={boundary}",
        **{"wsgi.input": stream})
    return response, stream


def test_a_file_passing_the_upload_limit_mid_body_is_stopped_there(user_client, settings,
                                                                   temp_dir):
    # A body within the URL's limit whose file is not: the upload handler stops it.
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 256 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every file through a temporary file
    response, stream = multipart_upload(user_client, b"f" * (4 * MB))
    assert response.status_code == 413
    # Django reads in 64 KiB chunks: it stopped within one of passing the limit.
    assert stream.bytes_read <= settings.STRATUS_FORM_UPLOAD_MAX_BYTES + 2 * 64 * 1024
    assert os.listdir(temp_dir) == []


def test_a_file_at_the_upload_limit_is_accepted(user_client, settings):
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 256 * 1024
    response, _ = multipart_upload(user_client, b"f" * (256 * 1024))
    assert response.status_code == 302


def test_a_file_part_declaring_a_size_over_the_limit_is_refused_before_it_is_stored(settings):
    settings.STRATUS_FORM_UPLOAD_MAX_BYTES = 1000
    handler = bodies.BoundedUploadHandler(RequestFactory().post("/", {}))
    with pytest.raises(bodies.RequestBodyTooLarge):
        handler.new_file("file", "big.bin", "application/octet-stream", 1001)


def reading_view(request):
    """A view that reads the whole raw body, as a JSON or XML endpoint would."""
    return HttpResponse(str(len(request.body)))


def test_a_body_the_server_did_not_measure_is_stopped_once_it_passes_the_limit(settings):
    # Under WSGI Django reads at most the declared length; a server that hands over a body
    # without one (chunked, ASGI) still meets the bound.
    settings.STRATUS_BODY_MAX_BYTES = 64 * 1024
    request = RequestFactory().post("/healthz", content_type="application/json")
    del request.META["CONTENT_LENGTH"]
    source = CountingBody(b"{" * (10 * MB))
    source.seekable = lambda: False
    request._stream = source
    # Wrapped as Django's handler wraps each layer, turning exceptions into responses.
    response = RequestBodyLimitMiddleware(convert_exception_to_response(reading_view))(request)
    assert response.status_code == 413
    assert source.bytes_read <= settings.STRATUS_BODY_MAX_BYTES + 1


def test_a_body_within_the_limit_is_read_whole(client):
    response = client.post(reverse("login"), {"username": "nobody", "password": "x" * 1000})
    assert response.status_code == 200
