"""SQSBackend: what it declares, what it refuses, and what enqueueing sends (and when)."""

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.tasks import TaskResultStatus, task
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
from django.tasks.signals import task_enqueued
from django.utils import timezone

from storage_backends.tasks import SQSBackend, messages, options
from tests.tasks import jobs
from tests.tasks.calls import aws_calls
from tests.tasks.stores import WRITE_MANY, WRITE_ONE, on_both_stores


@pytest.fixture
def configured(request, task_options):
    """The `tasks` backend with some OPTIONS changed: `configured(ENQUEUE_ON_COMMIT=False)`."""
    def configure(**changes):
        task_options.update(changes)
        return request.getfixturevalue("tasks")
    return configure


def waiting(tasks, queue="default", band=""):
    """How many messages an SQS queue of the backend holds, visible or delayed."""
    counts = tasks.sqs.counts(tasks.config.sqs_name(queue, band))
    return counts["ApproximateNumberOfMessages"] + counts["ApproximateNumberOfMessagesDelayed"]


#: Seconds a test waits for what another thread does.
DEADLINE = 10


def add_calls(count):
    return [((n, n), {}) for n in range(count)]


# -- capabilities ---------------------------------------------------------------------------
def test_the_backend_declares_defer_async_results_and_priority():
    assert SQSBackend.supports_defer
    assert SQSBackend.supports_async_task
    assert SQSBackend.supports_get_result
    assert SQSBackend.supports_priority


def test_tasks_of_the_backend_are_sqs_tasks_with_max_attempts(tasks):
    assert tasks.task_class.__name__ == "SQSTask"
    assert jobs.fails_once_only.max_attempts == 1
    assert jobs.add.max_attempts is None


# -- validate_task --------------------------------------------------------------------------
def test_a_queue_the_backend_does_not_have_is_invalid(tasks):
    with pytest.raises(InvalidTask, match="Queue 'nowhere' is not valid"):
        jobs.add.using(queue_name="nowhere")


def test_a_naive_run_after_is_invalid_when_use_tz(tasks, settings):
    settings.USE_TZ = True
    with pytest.raises(InvalidTask, match="run_after must be an aware datetime"):
        jobs.add.using(run_after=datetime.now() + timedelta(minutes=1))  # noqa: DTZ005


@pytest.mark.parametrize("priority", [-101, 101])
def test_a_priority_outside_minus_100_to_100_is_invalid(tasks, priority):
    with pytest.raises(InvalidTask, match="priority must be a whole number between -100 and 100"):
        jobs.add.using(priority=priority)


@pytest.mark.parametrize("max_attempts", [0, 10, 2.5, "3", True])
def test_max_attempts_must_be_below_the_queues_max_receive_count(tasks, max_attempts):
    with pytest.raises(InvalidTask, match=r"max_attempts must be a whole number from 1 to 9 "
                                          r"\(below the queue's MAX_RECEIVE_COUNT\)"):
        task(max_attempts=max_attempts)(jobs.add.func)


def test_max_attempts_up_to_one_below_max_receive_count_is_valid(tasks):
    assert task(max_attempts=9)(jobs.add.func).max_attempts == 9


def test_a_task_defined_in_main_is_invalid(tasks):
    namespace = {"__name__": "__main__"}
    exec("def job():\n    return 1\n", namespace)  # noqa: S102 - a function of __main__
    with pytest.raises(InvalidTask, match="defined in __main__ cannot be imported by a worker"):
        task(namespace["job"])


# -- options --------------------------------------------------------------------------------
def test_an_unknown_option_is_improperly_configured():
    with pytest.raises(ImproperlyConfigured, match=r"unknown SQSBackend OPTIONS: VISIBILITY "
                                                   r"\(known: .*VISIBILITY_TIMEOUT"):
        options.parse({"VISIBILITY": 30}, ["default"])


@pytest.mark.parametrize(("name", "value"), [
    ("VISIBILITY_TIMEOUT", "60"), ("VISIBILITY_TIMEOUT", 0), ("VISIBILITY_TIMEOUT", 43201),
    ("WAIT_SECONDS", 21), ("WAIT_SECONDS", -1), ("MAX_ATTEMPTS", True), ("RETRY_DELAY", 1.5),
    ("RESULT_RETENTION", 59), ("SHUTDOWN_GRACE", None),
])
def test_an_option_that_is_not_an_integer_in_range_is_improperly_configured(name, value):
    with pytest.raises(ImproperlyConfigured, match=rf"OPTIONS\['{name}'\] must be an integer"):
        options.parse({name: value}, ["default"])


@pytest.mark.parametrize("value", ["false", 0, None])
def test_enqueue_on_commit_must_be_a_boolean(value):
    with pytest.raises(ImproperlyConfigured,
                       match=r"OPTIONS\['ENQUEUE_ON_COMMIT'\] must be True or False"):
        options.parse({"ENQUEUE_ON_COMMIT": value}, ["default"])


def test_a_requested_zero_stays_zero():
    parsed = options.parse({"WAIT_SECONDS": 0, "RETRY_DELAY": 0, "SHUTDOWN_GRACE": 0},
                           ["default"])
    assert (parsed.wait_seconds, parsed.retry_delay, parsed.shutdown_grace) == (0, 0, 0)


def test_priority_bands_must_reach_the_lowest_priority():
    with pytest.raises(ImproperlyConfigured, match="the lowest band starts at 0, not -100"):
        options.parse({"PRIORITY_BANDS": {"high": 10, "": 0}}, ["default"])


def test_a_priority_band_suffix_must_fit_a_queue_name():
    with pytest.raises(ImproperlyConfigured, match="'very high' is not usable"):
        options.parse({"PRIORITY_BANDS": {"very high": 10, "": -100}}, ["default"])


def test_priority_bands_map_priorities_to_queues_highest_first():
    parsed = options.parse({"PRIORITY_BANDS": {"": -100, "urgent": 50, "high": 1}}, ["mail"])
    assert parsed.sqs_names() == ["stratus-mail-urgent", "stratus-mail-high", "stratus-mail"]
    assert [parsed.band_of(p) for p in (100, 50, 49, 1, 0, -100)] == [
        "urgent", "urgent", "high", "high", "", ""]


def test_max_attempts_must_be_below_max_receive_count():
    with pytest.raises(ImproperlyConfigured, match=r"MAX_ATTEMPTS \(5\) must be below "
                                                   r"MAX_RECEIVE_COUNT \(5\)"):
        options.parse({"MAX_ATTEMPTS": 5, "MAX_RECEIVE_COUNT": 5}, ["default"])


def test_a_queue_name_too_long_for_sqs_is_improperly_configured():
    # "<prefix>default-high-dlq" is 81 characters.
    with pytest.raises(ImproperlyConfigured,
                       match=r"'p{65}default-high' \(and its dead-letter queue .*\) must be at most 80"):
        options.parse({"QUEUE_PREFIX": "p" * 65}, ["default"])


def test_a_dead_letter_queue_name_of_80_characters_is_accepted():
    assert len(options.parse({"QUEUE_PREFIX": "p" * 64}, ["default"]).sqs_names()[0]) == 76


def test_a_queue_name_with_characters_sqs_refuses_is_improperly_configured():
    with pytest.raises(ImproperlyConfigured, match="must be at most 80 letters, digits"):
        options.parse({}, ["mail.outgoing"])


def test_a_results_domain_simpledb_refuses_is_improperly_configured():
    with pytest.raises(ImproperlyConfigured, match="RESULTS_DOMAIN 'a' is not a valid"):
        options.parse({"RESULTS_DOMAIN": "a"}, ["default"])


def test_a_results_table_dynamodb_refuses_is_improperly_configured():
    with pytest.raises(ImproperlyConfigured, match="RESULTS_TABLE 'a b' is not a valid"):
        options.parse({"RESULTS_STORE": "dynamodb", "RESULTS_TABLE": "a b"}, ["default"])


def test_a_results_store_other_than_simpledb_or_dynamodb_is_improperly_configured():
    with pytest.raises(ImproperlyConfigured, match="RESULTS_STORE'] must be one of "
                                                   "'simpledb', 'dynamodb', not 'redis'"):
        options.parse({"RESULTS_STORE": "redis"}, ["default"])


def test_results_are_kept_in_simpledb_unless_the_options_say_dynamodb():
    assert options.parse({}, ["default"]).results_store == "simpledb"


def test_a_bad_option_in_settings_fails_when_the_backend_is_made(settings):
    from django.tasks import task_backends

    settings.TASKS = {"default": {"BACKEND": "storage_backends.tasks.SQSBackend",
                                  "OPTIONS": {"MAX_ATTEMPTS": 0}}}
    with pytest.raises(ImproperlyConfigured, match=r"OPTIONS\['MAX_ATTEMPTS'\]"):
        task_backends["default"]


# -- enqueue and get_result -----------------------------------------------------------------
def test_enqueue_returns_a_ready_result_with_an_id(tasks):
    result = jobs.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    assert len(result.id) == 32
    assert (result.args, result.kwargs, result.backend) == ([2, 3], {}, "default")
    assert result.enqueued_at is not None and result.started_at is None
    assert result.worker_ids == [] and result.errors == []


def test_enqueue_fires_task_enqueued_with_the_result(tasks):
    received = []

    def receiver(sender, task_result, **kwargs):
        received.append((sender, task_result))

    task_enqueued.connect(receiver)
    try:
        result = jobs.add.enqueue(2, 3)
    finally:
        task_enqueued.disconnect(receiver)
    assert received == [(SQSBackend, result)]


@on_both_stores
def test_a_ready_result_is_readable_before_any_worker_runs(tasks):
    result = jobs.remember.using(priority=7, queue_name="other").enqueue("name", value=[1, 2])
    found = tasks.get_result(result.id)
    assert found.status == TaskResultStatus.READY
    assert found.task.func is jobs.remember.func
    assert (found.task.priority, found.task.queue_name) == (7, "other")
    assert (found.args, found.kwargs) == (["name"], {"value": [1, 2]})
    assert abs(found.enqueued_at - result.enqueued_at) < timedelta(milliseconds=1)
    with pytest.raises(ValueError, match="not finished yet"):
        found.return_value


@on_both_stores
def test_an_unknown_result_id_does_not_exist(tasks):
    with pytest.raises(TaskResultDoesNotExist):
        tasks.get_result("no-such-result-id")


def test_arguments_that_are_not_json_are_a_type_error_and_nothing_is_sent(tasks):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    with aws_calls(tasks) as calls, pytest.raises(TypeError):
        jobs.add.enqueue(object(), 1)
    assert calls == []
    assert waiting(tasks) == 1


@on_both_stores
def test_enqueue_is_one_send_message_and_one_result_write(tasks, results_store):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    with aws_calls(tasks) as calls:
        jobs.add.enqueue(2, 3)
    assert sorted(calls) == sorted([WRITE_ONE[results_store], "SendMessage"])


def test_a_task_goes_to_the_queue_of_its_priority_band(tasks):
    jobs.add.using(priority=1).enqueue(1, 1)
    jobs.add.using(priority=0).enqueue(0, 0)
    jobs.add.using(priority=-100).enqueue(0, 0)
    assert waiting(tasks, band="high") == 1
    assert waiting(tasks, band="") == 2


@on_both_stores
def test_enqueue_many_sends_ten_messages_a_call_and_writes_25_results_a_call(tasks,
                                                                            results_store):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    with aws_calls(tasks) as calls:
        results = tasks.enqueue_many(jobs.add, add_calls(25))
    assert sorted(calls) == sorted([WRITE_MANY[results_store]] + ["SendMessageBatch"] * 3)
    assert len({result.id for result in results}) == 25
    assert waiting(tasks) == 26
    assert tasks.get_result(results[-1].id).args == [24, 24]


@contextmanager
def hooked(client, event, handler):
    """`handler` registered on one of botocore's events of `client` inside the block."""
    client.meta.events.register(event, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event, handler)


@on_both_stores
def test_a_bulk_enqueue_sends_each_message_only_once_its_result_is_written(tasks,
                                                                          results_store):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    sent_unwritten = []

    def check_results_exist(params, **kwargs):
        ids = [messages.decode(entry["MessageBody"]).id for entry in params["Entries"]]
        written = tasks.results.records_of(ids)
        sent_unwritten.extend(result_id for result_id in ids if result_id not in written)

    with hooked(tasks.sqs.sqs, "before-parameter-build.sqs.SendMessageBatch",
                check_results_exist):
        results = tasks.enqueue_many(jobs.add, add_calls(120))
    assert len(results) == 120
    assert sent_unwritten == []


@on_both_stores
def test_a_bulk_enqueue_writes_later_results_while_earlier_messages_are_sent(tasks,
                                                                            results_store):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    first_sent = threading.Event()
    waited = []

    def last_write_waits_for_a_send(params, **kwargs):
        # 120 tasks: results are written 25, 25, 25, 25, then 20 to a call; the last
        # write waits until messages are sent, which a write-all-then-send would never do.
        items = params.get("Items") or next(iter(params.get("RequestItems", {}).values()))
        if len(items) == 20:
            waited.append(first_sent.wait(DEADLINE))

    store = tasks.results.client
    write = f"{store.meta.service_model.service_id.hyphenize()}.{WRITE_MANY[results_store]}"
    with hooked(store, f"before-parameter-build.{write}", last_write_waits_for_a_send), \
            hooked(tasks.sqs.sqs, "before-call.sqs.SendMessageBatch",
                   lambda **kwargs: first_sent.set()), aws_calls(tasks) as calls:
        tasks.enqueue_many(jobs.add, add_calls(120))
    assert waited == [True]
    assert sorted(calls) == sorted([WRITE_MANY[results_store]] * 5 + ["SendMessageBatch"] * 12)


def test_a_bulk_enqueue_sends_its_steps_side_by_side(tasks):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    # The first sends of two threads meet: sends made one after another never would.
    meeting, senders, lock = threading.Barrier(2, timeout=DEADLINE), set(), threading.Lock()

    def meet(**kwargs):
        with lock:
            sender = threading.current_thread().name
            if sender in senders or len(senders) == 2:
                return
            senders.add(sender)
        meeting.wait()

    with hooked(tasks.sqs.sqs, "before-call.sqs.SendMessageBatch", meet):
        results = tasks.enqueue_many(jobs.add, add_calls(200))
    assert len(senders) == 2 and not meeting.broken
    assert waiting(tasks) == 201 and len({result.id for result in results}) == 200


def test_enqueue_many_of_nothing_sends_nothing(tasks):
    with aws_calls(tasks) as calls:
        assert tasks.enqueue_many(jobs.add, []) == []
    assert calls == []


def test_a_deferred_task_is_sent_with_the_delay_that_remains(tasks):
    result = jobs.add.using(run_after=timezone.now() + timedelta(seconds=60)).enqueue(1, 2)
    counts = tasks.sqs.counts(tasks.config.sqs_name("default"))
    assert counts["ApproximateNumberOfMessagesDelayed"] == 1
    assert counts["ApproximateNumberOfMessages"] == 0
    assert tasks.get_result(result.id).status == TaskResultStatus.READY


# -- enqueue inside transactions ------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_inside_atomic_nothing_is_sent_before_the_commit(tasks):
    with transaction.atomic():
        result = jobs.add.enqueue(2, 3)
        assert waiting(tasks) == 0
        with pytest.raises(TaskResultDoesNotExist):
            tasks.get_result(result.id)
    assert waiting(tasks) == 1
    assert tasks.get_result(result.id).status == TaskResultStatus.READY


@pytest.mark.django_db(transaction=True)
def test_tasks_enqueued_in_a_transaction_go_out_in_batches_on_commit(tasks, results_store):
    jobs.add.enqueue(0, 0)  # looks up the queue URL
    with aws_calls(tasks) as calls:
        with transaction.atomic():
            results = [jobs.add.enqueue(n, n) for n in range(12)]
            assert calls == []
    assert sorted(calls) == sorted([WRITE_MANY[results_store]] + ["SendMessageBatch"] * 2)
    assert waiting(tasks) == 13
    assert [tasks.get_result(r.id).args for r in results] == [[n, n] for n in range(12)]


@pytest.mark.django_db(transaction=True)
def test_task_enqueued_fires_on_commit(tasks):
    received = []

    def receiver(sender, task_result, **kwargs):
        received.append(task_result.id)

    task_enqueued.connect(receiver)
    try:
        with transaction.atomic():
            result = jobs.add.enqueue(2, 3)
            assert received == []
    finally:
        task_enqueued.disconnect(receiver)
    assert received == [result.id]


@pytest.mark.django_db(transaction=True)
def test_a_rollback_sends_nothing(tasks):
    with aws_calls(tasks) as calls, pytest.raises(ZeroDivisionError):
        with transaction.atomic():
            result = jobs.add.enqueue(2, 3)
            tasks.enqueue_many(jobs.add, add_calls(3))
            1 / 0  # noqa: B018 - roll back
    assert calls == []
    assert waiting(tasks) == 0
    with pytest.raises(TaskResultDoesNotExist):
        tasks.get_result(result.id)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_drops_only_its_own_tasks(tasks):
    with transaction.atomic():
        before = jobs.add.enqueue(1, 1)
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            dropped = jobs.add.enqueue(2, 2)
            1 / 0  # noqa: B018 - roll back the savepoint
        after = jobs.add.enqueue(3, 3)
    assert waiting(tasks) == 2
    assert tasks.get_result(before.id).args == [1, 1]
    assert tasks.get_result(after.id).args == [3, 3]
    with pytest.raises(TaskResultDoesNotExist):
        tasks.get_result(dropped.id)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_as_the_last_enqueue_still_sends_the_rest(tasks):
    with transaction.atomic():
        kept = jobs.add.enqueue(1, 1)
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            jobs.add.enqueue(2, 2)
            1 / 0  # noqa: B018 - roll back the savepoint
    assert waiting(tasks) == 1
    assert tasks.get_result(kept.id).status == TaskResultStatus.READY


@pytest.mark.django_db(transaction=True)
def test_a_released_savepoint_sends_its_tasks_with_the_outer_commit(tasks):
    with transaction.atomic():
        with transaction.atomic():
            inner = jobs.add.enqueue(1, 1)
        assert waiting(tasks) == 0
    assert tasks.get_result(inner.id).status == TaskResultStatus.READY


@pytest.mark.django_db(transaction=True)
def test_without_enqueue_on_commit_a_task_is_sent_at_once_inside_atomic(configured):
    tasks = configured(ENQUEUE_ON_COMMIT=False)
    with transaction.atomic():
        result = jobs.add.enqueue(2, 3)
        assert waiting(tasks) == 1
        assert tasks.get_result(result.id).status == TaskResultStatus.READY
