"""The admin's task pages: results, queues and dead letters, against the local AWS stack."""

import json
import re
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from storage_backends.tasks import messages
from storage_backends.tasks.messages import Payload
from tests.fixtures.localaws import reset_aws_clients
from tests.tasks import jobs
from tests.tasks.stores import on_both_stores

pytestmark = pytest.mark.django_db(transaction=True)

RESULTS = "admin:storage_backends_taskresultrecord_changelist"
QUEUES = "admin:storage_backends_taskqueue_changelist"
DEAD_LETTERS = "admin:storage_backends_deadletter_changelist"
#: Seconds a condition may take to come true on the local stack.
TIMEOUT = 15


def wait_for(condition, timeout=TIMEOUT, what="the condition"):
    """Poll `condition` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        time.sleep(0.05)


def result_url(result_id):
    return reverse("admin:storage_backends_taskresultrecord_change", args=[result_id])


def listed_ids(response):
    assert response.status_code == 200, response.content[:2000]
    return [row["id"] for row in response.context["rows"]]


def visible(tasks, name):
    return tasks.sqs.counts(name)["ApproximateNumberOfMessages"]


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def source(tasks):
    """The SQS name of the default queue's plain band."""
    return tasks.config.sqs_name("default")


@pytest.fixture
def dead_letters_url(source):
    return reverse("admin:storage_backends_deadletter_queue", args=[source + "-dlq"])


@pytest.fixture
def dead_letter(tasks, source, run_worker):
    """A garbage body sent to the default queue, dead-lettered by a worker."""
    tasks.sqs.send(source, "<b>not a task</b>")
    run_worker()
    wait_for(lambda: visible(tasks, source + "-dlq") == 1, what="one dead letter")
    return source + "-dlq"


def letters(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:2000]
    return [letter for letter, _url, _result_url in response.context["letters"]]


@pytest.fixture
def staff_client(django_user_model):
    """A client logged in as a staff user with no permissions; `.user` to grant some."""
    client = Client()
    client.user = django_user_model.objects.create_user(f"staff-{uuid.uuid4().hex[:6]}",
                                                        is_staff=True)
    client.force_login(client.user)
    return client


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="storage_backends", codename__in=codenames))


# -- the index ------------------------------------------------------------------------------
def test_the_admin_index_links_the_three_task_pages(admin_client):
    content = admin_client.get("/admin/").content.decode()
    for name in (RESULTS, QUEUES, DEAD_LETTERS):
        assert f'href="{reverse(name)}"' in content
    assert "Task results" in content and "Dead letters" in content


# -- results --------------------------------------------------------------------------------
@on_both_stores
def test_results_are_listed_newest_first_with_the_limit_said(admin_client, tasks):
    older = jobs.add.enqueue(1, 2)
    newer = jobs.add.enqueue(3, 4)
    response = admin_client.get(reverse(RESULTS))
    ids = listed_ids(response)
    assert ids.index(newer.id) < ids.index(older.id)
    assert b"The newest 100 results at most" in response.content


@on_both_stores
def test_results_filter_by_status(admin_client, tasks, run_worker):
    failed = jobs.fails_once_only.enqueue(f"f-{uuid.uuid4().hex}")
    run_worker()
    ready = jobs.add.enqueue(1, 1)
    ids = listed_ids(admin_client.get(reverse(RESULTS), {"status": "FAILED"}))
    assert failed.id in ids and ready.id not in ids


@on_both_stores
def test_results_filter_by_task_path(admin_client, tasks):
    remembered = jobs.remember.enqueue("r", 1)
    added = jobs.add.enqueue(1, 1)
    ids = listed_ids(admin_client.get(reverse(RESULTS),
                                      {"task": "tests.tasks.jobs.remember"}))
    assert remembered.id in ids and added.id not in ids


@on_both_stores
def test_results_filter_by_queue(admin_client, tasks):
    other = jobs.add.using(queue_name="other").enqueue(1, 1)
    default = jobs.add.enqueue(1, 1)
    ids = listed_ids(admin_client.get(reverse(RESULTS), {"queue": "other"}))
    assert other.id in ids and default.id not in ids


def test_an_invalid_filter_is_an_error_on_the_page(admin_client, tasks):
    response = admin_client.get(reverse(RESULTS), {"status": "NOT-A-STATUS", "limit": "0"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert b"Please correct the filters" in response.content


@on_both_stores
def test_a_failed_result_shows_its_exception_and_traceback(admin_client, tasks, run_worker):
    result = jobs.fails_once_only.enqueue(f"f-{uuid.uuid4().hex}")
    run_worker()
    content = admin_client.get(result_url(result.id)).content.decode()
    assert "builtins.RuntimeError" in content
    assert "Traceback (most recent call last)" in content
    assert "RuntimeError: no retries for me" in content
    assert 'id="status">FAILED<' in content


def test_the_detail_page_escapes_arguments(admin_client, tasks):
    result = jobs.remember.enqueue("<script>alert(1)</script>", {"<b>": "&"})
    content = admin_client.get(result_url(result.id)).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


@on_both_stores
def test_reenqueue_sends_the_same_task_as_a_new_ready_result(admin_client, tasks):
    original = jobs.add.using(queue_name="other", priority=5).enqueue(2, 3)
    response = admin_client.post(reverse("admin:storage_backends_taskresultrecord_enqueue",
                                         args=[original.id]), follow=True)
    [message] = messages_of(response)
    new_id = re.search(r'as a new task: <a href="[^"]+">(\w+)</a>', message).group(1)
    assert new_id != original.id
    new = tasks.get_result(new_id)
    assert new.status == "READY"
    assert new.task.module_path == "tests.tasks.jobs.add"
    assert (new.args, new.kwargs) == ([2, 3], {})
    assert (new.task.queue_name, new.task.priority) == ("other", 5)
    assert visible(tasks, tasks.config.sqs_name("other", "high")) == 2


@pytest.fixture
def vanished_result(tasks):
    """A stored result whose task path imports nothing any more."""
    payload = Payload(id=uuid.uuid4().hex, task_path="tests.tasks.jobs.vanished",
                      backend="default", queue_name="default", priority=0, args=[1],
                      kwargs={}, enqueued_at=datetime.now(UTC))
    tasks.results.put(payload.id, tasks.results.ready_record(payload))
    return payload.id


@on_both_stores
def test_a_result_whose_task_is_gone_still_shows(admin_client, vanished_result):
    response = admin_client.get(result_url(vanished_result))
    assert response.status_code == 200
    content = response.content.decode()
    assert "tests.tasks.jobs.vanished" in content
    assert 'id="cannot-reenqueue"' in content and 'id="reenqueue"' not in content


def test_a_result_whose_task_is_gone_cannot_be_reenqueued(admin_client, vanished_result):
    response = admin_client.post(reverse("admin:storage_backends_taskresultrecord_enqueue",
                                         args=[vanished_result]), follow=True)
    [message] = messages_of(response)
    assert message.startswith("Cannot re-enqueue: unknown task 'tests.tasks.jobs.vanished'")


@on_both_stores
def test_an_unknown_result_id_is_a_404(admin_client, tasks):
    response = admin_client.get(result_url("no-such-result"))
    assert response.status_code == 404
    assert b"Traceback" not in response.content


# -- queues ---------------------------------------------------------------------------------
def test_the_queues_page_shows_visible_messages(admin_client, tasks, source):
    jobs.add.enqueue(1, 1)
    jobs.add.enqueue(2, 2)

    def counted():
        response = admin_client.get(reverse(QUEUES))
        [row] = [r for r in response.context["rows"] if r["queue"].name == source]
        return row["counts"]["ApproximateNumberOfMessages"] == 2

    wait_for(counted, what="2 visible messages on the queues page")


@pytest.fixture
def sqs_down(settings, tasks):
    """SQS's endpoint moved to a port nothing listens on, and the backend made afresh."""
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "sqs": "http://127.0.0.1:9"}
    settings.AWS_MAX_ATTEMPTS = 1
    reset_aws_clients()
    settings.TASKS = {**settings.TASKS}  # a new SQSBackend, with a client for the new endpoint
    yield
    reset_aws_clients()


def test_the_queues_page_says_when_sqs_cannot_be_reached(admin_client, sqs_down):
    response = admin_client.get(reverse(QUEUES))
    assert response.status_code == 200
    assert b"SQS at http://127.0.0.1:9 cannot be reached" in response.content


def test_the_dead_letter_page_says_when_sqs_cannot_be_reached(admin_client, sqs_down,
                                                              dead_letters_url):
    response = admin_client.get(dead_letters_url)
    assert response.status_code == 503
    assert b"the call failed: EndpointConnectionError" in response.content


# -- dead letters ---------------------------------------------------------------------------
def test_a_dead_letter_is_listed_with_its_reason(admin_client, dead_letter, dead_letters_url,
                                                 source):
    [letter] = letters(admin_client, dead_letters_url)
    assert letter.reason.startswith("not JSON")
    assert letter.source == source
    assert letter.receive_count >= 1


def test_a_dead_letter_shows_its_body_escaped(admin_client, tasks, dead_letter,
                                              dead_letters_url):
    [letter] = letters(admin_client, dead_letters_url)
    response = admin_client.get(reverse("admin:storage_backends_deadletter_message",
                                        args=[dead_letter, letter.message_id]))
    content = response.content.decode()
    assert "&lt;b&gt;not a task&lt;/b&gt;" in content and "<b>not a task</b>" not in content


def test_a_dead_letter_of_a_task_shows_its_task_and_result(admin_client, tasks, run_worker,
                                                           dead_letters_url):
    result = jobs.fails_once_only.enqueue(f"f-{uuid.uuid4().hex}")
    run_worker()
    [letter] = letters(admin_client, dead_letters_url)
    assert (letter.task_path, letter.result_id) == ("tests.tasks.jobs.fails_once_only",
                                                    result.id)
    assert letter.reason.startswith("failed after 1 attempt(s): RuntimeError")


def test_a_message_sqs_moved_itself_says_after_how_many_receives(admin_client, tasks, source,
                                                                 dead_letters_url):
    tasks.sqs.send(source, "never deleted")
    url = tasks.sqs.url(source)

    def moved():  # received and never deleted, as by a worker that dies every time
        tasks.sqs.receive(url, 1, 0, 0)
        return visible(tasks, source + "-dlq") == 1

    wait_for(moved, what="SQS moving the message to the dead-letter queue")
    [letter] = letters(admin_client, dead_letters_url)
    assert letter.moved_by_sqs
    assert letter.reason.startswith("moved by SQS after 10 receives")
    assert letter.source == source


def test_an_unknown_dead_letter_is_a_404(admin_client, tasks, source):
    response = admin_client.get(reverse("admin:storage_backends_deadletter_message",
                                        args=[source + "-dlq", "no-such-message"]))
    assert response.status_code == 404


def task_body(task_path="tests.tasks.jobs.add"):
    """A correctly signed task message body, as the backend sends it."""
    return messages.encode(Payload(
        id=uuid.uuid4().hex, task_path=task_path, backend="default", queue_name="default",
        priority=0, args=[1, 2], kwargs={}, enqueued_at=datetime.now(UTC)))


def tampered_body():
    envelope = json.loads(task_body())
    return json.dumps({**envelope, "payload": envelope["payload"].replace("[1,2]", "[1,3]")})


@pytest.fixture
def runnable_dead_letter(tasks, source):
    """A task message that can run, on the default queue's dead-letter queue."""
    body = task_body()
    before = visible(tasks, source + "-dlq")
    tasks.sqs.dead_letter(source, body, "put here by the test")
    wait_for(lambda: visible(tasks, source + "-dlq") == before + 1, what="one more dead letter")
    return body


def test_redrive_moves_a_dead_letter_back_to_its_source_queue(admin_client, tasks, source,
                                                              runnable_dead_letter,
                                                              dead_letters_url):
    [letter] = letters(admin_client, dead_letters_url)
    assert letter.can_run
    response = admin_client.post(dead_letters_url, {"action": "redrive",
                                                    "message": [letter.message_id]}, follow=True)
    assert messages_of(response) == ["Redrove 1 message to its source queue."]
    wait_for(lambda: visible(tasks, source) == 1 and visible(tasks, source + "-dlq") == 0,
             what="the message back in its source queue")
    [message] = tasks.sqs.receive(tasks.sqs.url(source), 1, 0, 0)
    assert message["Body"] == runnable_dead_letter


#: Dead letters that can never run here, and what the page says of each.
UNRUNNABLE = {
    "not JSON": (lambda: "<b>not a task</b>", "not JSON"),
    "a bad signature": (tampered_body, "bad signature"),
    "an unknown version": (lambda: json.dumps({**json.loads(task_body()), "v": 2}),
                           "unknown message version 2"),
    "an unknown task": (lambda: task_body("tests.tasks.jobs.vanished"),
                        "unknown task &#x27;tests.tasks.jobs.vanished&#x27;"),
    "deep nesting": (lambda: "[" * 10000 + "]" * 10000, "it nests arrays or objects"),
}


@pytest.fixture(params=UNRUNNABLE)
def unrunnable(request, tasks, source):
    """(body, what the page says) of a message that can never run, on the dead-letter
    queue, dead-lettered by a worker."""
    make_body, problem = UNRUNNABLE[request.param]
    body = make_body()
    tasks.sqs.send(source, body)
    request.getfixturevalue("run_worker")()
    wait_for(lambda: visible(tasks, source + "-dlq") == 1, what="one dead letter")
    return body, problem


def message_url(source, letter):
    return reverse("admin:storage_backends_deadletter_message",
                   args=[source + "-dlq", letter.message_id])


def test_a_dead_letter_that_cannot_run_has_no_redrive_button(admin_client, source, unrunnable,
                                                             dead_letters_url):
    _body, problem = unrunnable
    [letter] = letters(admin_client, dead_letters_url)
    assert not letter.can_run
    content = admin_client.get(message_url(source, letter)).content.decode()
    assert 'value="redrive"' not in content
    assert 'value="delete"' in content
    assert 'id="cannot-run"' in content and problem in content


def test_a_dead_letter_queue_of_messages_that_cannot_run_offers_no_redrive(
        admin_client, unrunnable, dead_letters_url):
    content = admin_client.get(dead_letters_url).content.decode()
    assert 'value="redrive"' not in content and 'value="delete"' in content
    assert "cannot run, so cannot be redriven" in content


def test_redriving_a_dead_letter_that_cannot_run_is_refused_and_it_stays(
        admin_client, tasks, source, unrunnable, dead_letters_url):
    [letter] = letters(admin_client, dead_letters_url)
    response = admin_client.post(dead_letters_url, {"action": "redrive",
                                                    "message": [letter.message_id]}, follow=True)
    [error] = messages_of(response)
    assert error.startswith(f"{letter.message_id} not redriven: it can never run (")
    assert error.endswith("inspect or delete it")
    assert visible(tasks, source) == 0
    [still] = letters(admin_client, dead_letters_url)
    assert still.message_id == letter.message_id


def test_a_dead_letter_that_cannot_run_can_still_be_deleted(admin_client, tasks, source,
                                                            unrunnable, dead_letters_url):
    [letter] = letters(admin_client, dead_letters_url)
    response = admin_client.post(dead_letters_url, {"action": "delete",
                                                    "message": [letter.message_id]}, follow=True)
    assert messages_of(response) == ["Deleted 1 message."]
    assert response.context["letters"] == []


def test_the_redrive_option_is_offered_when_one_listed_message_can_run(
        admin_client, dead_letter, runnable_dead_letter, dead_letters_url):
    content = admin_client.get(dead_letters_url).content.decode()
    assert 'value="redrive"' in content


def test_a_dead_letter_that_can_run_has_the_redrive_button(admin_client, source,
                                                           runnable_dead_letter,
                                                           dead_letters_url):
    [letter] = letters(admin_client, dead_letters_url)
    content = admin_client.get(message_url(source, letter)).content.decode()
    assert 'value="redrive"' in content and 'id="cannot-run"' not in content


@on_both_stores
def test_redrive_resets_a_failed_result_so_a_worker_runs_it_again(admin_client, tasks,
                                                                 run_worker, dead_letters_url):
    name = f"f-{uuid.uuid4().hex}"
    result = jobs.fails_once_only.enqueue(name)
    run_worker()
    [letter] = letters(admin_client, dead_letters_url)
    admin_client.post(dead_letters_url, {"action": "redrive", "message": [letter.message_id]})
    record = tasks.results.record(result.id)
    assert (record["status"], record["base"]) == ("READY", "1")
    run_worker()
    assert len(jobs.calls[name]) == 2
    result.refresh()
    assert result.status == "FAILED" and len(result.worker_ids) == 2 and len(result.errors) == 2


def test_redrive_refuses_a_message_whose_task_already_succeeded(admin_client, tasks, source,
                                                               run_worker, dead_letters_url):
    result = jobs.add.enqueue(1, 1)
    [message] = tasks.sqs.receive(tasks.sqs.url(source), 1, 0, 0)  # handed straight back
    tasks.sqs.dead_letter(source, message["Body"], "a copy, for the test")
    run_worker()
    assert tasks.get_result(result.id).status == "SUCCESSFUL"
    [letter] = letters(admin_client, dead_letters_url)
    response = admin_client.post(dead_letters_url, {"action": "redrive",
                                                    "message": [letter.message_id]}, follow=True)
    [error] = messages_of(response)
    assert "its task already succeeded" in error
    assert visible(tasks, source + "-dlq") == 1 and visible(tasks, source) == 0


def test_delete_removes_a_dead_letter(admin_client, tasks, dead_letter, dead_letters_url):
    [letter] = letters(admin_client, dead_letters_url)
    response = admin_client.post(dead_letters_url, {"action": "delete",
                                                    "message": [letter.message_id]}, follow=True)
    assert messages_of(response) == ["Deleted 1 message."]
    wait_for(lambda: tasks.sqs.counts(dead_letter) == {
        "ApproximateNumberOfMessages": 0, "ApproximateNumberOfMessagesNotVisible": 0,
        "ApproximateNumberOfMessagesDelayed": 0}, what="an empty dead-letter queue")
    assert response.context["letters"] == []


def test_an_action_on_a_message_that_is_gone_says_so(admin_client, tasks, dead_letters_url):
    response = admin_client.post(dead_letters_url, {"action": "delete",
                                                    "message": ["no-such-message"]}, follow=True)
    [error] = messages_of(response)
    assert error.startswith("no-such-message not deleted: not found")


def test_a_dead_letter_action_without_a_csrf_token_is_refused(admin_user, tasks,
                                                              dead_letters_url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(dead_letters_url, {"action": "delete", "message": ["any"]})
    assert response.status_code == 403


# -- who may -----------------------------------------------------------------------------------
PAGES = [RESULTS, QUEUES, DEAD_LETTERS]


@pytest.mark.parametrize("page", PAGES)
def test_a_user_who_is_not_staff_is_sent_to_the_login_page(client, django_user_model, page):
    client.force_login(django_user_model.objects.create_user("plain"))
    response = client.get(reverse(page))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("page", PAGES)
def test_a_staff_user_without_permission_is_forbidden(staff_client, page):
    assert staff_client.get(reverse(page)).status_code == 403


def test_a_staff_user_with_view_permission_sees_the_results(staff_client, tasks):
    grant(staff_client.user, "view_taskresultrecord")
    assert staff_client.get(reverse(RESULTS)).status_code == 200


def test_view_permission_alone_cannot_reenqueue(staff_client, tasks):
    grant(staff_client.user, "view_taskresultrecord")
    result = jobs.add.enqueue(1, 1)
    response = staff_client.post(reverse("admin:storage_backends_taskresultrecord_enqueue",
                                         args=[result.id]))
    assert response.status_code == 403


def test_view_permission_alone_cannot_redrive(staff_client, dead_letter, dead_letters_url):
    grant(staff_client.user, "view_deadletter")
    [letter] = letters(staff_client, dead_letters_url)
    response = staff_client.post(dead_letters_url, {"action": "redrive",
                                                    "message": [letter.message_id]})
    assert response.status_code == 403
