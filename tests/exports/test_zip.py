"""Zip exports end to end: selected files zipped by a worker straight into the local S3,
the zip downloaded through its presigned URL and its entries compared with the uploads."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.exports.models import ExportState, ZipExport
from apps.exports.tasks import build_zip
from apps.library.models import File
from storage_backends.tasks import Progress
from tests.library.helpers import fetch, upload

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's threads read committed rows

CONTENTS = {"notes.txt": b"remember the milk\n" * 1000,
            "data.bin": bytes(range(256)) * 4096,
            "empty-ish.txt": b"x"}


def upload_all(client, contents):
    for name, data in contents.items():
        assert upload(client, name, data).status_code == 302
    return list(File.objects.order_by("pk"))


def export(client, files):
    return client.post(reverse("exports:create"), {"files": [f.public_id for f in files]})


def downloaded_zip(client, export_row):
    response = client.get(reverse("exports:download", args=[export_row.public_id]))
    assert response.status_code == 302
    status, headers, body = fetch(response.url)
    assert status == 200
    return zipfile.ZipFile(io.BytesIO(body)), headers


def test_the_zip_holds_every_selected_file(user_client, tasks, run_worker):
    files = upload_all(user_client, CONTENTS)
    response = export(user_client, files)
    run_worker()
    row = ZipExport.objects.get()
    assert response.url == row.get_absolute_url()
    archive, headers = downloaded_zip(user_client, row)
    assert archive.testzip() is None
    assert {info.filename: archive.read(info) for info in archive.infolist()} == CONTENTS
    assert headers["Content-Type"] == "application/zip"
    assert headers["Content-Disposition"].startswith("attachment;")


def test_the_progress_is_the_tasks_and_the_page_shows_it(user_client, tasks, run_worker):
    files = upload_all(user_client, CONTENTS)
    export(user_client, files)
    row = ZipExport.objects.get()
    page = user_client.get(row.get_absolute_url())
    assert b"data-pending" in page.content and b'<progress id="zip-progress"' in page.content
    run_worker()
    row.refresh_from_db()
    assert row.state == ExportState.READY
    progress = build_zip.get_result(row.task_id).progress
    assert (progress.done, progress.total, progress.message) == (
        row.bytes_total, sum(map(len, CONTENTS.values())), "3 of 3 files")
    page = user_client.get(row.get_absolute_url())
    assert b"data-pending" not in page.content and b'id="zip-download"' in page.content


def test_the_page_shows_the_progress_of_a_zip_being_built(user_client, tasks, stored_file):
    export(user_client, [stored_file])  # no worker runs: the progress is written here
    row = ZipExport.objects.get()
    ZipExport.objects.filter(pk=row.pk).update(state=ExportState.BUILDING, bytes_total=4096)
    tasks.results.put(row.task_id, {"progress": Progress(
        1024, 4096, "0 of 1 files", timezone.now()).to_json()})
    # filesizeformat joins with a no-break space: only the template's own spacing goes.
    content = re.sub(r"[ \n]+", " ", user_client.get(row.get_absolute_url()).content.decode())
    assert "0 of 1 files, 1.0\xa0KB of 4.0\xa0KB." in content
    assert '<progress id="zip-progress" max="100" value="25">' in content


def test_the_page_of_a_zip_whose_progress_cannot_be_read_still_shows(user_client, tasks,
                                                                     stored_file):
    export(user_client, [stored_file])
    ZipExport.objects.update(task_id="no-such-result")
    response = user_client.get(ZipExport.objects.get().get_absolute_url())
    assert response.status_code == 200
    assert b'<progress id="zip-progress" max="100" value="0">' in response.content


def test_only_the_users_own_files_are_zipped(user_client, other_client, tasks, run_worker):
    [mine] = upload_all(user_client, {"mine.txt": b"mine\n"})
    upload(other_client, "theirs.txt", b"theirs\n")
    theirs = File.objects.get(original_name="theirs.txt")
    export(user_client, [mine, theirs])
    run_worker()
    archive, _ = downloaded_zip(user_client, ZipExport.objects.get())
    assert archive.namelist() == ["mine.txt"]


def test_a_file_trashed_before_the_build_is_left_out(user_client, tasks, run_worker):
    files = upload_all(user_client, {"kept.txt": b"kept\n", "binned.txt": b"binned\n"})
    export(user_client, files)
    File.objects.filter(original_name="binned.txt").update(deleted_at=timezone.now())
    run_worker()
    archive, _ = downloaded_zip(user_client, ZipExport.objects.get())
    assert archive.namelist() == ["kept.txt"]


def test_an_empty_selection_makes_no_zip(user_client):
    response = user_client.post(reverse("exports:create"), follow=True)
    assert "Select the files to download as a zip." in [
        str(m) for m in response.context["messages"]]
    assert not ZipExport.objects.exists()


def test_a_selection_over_the_limit_is_refused(user_client, settings):
    settings.STRATUS_EXPORT_MAX_FILES = 1
    files = upload_all(user_client, {"a.txt": b"a", "b.txt": b"b"})
    export(user_client, files)
    assert not ZipExport.objects.exists()


def test_the_link_expires(user_client, tasks, run_worker, settings):
    files = upload_all(user_client, {"a.txt": b"a"})
    export(user_client, files)
    run_worker()
    row = ZipExport.objects.get()
    ZipExport.objects.filter(pk=row.pk).update(
        ready_at=timezone.now() - timedelta(seconds=settings.STRATUS_EXPORT_EXPIRY + 1))
    assert user_client.get(reverse("exports:download", args=[row.public_id])).status_code == 410
    assert user_client.get(row.get_absolute_url()).status_code == 410


def test_a_zip_not_ready_has_no_download(user_client, stored_file):
    export(user_client, [stored_file])  # no worker runs
    row = ZipExport.objects.get()
    assert user_client.get(reverse("exports:download", args=[row.public_id])).status_code == 404


def test_no_one_else_sees_an_export(user_client, other_client, stored_file):
    export(user_client, [stored_file])
    row = ZipExport.objects.get()
    assert other_client.get(row.get_absolute_url()).status_code == 404
    assert other_client.get(reverse("exports:download", args=[row.public_id])).status_code == 404


def test_building_twice_keeps_the_ready_zip(user_client, tasks, run_worker):
    from apps.exports.tasks import build_zip

    files = upload_all(user_client, {"a.txt": b"a"})
    export(user_client, files)
    run_worker()
    row = ZipExport.objects.get()
    build_zip.enqueue(row.pk)  # a second delivery, as at-least-once allows
    run_worker()
    assert ZipExport.objects.get().ready_at == row.ready_at


def test_clear_exports_deletes_expired_zips(user_client, tasks, run_worker, settings, s3):
    from io import StringIO

    from django.core.management import call_command

    from tests.library.helpers import object_exists

    files = upload_all(user_client, {"a.txt": b"a"})
    export(user_client, files)
    run_worker()
    row = ZipExport.objects.get()
    assert object_exists(s3, row.key)
    ZipExport.objects.filter(pk=row.pk).update(
        ready_at=timezone.now() - timedelta(seconds=settings.STRATUS_EXPORT_EXPIRY + 1))
    call_command("clear_exports", stdout=StringIO())
    assert not ZipExport.objects.exists()
    assert not object_exists(s3, row.key)
