"""record_file_facts: an upload enqueues it, a worker records checksum and detected type.

Transactional tests: the view sends the task once the row is committed, and the in-process
worker's threads read the row through their own database connections.
"""

import hashlib
import logging
import uuid
from datetime import timedelta

import pytest
from django.tasks.signals import task_enqueued
from django.urls import reverse
from django.utils import timezone

from apps.library import tasks as file_tasks
from apps.library.models import File
from apps.library.tasks import record_file_facts
from tests.fixtures.localaws import reset_aws_clients

from .helpers import tiny_png, upload

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = b"hello, library\n" * 40
PENDING = "being checked…"
#: The detail page's warning, as its stylesheet class.
WARNING = 'class="warning"'


def unique(name):
    return f"{uuid.uuid4().hex[:12]}-{name}"


@pytest.fixture
def enqueued():
    """The record_file_facts TaskResults enqueued during the test, in order (an upload also
    sends build_previews, which test_previews.py covers)."""
    results = []

    def keep(sender, task_result, **kwargs):
        if task_result.task.func is record_file_facts.func:
            results.append(task_result)

    task_enqueued.connect(keep, dispatch_uid="test_file_facts")
    yield results
    task_enqueued.disconnect(dispatch_uid="test_file_facts")


@pytest.fixture
def take_down(settings, tasks):
    """Call it with "sqs" or "sdb" to point that service at a port nothing listens on."""
    def take_down_service(service):
        settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS,
                                      service: "http://127.0.0.1:9"}
        settings.AWS_MAX_ATTEMPTS = 1
        reset_aws_clients()
        # The backend keeps the clients it made: a fresh one makes them from the settings.
        settings.TASKS = {**settings.TASKS}

    yield take_down_service
    reset_aws_clients()


def upload_ok(client, name, data):
    response = upload(client, name, data)
    assert response.status_code == 302, response.content
    return File.objects.get(original_name=name)


def detail(client, file):
    response = client.get(reverse("library:detail", args=[file.public_id]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(("name", "data", "detected"), [
    ("dot.png", tiny_png(), "image/png"),
    ("notes.txt", TEXT, "text/plain"),
], ids=["png", "text"])
def test_the_worker_records_checksum_and_type_and_the_page_shows_them(
        user_client, tasks, run_worker, name, data, detected):
    file = upload_ok(user_client, unique(name), data)
    assert file.facts_pending
    assert PENDING in detail(user_client, file)
    assert '<span class="pending" role="status" data-pending>being checked…</span>' in detail(
        user_client, file)

    run_worker()

    file.refresh_from_db()
    assert (file.sha256, file.detected_type) == (hashlib.sha256(data).hexdigest(), detected)
    assert file.facts_recorded_at is not None
    page = detail(user_client, file)
    assert PENDING not in page
    assert file.sha256 in page and detected in page
    assert "not " + file.content_type not in page  # the declared type agrees


def test_the_task_result_holds_the_facts(user_client, tasks, run_worker, enqueued):
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    [result] = enqueued
    assert result.task.func is record_file_facts.func and result.args == [file.pk]
    run_worker()
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == {"sha256": hashlib.sha256(TEXT).hexdigest(),
                                   "detected_type": "text/plain"}


def test_the_task_reports_the_bytes_read_as_its_progress(user_client, tasks, run_worker,
                                                         enqueued):
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    [result] = enqueued
    run_worker()
    result.refresh()
    assert (result.progress.done, result.progress.total, result.progress.message) == (
        file.size, file.size, "reading the file")


def test_text_is_recognised_across_chunk_boundaries(user_client, tasks, run_worker,
                                                    monkeypatch):
    # 7-byte chunks cut the two- and three-byte UTF-8 sequences in half.
    monkeypatch.setattr(file_tasks, "CHUNK_BYTES", 7)
    data = "Grüße, 東京 — ça va?\n".encode() * 20
    file = upload_ok(user_client, unique("greeting.txt"), data)
    run_worker()
    file.refresh_from_db()
    assert (file.sha256, file.detected_type) == (hashlib.sha256(data).hexdigest(), "text/plain")


def test_binary_without_a_known_signature_is_octet_stream(user_client, tasks, run_worker):
    data = bytes(range(256)) * 8
    file = upload_ok(user_client, unique("blob.txt"), data)
    run_worker()
    file.refresh_from_db()
    assert file.detected_type == "application/octet-stream"
    assert "not text/plain" not in detail(user_client, file)  # "unknown" contradicts nothing


def test_the_page_says_when_the_contents_disagree_with_the_name(user_client, tasks,
                                                                run_worker):
    file = upload_ok(user_client, unique("report.pdf"), TEXT)
    assert file.content_type == "application/pdf"
    run_worker()
    file.refresh_from_db()
    assert file.type_disagrees
    assert "its contents are text/plain, not application/pdf as the name says" in detail(
        user_client, file)


def test_a_png_name_on_plain_text_is_warned_about_once_facts_are_recorded(
        user_client, tasks, run_worker):
    # The stored type is already octet-stream (no PNG signature); the warning compares
    # what the name suggests, image/png, with what the bytes show.
    file = upload_ok(user_client, unique("fake.png"), b"just some text, not a picture\n")
    assert file.content_type == "application/octet-stream"
    assert WARNING not in detail(user_client, file)  # nothing is known yet

    run_worker()

    page = detail(user_client, file)
    assert WARNING in page
    assert "its contents are text/plain, not image/png as the name says" in page


def test_a_real_png_shows_no_warning(user_client, tasks, run_worker):
    file = upload_ok(user_client, unique("dot.png"), tiny_png())
    run_worker()
    file.refresh_from_db()
    assert file.detected_type == "image/png"
    assert WARNING not in detail(user_client, file)


def test_the_list_marks_a_file_whose_contents_differ(user_client, tasks, run_worker):
    upload_ok(user_client, unique("fake.png"), b"plain text\n")
    upload_ok(user_client, unique("dot.png"), tiny_png())
    run_worker()
    page = user_client.get(reverse("library:list")).content.decode()
    assert page.count("contents differ") == 1


def test_running_the_task_twice_leaves_the_same_row(user_client, tasks, run_worker,
                                                    enqueued):
    file = upload_ok(user_client, unique("dot.png"), tiny_png())
    run_worker()
    first = File.objects.filter(pk=file.pk).values().get()

    again = record_file_facts.enqueue(file.pk)  # a second delivery, as at-least-once allows
    run_worker()
    again.refresh()
    assert again.status == "SUCCESSFUL"
    assert File.objects.filter(pk=file.pk).values().get() == first
    assert record_file_facts.call(file.pk) == {"sha256": first["sha256"],
                                               "detected_type": "image/png"}
    assert File.objects.filter(pk=file.pk).values().get() == first


def test_a_title_edited_before_the_task_runs_is_kept(user_client, tasks, run_worker):
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    File.objects.filter(pk=file.pk).update(title="Edited meanwhile")
    run_worker()
    file.refresh_from_db()
    assert file.title == "Edited meanwhile"
    assert file.sha256 == hashlib.sha256(TEXT).hexdigest()


def test_a_file_deleted_before_the_task_runs_ends_it_quietly(user_client, tasks, run_worker,
                                                             enqueued, caplog):
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    file_id = file.pk
    file.delete()  # as the trash's purge deletes it
    caplog.set_level(logging.INFO, logger="apps.library.tasks")

    worker = run_worker()

    [result] = enqueued
    result.refresh()
    assert (result.status, result.return_value, result.errors) == ("SUCCESSFUL", None, [])
    assert worker.processed == 2  # the facts, and the preview
    assert f"file facts skipped file={file_id} reason=deleted" in caplog.text


def test_a_row_whose_object_is_missing_fails_the_task(user_client, tasks, s3, settings):
    # Not a deletion in progress once the row outlives its object: the task fails, is
    # retried (letting a deletion finish) and ends in the dead-letter queue.
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    s3.delete_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=file.file.name)
    with pytest.raises(FileNotFoundError):
        record_file_facts.call(file.pk)
    file.refresh_from_db()
    assert file.facts_pending


def test_upload_succeeds_when_sqs_is_unreachable(user_client, take_down, s3, settings,
                                                 caplog):
    # (SimpleDB unreachable is the site's 503 page before any view: sessions live there.)
    take_down("sqs")
    response = upload(user_client, unique("notes.txt"), TEXT)

    assert response.status_code == 302
    file = File.objects.get()
    body = s3.get_object(Bucket=settings.STRATUS_MEDIA_BUCKET, Key=file.file.name)["Body"]
    assert body.read() == TEXT
    page = user_client.get(response.url)
    assert f"Uploaded {file}." in [str(m) for m in page.context["messages"]]
    assert PENDING in page.content.decode()
    assert f"file facts not enqueued file={file.pk}" in caplog.text


def test_upload_succeeds_when_the_result_store_refuses(user_client, tasks, settings, caplog,
                                                       results_store):
    options = settings.TASKS["default"]["OPTIONS"]
    missing = f"no-such-store-{uuid.uuid4().hex[:8]}"
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": {
        **options, "RESULTS_DOMAIN": missing, "RESULTS_TABLE": missing}}}
    response = upload(user_client, unique("notes.txt"), TEXT)
    assert response.status_code == 302
    file = File.objects.get()
    assert PENDING in detail(user_client, file)
    error = {"simpledb": "NoSuchDomain", "dynamodb": "NoSuchTable"}[results_store]
    assert f"file facts not enqueued file={file.pk} error={error}" in caplog.text


def test_the_admin_sends_the_task_again_for_files_without_facts(
        user_client, admin_client, take_down, settings, run_worker):
    healthy = dict(settings.AWS_ENDPOINT_URLS)
    take_down("sqs")
    missed = upload_ok(user_client, unique("notes.txt"), TEXT)
    settings.AWS_ENDPOINT_URLS = healthy
    reset_aws_clients()
    settings.TASKS = {**settings.TASKS}
    assert missed.facts_pending

    response = admin_client.post(reverse("admin:library_file_changelist"), {
        "action": "record_missing_facts", "_selected_action": [missed.pk]}, follow=True)
    assert "Sent 1 task(s)" in response.content.decode()
    run_worker()  # the same queues; its backend makes its clients now, from healthy settings

    missed.refresh_from_db()
    assert missed.sha256 == hashlib.sha256(TEXT).hexdigest()


def test_the_admin_shows_the_facts_read_only(user_client, admin_client, tasks, run_worker):
    file = upload_ok(user_client, unique("dot.png"), tiny_png())
    changelist = admin_client.get(reverse("admin:library_file_changelist")).content.decode()
    assert "pending" in changelist
    run_worker()
    file.refresh_from_db()

    changelist = admin_client.get(reverse("admin:library_file_changelist")).content.decode()
    assert file.sha256[:12] + "…" in changelist
    change = admin_client.get(reverse("admin:library_file_change", args=[file.pk]))
    form_fields = change.context["adminform"].form.fields
    assert not {"sha256", "detected_type", "facts_recorded_at"} & set(form_fields)
    assert file.sha256 in change.content.decode()
    assert "image/png" in change.content.decode()


def test_facts_are_read_from_a_storage_other_than_s3(tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import FileSystemStorage

    from apps.library.tasks import read_facts

    storage = FileSystemStorage(location=tmp_path)
    name = storage.save("notes.txt", ContentFile(b"plain words\n"))
    facts = read_facts(name, storage)
    assert facts.sha256 == hashlib.sha256(b"plain words\n").hexdigest()


def test_opening_a_file_whose_facts_are_overdue_sends_its_task_again(user_client, tasks,
                                                                     enqueued, settings):
    # As if the node died between committing the row and sending the task.
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    enqueued.clear()
    File.objects.filter(pk=file.pk).update(
        uploaded_at=timezone.now() - timedelta(seconds=settings.STRATUS_FACTS_RESEND_AFTER + 1))
    user_client.get(reverse("library:detail", args=[file.public_id]))
    user_client.get(reverse("library:detail", args=[file.public_id]))
    assert [result.args for result in enqueued] == [[file.pk]]  # once per window


def test_opening_a_file_whose_facts_are_merely_pending_sends_nothing(user_client, tasks,
                                                                   enqueued):
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    enqueued.clear()
    user_client.get(reverse("library:detail", args=[file.public_id]))
    assert enqueued == []


def test_overdue_facts_are_recorded_once_the_task_is_sent_again(user_client, tasks, run_worker,
                                                                settings):
    file = upload_ok(user_client, unique("notes.txt"), TEXT)
    run_worker()  # the first task, then: as if it had never been sent
    File.objects.filter(pk=file.pk).update(
        sha256="", detected_type="", facts_recorded_at=None,
        uploaded_at=timezone.now() - timedelta(seconds=settings.STRATUS_FACTS_RESEND_AFTER + 1))
    user_client.get(reverse("library:detail", args=[file.public_id]))
    run_worker()
    file.refresh_from_db()
    assert file.sha256 == hashlib.sha256(TEXT).hexdigest()
