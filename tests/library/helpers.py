"""Helpers for the library's tests: uploads over the test client, reads over real HTTP."""

import struct
import zlib
from urllib.parse import parse_qs, urlsplit
from urllib.error import HTTPError
from urllib.request import urlopen

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse


def upload(client, name, data, title="", content_type="application/octet-stream"):
    """POST one file to the upload form; the response, not followed."""
    return client.post(reverse("library:upload"), {
        "file": SimpleUploadedFile(name, data, content_type=content_type),
        "title": title,
    })


def upload_raw(client, filename, data):
    """POST a multipart body built by hand, so `filename` reaches the server verbatim.

    Django's test client keeps only the basename of a file's name; a browser or script
    may send anything.
    """
    boundary = "stratus-test-boundary"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(reverse("library:upload"), data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def presigned_query(url):
    """The query of a presigned URL as {name: value}."""
    return {name: value for name, [value] in parse_qs(urlsplit(url).query).items()}


def is_presigned(url):
    """Whether `url` carries a query-string signature (SigV4 or the legacy SigV2)."""
    return bool({"X-Amz-Signature", "Signature"} & presigned_query(url).keys())


def expiry_seconds(url, signed_at):
    """How long after `signed_at` (epoch seconds) a presigned URL stops working.

    SigV4 states the duration (X-Amz-Expires); SigV2 states the moment (Expires).
    """
    query = presigned_query(url)
    if "X-Amz-Expires" in query:
        return int(query["X-Amz-Expires"])
    return int(query["Expires"]) - signed_at


def stored_object(s3, key):
    """(body bytes, get_object response) of an object in the media bucket."""
    response = s3.get_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key)
    return response["Body"].read(), response


def object_exists(s3, key):
    try:
        s3.head_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def keys_ending_with(s3, suffix):
    """Every key under uploads/ that ends with `suffix`."""
    paginator = s3.get_paginator("list_objects_v2")
    return [item["Key"]
            for page in paginator.paginate(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                           Prefix="uploads/")
            for item in page.get("Contents", []) if item["Key"].endswith(suffix)]


def fetch(url):
    """GET a URL over real HTTP: (status, headers, body), errors included."""
    try:
        with urlopen(url, timeout=10) as response:
            return response.status, response.headers, response.read()
    except HTTPError as error:
        return error.code, error.headers, error.read()


def tiny_png():
    """A valid 1x1 black PNG: signature, IHDR, IDAT and IEND, each chunk with its CRC."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\x00")  # one row: filter byte, one pixel
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def make_rows(owner, count, prefix="row"):
    """`count` File rows for `owner` with no S3 objects, oldest first (for listing tests)."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.library.models import File

    rows = File.objects.bulk_create(
        File(owner=owner, original_name=f"{prefix}-{i}.txt", file=f"uploads/test/{prefix}-{i}.txt",
             size=i + 1, content_type="text/plain")
        for i in range(count)
    )
    # auto_now_add stamped them all at once; spread them out so the order is by time.
    start = timezone.now() - timedelta(days=1)
    for i, row in enumerate(rows):
        row.uploaded_at = start + timedelta(minutes=i)
    File.objects.bulk_update(rows, ["uploaded_at"])
    return rows
