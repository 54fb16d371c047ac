"""A web request has one time budget for its AWS calls; the worker and commands do not.

SimpleDB is made slow with the emulator's latency injection, S3 with bench's delay proxy in
front of moto; attempts are counted with botocore's own event hooks on the project's
clients (or by the proxy).
"""

import threading
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.test import Client

from apps.library.models import File
from apps.ops.middleware import is_unavailable
from bench.delay_proxy import DelayProxy
from storage_backends import aws
from storage_backends.budget import BudgetExhausted, aws_budget, aws_budget_for_transfer, remaining
from tests.fixtures.localaws import reset_aws_clients
from tests.tasks import jobs

pytestmark = pytest.mark.django_db

#: SimpleDB's answer arrives this late: longer than any budget here, shorter than the
#: read timeout these tests give the clients, so a call that waited would succeed.
SLOW_MS = 12_000


@pytest.fixture
def budget(settings):
    """A one-second budget and a 30-second read timeout (so only the budget can stop a
    call), on clients made afresh for the test."""
    settings.STRATUS_AWS_REQUEST_BUDGET = 1.0
    settings.AWS_READ_TIMEOUT = 30.0
    reset_aws_clients()
    yield settings.STRATUS_AWS_REQUEST_BUDGET
    reset_aws_clients()


@pytest.fixture
def simpledb_faults(local_aws, simpledb_state_store):
    """The site's SimpleDB's fault injection, cleared after the test (on SimpleDB, whichever
    store the run chose)."""
    yield local_aws.simpledb.faults
    local_aws.simpledb.faults.update(latency_ms=0, fail_rate=0)


@pytest.fixture
def slow_s3(settings, budget, local_aws):
    """S3 behind a proxy that holds every request SLOW_MS before passing it on; the proxy
    counts the requests that reached it."""
    proxy = DelayProxy(local_aws.moto_url, latency_ms=SLOW_MS)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "s3": proxy.url}
    reset_aws_clients()
    yield proxy
    proxy.stop()


@contextmanager
def operations(service, event):
    """The operation named by each `event` the project's client for `service` emits inside
    the block: "request-created" fires once per attempt begun, retries included;
    "before-send", registered after the budget's own hook, once per attempt that the budget
    let reach the wire."""
    seen = []

    def record(event_name, **kwargs):
        seen.append(event_name.split(".")[-1])

    events = aws.client(service).meta.events
    events.register(event, record)
    try:
        yield seen
    finally:
        events.unregister(event, record)


@pytest.fixture
def logged_in(django_user_model, simpledb_state_store):
    """A client logged in with a session stored in SimpleDB (while it was still fast),
    whichever store the run chose."""
    client = Client()
    client.force_login(django_user_model.objects.create_user("alice"))
    return client


def test_a_page_whose_simpledb_is_slow_is_the_503_page(budget, logged_in, simpledb_faults):
    simpledb_faults.update(latency_ms=SLOW_MS)
    response = logged_in.get("/library/")
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content


def test_a_slow_call_puts_one_attempt_on_the_wire(budget, logged_in, simpledb_faults):
    simpledb_faults.update(latency_ms=SLOW_MS)
    with operations("sdb", "before-send") as sent:
        logged_in.get("/library/")
    # Loading the session: one attempt, cut at the deadline; nothing else reaches SimpleDB.
    assert sent == ["GetAttributes"]


def test_no_retry_is_begun_once_the_deadline_has_passed(budget, logged_in, simpledb_faults):
    simpledb_faults.update(latency_ms=SLOW_MS)
    with operations("sdb", "request-created") as begun:
        logged_in.get("/library/")
    assert begun == ["GetAttributes"]


def test_the_same_page_answers_once_simpledb_is_fast_again(budget, logged_in,
                                                           simpledb_faults):
    simpledb_faults.update(latency_ms=SLOW_MS)
    assert logged_in.get("/library/").status_code == 503
    simpledb_faults.update(latency_ms=0)
    assert logged_in.get("/library/").status_code == 200


def test_an_upload_whose_s3_is_slow_is_the_503_page_after_one_attempt(logged_in, slow_s3):
    response = logged_in.post("/library/upload/", {
        "file": SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"),
    })
    assert response.status_code == 503
    assert File.objects.count() == 0
    # The storage's check that the name is free, cut at the deadline; nothing else is sent.
    assert slow_s3.stats.counts() == {"S3 HEAD": 1}


def test_a_management_command_waits_for_a_slow_answer(settings, budget, logged_in,
                                                     simpledb_faults):
    """Commands run outside any request: botocore's own retry mode and read timeout bound
    them, not the web budget."""
    settings.STRATUS_AWS_REQUEST_BUDGET = 0.1
    simpledb_faults.update(latency_ms=500)  # over the budget, far under the read timeout
    with operations("sdb", "before-send") as sent:
        call_command("clearsessions")
    assert "Select" in sent
    simpledb_faults.update(latency_ms=0)
    assert logged_in.get("/library/").status_code == 200  # its session was kept


@pytest.mark.slow
def test_the_task_worker_waits_for_a_slow_answer(settings, budget, simpledb_faults, tasks,
                                                 run_worker,
                                                 django_capture_on_commit_callbacks):
    settings.STRATUS_AWS_REQUEST_BUDGET = 0.1
    with django_capture_on_commit_callbacks(execute=True):
        result = jobs.add.enqueue(2, 3)
    simpledb_faults.update(latency_ms=500)  # every result read and write is this slow
    run_worker()
    simpledb_faults.update(latency_ms=0)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5


@pytest.mark.parametrize("service, call", [
    ("sdb", lambda client: client.list_domains()),
    ("s3", lambda client: client.list_buckets()),
    ("sqs", lambda client: client.list_queues()),
])
def test_every_client_refuses_to_call_once_the_budget_is_spent(budget, service, call):
    with operations(service, "before-send") as sent, aws_budget(0.0):
        with pytest.raises(BudgetExhausted):
            call(aws.client(service))
    assert sent == []


def test_the_media_storages_own_client_refuses_once_the_budget_is_spent(budget):
    with aws_budget(0.0), pytest.raises(BudgetExhausted):
        default_storage.exists("uploads/anything")


def test_an_upload_transfer_runs_in_the_requests_thread_under_its_budget(budget):
    # s3transfer would otherwise send the object from a thread of its own, which the
    # request's budget does not reach. (_save: the transfer alone, without the name check.)
    with aws_budget(0.0), pytest.raises(BudgetExhausted):
        default_storage._save("uploads/budget-test.txt", ContentFile(b"hello"))


def test_a_spent_budget_is_the_sites_unavailable_error(budget):
    with aws_budget(0.0), pytest.raises(BudgetExhausted) as caught:
        aws.client("s3").list_buckets()
    assert is_unavailable(caught.value)


def test_an_inner_budget_never_extends_the_outer_one(budget):
    with aws_budget(0.0), aws_budget(60.0), pytest.raises(BudgetExhausted):
        aws.client("sqs").list_queues()


@pytest.fixture
def s3_300ms(settings, budget, local_aws):
    """S3 behind a proxy that holds every request 300 ms: a multipart upload of a few parts
    takes longer than the one-second budget, though each call is quick."""
    proxy = DelayProxy(local_aws.moto_url, latency_ms=300)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "s3": proxy.url}
    reset_aws_clients()
    yield proxy
    proxy.stop()


def test_an_upload_gets_time_for_its_bytes_beyond_the_requests_budget(logged_in, s3_300ms):
    content = b"x" * (20 * 1024 * 1024)  # three parts of django-storages' multipart upload
    response = logged_in.post("/library/upload/", {
        "file": SimpleUploadedFile("big.bin", content, content_type="application/octet-stream"),
    })
    assert response.status_code == 302, response.status_code
    [stored] = File.objects.all()
    assert stored.file.size == len(content)
    assert s3_300ms.stats.counts().get("S3 PUT", 0) >= 3  # the parts, each its own call


def test_a_transfer_budget_never_shortens_the_current_one(budget):
    with aws_budget(60):
        with aws_budget_for_transfer(0):
            assert remaining() > 30
