"""Downloads: a redirect to a presigned S3 URL that serves the exact bytes, typed safely."""

import gzip
import time
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from apps.library.models import File

from .helpers import expiry_seconds, fetch, is_presigned, tiny_png, upload

pytestmark = pytest.mark.django_db

TEXT = b"plain text, served as an attachment\n"


def download(client, name, data):
    """Upload `data` as `name`, then ask for its download: the redirect response."""
    upload(client, name, data)
    return client.get(reverse("library:download", args=[File.objects.latest("pk").public_id]))


def test_download_redirects_to_a_presigned_s3_url(user_client, settings):
    response = download(user_client, "notes.txt", TEXT)
    assert response.status_code == 302
    url = urlsplit(response.url)
    assert url.netloc == urlsplit(settings.AWS_ENDPOINT_URLS["s3"]).netloc
    assert File.objects.get().file.name in url.path
    assert is_presigned(response.url)


def test_the_url_expires_after_the_configured_time(user_client, settings):
    settings.STRATUS_DOWNLOAD_URL_EXPIRY = 600
    upload(user_client, "notes.txt", TEXT)
    before = int(time.time())
    response = user_client.get(reverse("library:download", args=[File.objects.get().public_id]))
    after = int(time.time())
    # SigV2 states a moment, not a duration: allow for the second the request may span.
    assert 600 <= expiry_seconds(response.url, before) <= 600 + after - before


def test_the_redirect_is_never_cached(user_client):
    response = download(user_client, "notes.txt", TEXT)
    assert "no-store" in response["Cache-Control"]


def test_the_url_serves_the_exact_bytes(user_client):
    status, _, body = fetch(download(user_client, "notes.txt", TEXT).url)
    assert (status, body) == (200, TEXT)


def test_a_text_file_is_served_as_an_attachment(user_client):
    _, headers, _ = fetch(download(user_client, "notes.txt", TEXT).url)
    assert headers["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert headers["Content-Type"] == "text/plain"


def test_a_real_png_is_served_inline_as_png(user_client):
    png = tiny_png()
    _, headers, body = fetch(download(user_client, "dot.png", png).url)
    assert headers["Content-Disposition"] == 'inline; filename="dot.png"'
    assert headers["Content-Type"] == "image/png"
    assert body == png


def test_a_png_name_on_other_bytes_is_an_octet_stream_attachment(user_client):
    _, headers, _ = fetch(download(user_client, "fake.png", b"<html><script>").url)
    assert headers["Content-Disposition"] == 'attachment; filename="fake.png"'
    assert headers["Content-Type"] == "application/octet-stream"


def test_a_non_ascii_name_is_served_with_its_rfc_5987_form(user_client):
    _, headers, _ = fetch(download(user_client, "résumé.txt", TEXT).url)
    assert headers["Content-Disposition"] == (
        "attachment; filename=\"resume.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")


def test_the_url_is_signed_with_sigv4(user_client):
    response = download(user_client, "notes.txt", TEXT)
    assert "X-Amz-Signature" in response.url


def test_a_gzip_file_is_served_without_a_content_encoding(user_client):
    _, headers, _ = fetch(download(user_client, "notes.txt.gz", gzip.compress(TEXT)).url)
    assert headers["Content-Encoding"] is None
