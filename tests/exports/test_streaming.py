"""The zip writer's parts: S3 multipart uploads in parts, ZIP64 where sizes need it, and
entry names that stay inside the folder they are unpacked in."""

import io
import os
import zipfile

import pytest
from django.conf import settings

from apps.exports.streaming import MultipartUpload, entry_names, write_zip
from apps.library.models import File
from tests.library.helpers import upload

MIB = 1024 * 1024


def test_a_stream_is_sent_in_parts_of_the_given_size(s3):
    stream = MultipartUpload(s3, settings.STRATUS_MEDIA_BUCKET, "exports/test-parts.zip",
                             part_bytes=5 * MIB)
    for _ in range(12):
        stream.write(b"z" * MIB)
        assert len(stream.buffer) < 5 * MIB  # never more than one part held
    stream.complete()
    head = s3.head_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key="exports/test-parts.zip")
    assert head["ContentLength"] == 12 * MIB
    assert head["ETag"].strip('"').endswith("-3")  # 5 + 5 + 2 MiB


def test_an_aborted_stream_leaves_no_object(s3):
    stream = MultipartUpload(s3, settings.STRATUS_MEDIA_BUCKET, "exports/test-abort.zip")
    stream.write(b"partial")
    stream.abort()
    listed = s3.list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                Prefix="exports/test-abort.zip")
    assert listed.get("KeyCount", 0) == 0


@pytest.mark.django_db
def test_entries_and_offsets_past_the_zip64_limit_get_zip64_records(user_client, s3,
                                                                    monkeypatch):
    # The limit lowered to 1 KiB stands for 4 GiB: the same code paths, without 4 GiB.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1024)
    contents = {name: os.urandom(4096) for name in ("one.bin", "two.bin")}  # incompressible
    for name, data in contents.items():
        upload(user_client, name, data)
    files = list(File.objects.order_by("pk"))
    stream = MultipartUpload(s3, settings.STRATUS_MEDIA_BUCKET, "exports/test-zip64.zip")
    write_zip(stream, files, lambda *progress: None)
    stream.complete()
    body = s3.get_object(Bucket=settings.STRATUS_MEDIA_BUCKET,
                         Key="exports/test-zip64.zip")["Body"].read()
    assert b"PK\x06\x06" in body  # the ZIP64 end of central directory record
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert {name: archive.read(name) for name in contents} == contents
    for info in archive.infolist():
        assert info.extra[:2] == b"\x01\x00"  # the ZIP64 extended information field


def test_entry_names_are_unique_whatever_the_case():
    assert entry_names(["a.txt", "A.txt", "a.txt", "b"]) == [
        "a.txt", "A (2).txt", "a (3).txt", "b"]


def test_entry_names_hold_no_path():
    assert entry_names(["../../etc/passwd", "dir\\x.txt", "..."]) == [
        "_.._etc_passwd", "dir_x.txt", "file"]
