"""build_previews: an upload enqueues it, a worker makes a thumbnail or keeps text's first
lines, or records why there is none; the pages and the admin show the result.

Real S3 (the local stack) and the real task backend with an in-process worker. Transactional
tests: the view sends the task once the row is committed, and the worker's threads read the
row through their own database connections.
"""

import io
import logging
import os
import struct
import uuid
import zlib
from datetime import timedelta

import pytest
from django.tasks.signals import task_enqueued
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image, ImageCms

from apps.library import previews
from apps.library.csp import media_origin
from apps.library.models import File, PreviewState
from apps.library.tasks import build_previews
from tests.fixtures.localaws import reset_aws_clients

from .helpers import fetch, is_presigned, object_exists, stored_object, upload

pytestmark = pytest.mark.django_db(transaction=True)

#: Written in an upload's EXIF: it may not reach the thumbnail.
MARKER = "stratus-metadata-marker"


def upload_ok(client, name, data):
    """Upload `data` as `name` (made unique) through the form; its row."""
    name = f"{uuid.uuid4().hex[:8]}-{name}"
    response = upload(client, name, data)
    assert response.status_code == 302, response.content
    return File.objects.get(original_name=name)


def previewed(client, name, data):
    """Upload `data` and run its preview task here, in-process (for tests not about the
    worker); the row, refreshed."""
    file = upload_ok(client, name, data)
    build_previews.call(file.pk)
    file.refresh_from_db()
    return file


def image_bytes(image, image_format, **options):
    output = io.BytesIO()
    image.save(output, image_format, **options)
    return output.getvalue()


def thumbnail_of(s3, file):
    """The file's stored thumbnail, opened; checks what S3 says it is."""
    body, response = stored_object(s3, file.preview_key)
    assert response["ContentType"] == previews.THUMBNAIL_TYPE
    return Image.open(io.BytesIO(body))


def png_claiming(width, height):
    """A PNG of a few dozen bytes whose header claims `width` x `height` RGB pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def dominant(pixel):
    """"red", "green" or "blue": the strongest channel of an RGB(A) pixel."""
    return ("red", "green", "blue")[max(range(3), key=lambda channel: pixel[channel])]


@pytest.fixture
def enqueued():
    """The build_previews TaskResults enqueued during the test, in order."""
    results = []

    def keep(sender, task_result, **kwargs):
        if task_result.task.func is build_previews.func:
            results.append(task_result)

    task_enqueued.connect(keep, dispatch_uid="test_previews")
    yield results
    task_enqueued.disconnect(dispatch_uid="test_previews")


def test_an_image_gets_a_webp_thumbnail_within_the_box(user_client, tasks, run_worker, s3):
    file = upload_ok(user_client, "wide.png", image_bytes(Image.new("RGB", (1200, 600),
                                                                    "green"), "PNG"))
    assert file.preview_state == PreviewState.PENDING
    run_worker()
    file.refresh_from_db()
    assert file.preview_state == PreviewState.READY
    assert file.preview_key.startswith(f"previews/{file.public_id}-")
    thumbnail = thumbnail_of(s3, file)
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (480, 240))
    assert dominant(thumbnail.convert("RGB").getpixel((240, 120))) == "green"


def test_the_preview_task_reports_its_progress(user_client, tasks, run_worker, enqueued):
    file = upload_ok(user_client, "progress.png", image_bytes(Image.new("RGB", (64, 64)),
                                                              "PNG"))
    [result] = enqueued
    run_worker()
    result.refresh()
    assert (result.progress.done, result.progress.total, result.progress.message) == (
        file.size, file.size, "storing the preview")


def test_a_thumbnail_is_turned_upright_and_keeps_no_metadata(user_client, tasks, s3):
    # Stored sideways, left half red, right half blue; EXIF orientation 6 says: turn it 90°
    # clockwise to show it, which puts the red half on top.
    sideways = Image.new("RGB", (200, 100), "blue")
    sideways.paste("red", (0, 0, 100, 100))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.ImageDescription] = MARKER
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = image_bytes(sideways, "JPEG", exif=exif, icc_profile=icc, quality=95)
    assert MARKER.encode() in data and icc in data

    file = previewed(user_client, "photo.jpg", data)
    thumbnail = thumbnail_of(s3, file)
    assert thumbnail.size == (100, 200)
    upright = thumbnail.convert("RGB")
    assert dominant(upright.getpixel((50, 25))) == "red"
    assert dominant(upright.getpixel((50, 175))) == "blue"
    assert not {"exif", "icc_profile", "xmp"} & thumbnail.info.keys()
    assert not thumbnail.getexif()
    body, _ = stored_object(s3, file.preview_key)
    assert MARKER.encode() not in body and icc not in body


def test_a_small_png_claiming_a_huge_image_is_refused_before_decoding(user_client, tasks,
                                                                      run_worker, enqueued):
    # 100,000 x 100,000 RGB would be 30 GB of pixels: only the header is ever read.
    data = png_claiming(100_000, 100_000)
    assert len(data) < 100
    file = upload_ok(user_client, "bomb.png", data)
    run_worker()
    file.refresh_from_db()
    assert (file.preview_state, file.preview_note) == (PreviewState.NONE,
                                                       "image too large to preview")
    [result] = enqueued
    result.refresh()
    assert result.status == "SUCCESSFUL"  # an outcome, not an error to retry


def test_pillows_decompression_bomb_warning_is_an_error(user_client, tasks, settings):
    # Above Pillow's MAX_IMAGE_PIXELS it only warns and decodes on; here it refuses, even
    # where the site's own limit would let the image through.
    settings.STRATUS_PREVIEW_MAX_PIXELS = 10 * Image.MAX_IMAGE_PIXELS
    side = int((1.5 * Image.MAX_IMAGE_PIXELS) ** 0.5)
    file = upload_ok(user_client, "warned.png", png_claiming(side, side))
    with pytest.warns(Image.DecompressionBombWarning):
        outcome = build_previews.call(file.pk)
    assert outcome == {"state": "none", "note": "image too large to preview"}


def test_the_site_limit_on_pixels_refuses_smaller_images_too(user_client, tasks, settings):
    settings.STRATUS_PREVIEW_MAX_PIXELS = 100 * 100
    file = upload_ok(user_client, "big.png", image_bytes(Image.new("RGB", (101, 100)), "PNG"))
    assert build_previews.call(file.pk)["note"] == "image too large to preview"


def test_a_pdfs_first_page_becomes_a_thumbnail(user_client, tasks, run_worker, s3):
    first, second = Image.new("RGB", (200, 300), "red"), Image.new("RGB", (300, 200), "blue")
    data = image_bytes(first, "PDF", save_all=True, append_images=[second])
    file = upload_ok(user_client, "report.pdf", data)
    run_worker()
    file.refresh_from_db()
    assert file.preview_state == PreviewState.READY
    thumbnail = thumbnail_of(s3, file)
    assert thumbnail.size == (320, 480)  # the first page's shape, fit to the box
    assert dominant(thumbnail.convert("RGB").getpixel((160, 240))) == "red"


def test_a_text_file_keeps_its_first_lines_and_stores_no_image(user_client, tasks):
    data = "".join(f"line {n}: ça va\r\n" for n in range(1, 51)).encode()
    file = previewed(user_client, "notes.txt", data)
    assert (file.preview_state, file.preview_key) == (PreviewState.READY, "")
    assert file.preview_text.splitlines() == [f"line {n}: ça va" for n in range(1, 21)]
    page = user_client.get(file.get_absolute_url()).content.decode()
    assert '<pre class="preview-text" tabindex="0">line 1: ça va\nline 2' in page


def test_a_text_preview_is_bounded_in_characters(user_client, tasks):
    file = upload_ok(user_client, "long.txt", "é".encode() * 100_000)
    build_previews.call(file.pk)
    file.refresh_from_db()
    assert file.preview_text == "é" * previews.TEXT_MAX_CHARS


def test_a_text_preview_escapes_markup(user_client, tasks):
    file = upload_ok(user_client, "page.html", b"<script>alert(1)</script>\n")
    build_previews.call(file.pk)
    page = user_client.get(file.get_absolute_url()).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page


@pytest.mark.parametrize(("name", "data"), [
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 50),
    ("cut.jpg", image_bytes(Image.new("RGB", (300, 300), "red"), "JPEG")[:400]),
    ("broken.pdf", b"%PDF-1.7\n" + b"no objects here" * 50),
], ids=["png", "truncated-jpeg", "pdf"])
def test_a_corrupt_file_gets_no_preview_and_a_reason(user_client, tasks, run_worker,
                                                     enqueued, caplog, name, data):
    caplog.set_level(logging.INFO, logger="apps.library")
    file = upload_ok(user_client, name, data)
    run_worker()
    file.refresh_from_db()
    assert (file.preview_state, file.preview_note) == (PreviewState.NONE, "could not be read")
    [result] = enqueued
    result.refresh()
    assert (result.status, result.return_value) == ("SUCCESSFUL", {
        "state": "none", "note": "could not be read"})
    assert f"previews refused file={file.pk} reason=could not be read" in caplog.text
    assert "No preview: could not be read." in user_client.get(
        file.get_absolute_url()).content.decode()


def test_an_image_over_the_byte_limit_gets_no_preview(user_client, tasks, settings):
    settings.STRATUS_PREVIEW_MAX_BYTES = 4096
    noise = Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3))
    file = upload_ok(user_client, "noise.png", image_bytes(noise, "PNG"))
    assert file.size > 4096
    assert build_previews.call(file.pk) == {"state": "none", "note": "too large to preview"}


def test_a_text_file_over_the_byte_limit_still_shows_its_first_lines(user_client, tasks,
                                                                     settings):
    settings.STRATUS_PREVIEW_MAX_BYTES = 1024
    file = upload_ok(user_client, "log.txt", b"an entry\n" * 10_000)
    assert build_previews.call(file.pk)["state"] == "ready"
    file.refresh_from_db()
    assert file.preview_text == "\n".join(["an entry"] * previews.TEXT_MAX_LINES)


def test_other_kinds_get_no_preview(user_client, tasks):
    file = upload_ok(user_client, "archive.zip", b"PK\x05\x06" + bytes(18))
    assert build_previews.call(file.pk) == {"state": "none",
                                            "note": "no preview for this kind of file"}


def test_an_s3_outage_fails_the_task_so_it_is_retried(user_client, tasks, settings):
    file = upload_ok(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "s3": "http://127.0.0.1:9"}
    settings.AWS_MAX_ATTEMPTS = 1
    reset_aws_clients()
    try:
        with pytest.raises(Exception, match="Could not connect"):
            build_previews.call(file.pk)
    finally:
        reset_aws_clients()
    file.refresh_from_db()
    assert file.preview_state == PreviewState.PENDING


def test_running_the_task_twice_keeps_one_thumbnail(user_client, tasks, run_worker, s3,
                                                    settings):
    file = upload_ok(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    run_worker()
    first = File.objects.filter(pk=file.pk).values().get()

    build_previews.enqueue(file.pk)  # a second delivery, as at-least-once allows
    run_worker()
    assert File.objects.filter(pk=file.pk).values().get() == first
    listed = s3.list_objects_v2(Bucket=settings.STRATUS_MEDIA_BUCKET,
                                Prefix=f"previews/{file.public_id}-")
    assert [item["Key"] for item in listed["Contents"]] == [first["preview_key"]]


def test_deleting_a_file_deletes_its_thumbnail(user_client, tasks, s3):
    file = previewed(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    assert object_exists(s3, file.preview_key)
    file.delete()  # as the trash's purge deletes it
    assert not object_exists(s3, file.preview_key)
    assert not object_exists(s3, file.file.name)


def test_the_preview_url_redirects_its_owner_to_the_thumbnail(user_client, tasks, s3):
    file = previewed(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    response = user_client.get(reverse("library:preview", args=[file.public_id]))
    assert response.status_code == 302
    assert is_presigned(response.url)
    assert "private" in response["Cache-Control"]
    status, headers, body = fetch(response.url)
    assert (status, headers["Content-Type"]) == (200, "image/webp")
    assert body == stored_object(s3, file.preview_key)[0]


def test_the_preview_url_is_404_for_anyone_else(user_client, other_client, tasks):
    file = previewed(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    response = other_client.get(reverse("library:preview", args=[file.public_id]))
    assert response.status_code == 404


def test_the_preview_url_is_404_without_a_thumbnail(user_client, tasks):
    file = upload_ok(user_client, "notes.txt", b"words\n")
    assert user_client.get(reverse("library:preview", args=[file.public_id])).status_code == 404
    build_previews.call(file.pk)  # a text preview: no image
    assert user_client.get(reverse("library:preview", args=[file.public_id])).status_code == 404


def test_the_pages_show_the_thumbnail_and_allow_the_media_origin(user_client, tasks):
    file = previewed(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    preview_url = reverse("library:preview", args=[file.public_id])
    for page in (file.get_absolute_url(), reverse("library:list")):
        response = user_client.get(page)
        assert f'src="{preview_url}"' in response.content.decode()
        img_src = next(part for part in response["Content-Security-Policy"].split(";")
                       if part.strip().startswith("img-src"))
        assert media_origin() in img_src


def test_pending_parts_are_marked_for_the_page_to_refresh_itself(user_client, tasks,
                                                                 run_worker):
    file = upload_ok(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    for page in (file.get_absolute_url(), reverse("library:list")):
        html = user_client.get(page).content.decode()
        assert "data-live" in html and "data-pending" in html and "library/live.js" in html
    run_worker()
    for page in (file.get_absolute_url(), reverse("library:list")):
        assert "data-pending" not in user_client.get(page).content.decode()


def test_opening_a_file_whose_preview_is_overdue_sends_its_task_again(user_client, tasks,
                                                                      run_worker, enqueued,
                                                                      settings):
    # As if the node died between committing the row and sending the task.
    file = upload_ok(user_client, "notes.txt", b"words\n")
    enqueued.clear()
    File.objects.filter(pk=file.pk).update(
        uploaded_at=timezone.now() - timedelta(seconds=settings.STRATUS_FACTS_RESEND_AFTER + 1))
    user_client.get(file.get_absolute_url())
    user_client.get(file.get_absolute_url())
    assert [result.args for result in enqueued] == [[file.pk]]  # once per window
    run_worker()
    file.refresh_from_db()
    assert file.preview_text == "words"


def test_files_from_before_previews_have_none_until_rebuilt(admin_client, user_client,
                                                            tasks, run_worker, s3):
    file = upload_ok(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    run_worker()
    File.objects.filter(pk=file.pk).update(  # as migration 0007 leaves an older file
        preview_state=PreviewState.NONE, preview_key="", preview_note="uploaded before previews")
    response = admin_client.post(reverse("admin:library_file_changelist"), {
        "action": "rebuild_selected_previews", "_selected_action": [file.pk]}, follow=True)
    assert "Sent 1 task(s) to rebuild previews." in response.content.decode()
    run_worker()
    file.refresh_from_db()
    assert file.preview_state == PreviewState.READY and object_exists(s3, file.preview_key)


def test_the_admin_rebuilds_a_preview_under_a_new_key(admin_client, user_client, tasks,
                                                      run_worker, s3):
    file = upload_ok(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    run_worker()
    file.refresh_from_db()
    old_key = file.preview_key

    admin_client.post(reverse("admin:library_file_changelist"), {
        "action": "rebuild_selected_previews", "_selected_action": [file.pk]})
    file.refresh_from_db()
    assert (file.preview_state, file.preview_key) == (PreviewState.PENDING, "")
    assert not object_exists(s3, old_key)

    run_worker()
    file.refresh_from_db()
    assert file.preview_state == PreviewState.READY
    assert file.preview_key != old_key and object_exists(s3, file.preview_key)


def test_the_admin_change_page_shows_the_preview(admin_client, user_client, tasks):
    file = previewed(user_client, "dot.png", image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    response = admin_client.get(reverse("admin:library_file_change", args=[file.pk]))
    html = response.content.decode()
    assert f'<img src="{media_origin()}/' in html and file.preview_key in html
    assert media_origin() in response["Content-Security-Policy"]
