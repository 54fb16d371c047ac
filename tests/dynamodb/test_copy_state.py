"""`manage.py copy_state --from simpledb --to dynamodb`: live sessions, task results and
cache entries copied through each store's own format; never over what DynamoDB holds, so
it can run again and resume.

Each test has its own SimpleDB domains and DynamoDB tables: what a run copies is exactly
what the test put there.
"""

import time
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.tasks import TaskResultStatus

from storage_backends import aws, copying
from storage_backends.provisioning import Provisioner
from storage_backends.tasks import Cancellation, cancel, unique
from storage_backends.tasks.cancelling import flag_name
from storage_backends.tasks.results import epoch
from tests.fixtures.dynamodb import create_table
from tests.tasks import jobs


@pytest.fixture
def names():
    return f"c{uuid.uuid4().hex[:8]}"


@pytest.fixture
def results_store():
    """The site still on SimpleDB, as before a move, whichever store the settings chose."""
    return "simpledb"


@pytest.fixture
def task_options(names):
    """Results in a domain and a table of this test's own."""
    Provisioner().ensure_domain(f"{names}-results")
    Provisioner().ensure_table(f"{names}-results")
    return {"WAIT_SECONDS": 1, "VISIBILITY_TIMEOUT": 5, "MAX_ATTEMPTS": 1,
            "MAX_RECEIVE_COUNT": 10, "RESULTS_DOMAIN": f"{names}-results",
            "RESULTS_TABLE": f"{names}-results"}


@pytest.fixture
def sessions(settings, names):
    """A sessions domain and table of this test's own."""
    settings.SIMPLEDB_SESSIONS_DOMAIN = f"{names}-sessions"
    settings.DYNAMODB_SESSIONS_TABLE = f"{names}-sessions"
    Provisioner().ensure_domain(f"{names}-sessions")
    Provisioner().ensure_table(f"{names}-sessions")


def dynamodb_results(tasks):
    """The task backend's results as they are in its DynamoDB table."""
    return copying.result_stores(tasks)[1]


# -- task results ---------------------------------------------------------------------------
def test_live_results_are_copied_with_their_status_times_and_document(tasks, run_worker):
    done = jobs.remember.enqueue("done", {"a": [1]})
    failed = jobs.fails_once_only.enqueue("failed")
    run_worker()
    ready = jobs.add.enqueue(2, 3)
    assert str(copying.copy_results(tasks)) == "3 copied, 0 already there, 0 skipped"
    copied = dynamodb_results(tasks)
    for result in (done, failed, ready):
        original, copy = tasks.get_result(result.id), copied.task_result(
            result.id, copied.record(result.id))
        assert (copy.status, copy.args, copy.kwargs, copy.worker_ids, copy.enqueued_at,
                copy.finished_at) == (original.status, original.args, original.kwargs,
                                      original.worker_ids, original.enqueued_at,
                                      original.finished_at)
    assert copied.task_result(done.id, copied.record(done.id)).return_value == {"a": [1]}
    assert "no retries for me" in copied.task_result(
        failed.id, copied.record(failed.id)).errors[0].traceback
    assert copied.record(ready.id)["expires"] == tasks.results.record(ready.id)["expires"]


def test_an_expired_result_is_not_copied(tasks):
    kept, expired = jobs.add.enqueue(1, 1), jobs.add.enqueue(2, 2)
    tasks.results.put(expired.id, {"expires": epoch(time.time() - 1)})
    assert copying.copy_results(tasks)[copying.COPIED] == 1
    assert dynamodb_results(tasks).record(expired.id) == {}
    assert dynamodb_results(tasks).record(kept.id)["status"] == "READY"


def test_a_result_too_large_for_an_item_is_copied_through_s3(tasks, run_worker):
    result = jobs.random_text.enqueue("large", 600_000)
    run_worker()
    copying.copy_results(tasks)
    copied = dynamodb_results(tasks)
    assert copied.record(result.id)["vs3"]
    [returned] = jobs.calls["large"]
    assert copied.task_result(result.id, copied.record(result.id)).return_value == returned


def test_a_second_run_copies_nothing_again(tasks):
    jobs.add.enqueue(1, 1)
    jobs.add.enqueue(2, 2)
    copying.copy_results(tasks)
    assert str(copying.copy_results(tasks)) == "0 copied, 2 already there, 0 skipped"


def test_a_run_resumes_where_an_earlier_one_stopped(tasks):
    results = [jobs.add.enqueue(n, n) for n in range(3)]
    copying.copy_results(tasks)
    dynamodb_results(tasks).records.delete(results[1].id)  # as if never copied
    assert str(copying.copy_results(tasks)) == "1 copied, 2 already there, 0 skipped"
    assert dynamodb_results(tasks).record(results[1].id)["status"] == "READY"


def test_a_result_already_changed_in_dynamodb_is_left_as_it_is(tasks):
    result = jobs.add.enqueue(1, 1)
    copying.copy_results(tasks)
    dynamodb_results(tasks).put(result.id, {"status": TaskResultStatus.SUCCESSFUL.value})
    copying.copy_results(tasks)
    assert dynamodb_results(tasks).record(result.id)["status"] == "SUCCESSFUL"


def test_a_result_whose_document_is_corrupt_is_skipped(tasks):
    result = jobs.add.enqueue(1, 1)
    jobs.add.enqueue(2, 2)
    tasks.results.put(result.id, {"vn": "2", "vz": "0", "v000": "not base64!"})
    assert str(copying.copy_results(tasks)) == "1 copied, 0 already there, 1 skipped"


def test_unique_claims_and_cancel_requests_are_copied_as_they_are(tasks):
    claimed = jobs.add.unique("copied", within=600).enqueue(1, 1)
    assert cancel(claimed.id) == Cancellation.CANCELLED  # writes a cancel request too
    assert str(copying.copy_results(tasks)) == "3 copied, 0 already there, 0 skipped"
    copied = dynamodb_results(tasks)
    claim = unique.claim_name(tasks, jobs.add.unique("copied", within=600), [1, 1], {})
    assert copied.record(claim)["result"] == claimed.id
    assert copied.existing([flag_name(claimed.id)]) == {flag_name(claimed.id)}


# -- sessions -------------------------------------------------------------------------------
@pytest.fixture
def engines(sessions):
    """The SimpleDB and DynamoDB session engines (the latter once it is on this branch)."""
    from storage_backends.simpledb.sessions import SessionStore as SimpleDBSession

    module = pytest.importorskip("storage_backends.dynamodb.sessions")
    return SimpleDBSession, module.SessionStore


def simpledb_session(engine, data, expiry=None):
    store = engine()
    store.update(data)
    if expiry is not None:
        store.set_expiry(expiry)
    store.save()
    return store.session_key


def test_live_sessions_are_copied_with_their_data_and_expiry(engines, settings):
    simpledb, dynamodb = engines
    first = simpledb_session(simpledb, {"user": "a", "cart": [1, 2]})
    second = simpledb_session(simpledb, {"user": "b"}, expiry=120)
    assert str(copying.copy_sessions()) == "2 copied, 0 already there, 0 skipped"
    assert dict(dynamodb(first).load()) == {"user": "a", "cart": [1, 2]}
    assert dynamodb(second).load()["user"] == "b"
    records = aws.client("sdb").get_attributes(DomainName=settings.SIMPLEDB_SESSIONS_DOMAIN,
                                               ItemName=second, AttributeNames=["x"])
    expiry = int(records["Attributes"][0]["Value"])
    item = aws.client("dynamodb").get_item(TableName=settings.DYNAMODB_SESSIONS_TABLE,
                                           Key={"k": {"S": second}})["Item"]
    assert int(item["x"]["N"]) == expiry


def test_an_expired_session_is_not_copied(engines):
    simpledb, dynamodb = engines
    key = simpledb_session(simpledb, {"user": "gone"}, expiry=1)
    deadline = time.monotonic() + 5
    while simpledb().exists(key):  # its expiry passes within a second or two
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert copying.copy_sessions()[copying.COPIED] == 0
    assert not dynamodb().exists(key)


def test_a_session_already_in_dynamodb_is_left_as_it_is(engines):
    simpledb, dynamodb = engines
    key = simpledb_session(simpledb, {"user": "old"})
    copying.copy_sessions()
    newer = dynamodb(key)
    newer["user"] = "new"
    newer.save()
    assert str(copying.copy_sessions()) == "0 copied, 1 already there, 0 skipped"
    assert dynamodb(key).load()["user"] == "new"


# -- cache entries --------------------------------------------------------------------------
@pytest.fixture
def cache_pair(settings, names):
    """The default alias's SimpleDB domain and DynamoDB table, of this test's own."""
    pytest.importorskip("storage_backends.dynamodb.cache")
    domain, table = f"{names}-cache", create_table(f"{names}-cache")
    Provisioner().ensure_domain(domain)
    settings.COPY_STATE_CACHES = {"default": (domain, table)}
    return domain, table


def named_caches(domain, table):
    from storage_backends.dynamodb.cache import DynamoDBCache
    from storage_backends.simpledb.cache import SimpleDBCache

    from django.conf import settings

    params = {"KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", "")}
    return SimpleDBCache(domain, params), DynamoDBCache(table, params)


def test_live_cache_entries_are_copied_with_the_time_they_have_left(cache_pair):
    simpledb, dynamodb = named_caches(*cache_pair)
    simpledb.set("page", {"html": "<p>"}, 300)
    simpledb.set("forever", "kept", None)
    simpledb.set("count", 41, 300)
    assert str(copying.copy_cache("default", *cache_pair)) == (
        "3 copied, 0 already there, 0 skipped")
    assert dynamodb.get("page") == {"html": "<p>"}
    assert dynamodb.get("forever") == "kept"
    assert dynamodb.incr("count") == 42  # an integer again, as the DynamoDB cache keeps it


def test_a_cache_entry_already_in_dynamodb_is_left_as_it_is(cache_pair):
    simpledb, dynamodb = named_caches(*cache_pair)
    simpledb.set("key", "old", 300)
    dynamodb.set("key", "new", 300)
    assert str(copying.copy_cache("default", *cache_pair)) == (
        "0 copied, 1 already there, 0 skipped")
    assert dynamodb.get("key") == "new"


def test_a_cache_entry_whose_signature_does_not_verify_is_skipped(cache_pair):
    simpledb, _dynamodb = named_caches(*cache_pair)
    simpledb.set("key", "value", 300)
    sdb = aws.client("sdb")
    [item] = sdb.select(SelectExpression=f"select * from `{cache_pair[0]}`",
                        ConsistentRead=True)["Items"]
    sdb.put_attributes(DomainName=cache_pair[0], ItemName=item["Name"], Attributes=[
        {"Name": "sig", "Value": "0" * 64, "Replace": True}])
    assert str(copying.copy_cache("default", *cache_pair)) == (
        "0 copied, 0 already there, 1 skipped")


# -- the command ----------------------------------------------------------------------------
def copy_state(*args):
    out = StringIO()
    call_command("copy_state", "--from", "simpledb", "--to", "dynamodb", *args, stdout=out)
    return out.getvalue()


def test_copy_state_prints_counts_for_each_store_and_can_run_again(tasks, engines, settings,
                                                                   names):
    simpledb, _dynamodb = engines
    simpledb_session(simpledb, {"user": "a"})
    jobs.add.enqueue(1, 1)
    first = copy_state()
    assert (f"sessions {names}-sessions -> {names}-sessions: 1 copied, 0 already there, "
            f"0 skipped") in first
    assert (f"task results {names}-results -> {names}-results: 1 copied, 0 already there, "
            f"0 skipped") in first
    again = copy_state()
    assert "0 copied, 1 already there, 0 skipped" in again
    assert "1 copied" not in again


def test_copy_state_cache_without_pairs_in_the_settings_says_what_it_needs(settings):
    settings.COPY_STATE_CACHES = {}
    with pytest.raises(CommandError, match="--cache needs settings.COPY_STATE_CACHES"):
        copy_state("--cache")


def test_copy_state_refuses_another_direction():
    with pytest.raises(CommandError, match="--from: invalid choice: 'dynamodb'"):
        call_command("copy_state", "--from", "dynamodb", "--to", "simpledb")
