"""`provision_aws` with the state in DynamoDB: the tables the settings use (and no SimpleDB
domain), made on demand with their TTL on `x` and, in production, point-in-time recovery;
`--check` reports drift."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from storage_backends import aws, resources
from storage_backends.provisioning import Provisioner
from tests.fixtures.dynamodb import create_table

DYNAMODB_CACHE = "storage_backends.dynamodb.cache.DynamoDBCache"


@pytest.fixture
def tag(settings):
    """Settings as STRATUS_STATE_STORE=dynamodb makes them, under names no other test uses:
    sessions, both cache aliases, the task results and workers' reports in DynamoDB tables."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    settings.SESSION_ENGINE = "storage_backends.dynamodb.sessions"
    settings.DYNAMODB_SESSIONS_TABLE = f"{tag}-sessions"
    settings.CACHES = {alias: {**cache, "BACKEND": DYNAMODB_CACHE,
                               "LOCATION": f"{tag}-{alias.replace('_', '-')}"}
                       for alias, cache in settings.CACHES.items()}
    settings.TASKS = {"default": {**settings.TASKS["default"], "OPTIONS": {
        **settings.TASKS["default"]["OPTIONS"], "QUEUE_PREFIX": f"{tag}-",
        "RESULTS_STORE": "dynamodb", "RESULTS_DOMAIN": f"{tag}-unused",
        "RESULTS_TABLE": f"{tag}-task-results", "METRICS_TABLE": f"{tag}-task-metrics"}}}
    return tag


def tables(tag):
    return [f"{tag}-{name}" for name in ("sessions", "default", "login-failures",
                                         "task-results", "task-metrics")]


def provision(*args):
    out = StringIO()
    call_command("provision_aws", *args, stdout=out)
    return out.getvalue()


def check_problems():
    with pytest.raises(CommandError) as caught:
        provision("--check")
    return str(caught.value)


def ttl_of(name):
    return aws.client("dynamodb").describe_time_to_live(TableName=name)["TimeToLiveDescription"]


def recovery_of(name):
    return aws.client("dynamodb").describe_continuous_backups(TableName=name)[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"]


# -- what is provisioned --------------------------------------------------------------------
def test_the_tables_in_use_are_the_sessions_both_caches_task_results_and_workers_reports(tag):
    assert resources.tables() == tables(tag)


def test_with_every_piece_of_state_in_dynamodb_no_simpledb_domain_is_in_use(tag):
    assert resources.domains() == []


def test_provision_creates_each_table_on_demand_keyed_by_k_with_its_ttl_on_x(tag):
    output = provision()
    dynamodb = aws.client("dynamodb")
    for name in tables(tag):
        assert f"DynamoDB table {name}: created, on demand, TTL on x" in output
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["KeySchema"] == [{"AttributeName": "k", "KeyType": "HASH"}]
        assert table["AttributeDefinitions"] == [{"AttributeName": "k", "AttributeType": "S"}]
        assert ttl_of(name) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "x"}


def test_provision_makes_no_simpledb_domain_when_none_is_in_use(tag):
    output = provision()
    assert "SimpleDB" not in output
    domains = [name for page in aws.client("sdb").get_paginator("list_domains").paginate()
               for name in page.get("DomainNames", []) if name.startswith(tag)]
    assert domains == []


def test_provision_twice_changes_nothing_and_says_so(tag):
    provision()
    output = provision()
    assert "created" not in output
    assert output.count("DynamoDB table") == output.count(": exists, on demand, TTL on x") == 5
    assert "All AWS resources are in place." in provision("--check")


def test_locally_point_in_time_recovery_is_left_as_it_is(tag):
    output = provision()
    assert "point-in-time" not in output
    assert recovery_of(f"{tag}-sessions") == "DISABLED"


def test_in_production_point_in_time_recovery_is_turned_on(tag, settings):
    settings.PRODUCTION = True
    output = provision()
    assert output.count("point-in-time recovery on") == 5
    assert all(recovery_of(name) == "ENABLED" for name in tables(tag))
    assert "All AWS resources are in place." in provision("--check")


# -- drift ----------------------------------------------------------------------------------
def test_check_reports_a_missing_table(tag):
    provision()
    aws.client("dynamodb").delete_table(TableName=f"{tag}-default")
    assert f"DynamoDB table {tag}-default is missing" in check_problems()
    provision()
    assert "All AWS resources are in place." in provision("--check")


def test_check_reports_a_table_whose_ttl_is_off_and_provision_turns_it_on(tag):
    provision()
    aws.client("dynamodb").update_time_to_live(
        TableName=f"{tag}-sessions",
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "x"})
    assert f"DynamoDB table {tag}-sessions has no TTL on x" in check_problems()
    provision()
    assert ttl_of(f"{tag}-sessions")["TimeToLiveStatus"] == "ENABLED"


def test_check_reports_point_in_time_recovery_off_in_production(tag, settings):
    provision()  # locally: recovery off
    settings.PRODUCTION = True
    assert (f"DynamoDB table {tag}-task-results has point-in-time recovery off, in "
            f"production") in check_problems()


def test_a_table_keyed_otherwise_is_reported_and_never_changed(tag):
    aws.client("dynamodb").create_table(
        TableName=f"{tag}-sessions", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    assert (f"DynamoDB table {tag}-sessions is keyed by id (HASH, S), not by k alone"
            in check_problems())
    with pytest.raises(CommandError, match="a table's key cannot be changed"):
        provision()


def test_a_ttl_on_another_attribute_is_refused_saying_what_to_do(tag):
    name = create_table(f"{tag}-default")
    aws.client("dynamodb").update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    with pytest.raises(CommandError, match="has its TTL on 'ttl', not 'x': disable it first"):
        provision()


def test_a_table_with_provisioned_capacity_is_kept_as_it_is(tag):
    aws.client("dynamodb").create_table(
        TableName=f"{tag}-default", BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    output = provision()
    assert f"DynamoDB table {tag}-default: exists, provisioned capacity, TTL on x" in output


def test_ensure_table_alone_makes_one_table(tag):
    line = Provisioner().ensure_table(f"{tag}-alone")
    assert line == f"DynamoDB table {tag}-alone: created, on demand, TTL on x"
