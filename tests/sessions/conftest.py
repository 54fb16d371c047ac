"""Fixtures for the session engines' tests: a fresh sessions domain (and, for the DynamoDB
engine, table) per test."""

import uuid
from contextlib import contextmanager

import pytest

from storage_backends import aws

ENGINE = "storage_backends.simpledb.sessions"


@pytest.fixture(autouse=True)
def sessions_domain(settings, local_aws):
    """A new, empty SimpleDB domain as SIMPLEDB_SESSIONS_DOMAIN, deleted after the test.

    Every test sees only its own items, so counts and clear_expired can be exact.
    """
    name = f"test-sessions-{uuid.uuid4().hex[:12]}"
    sdb = aws.client("sdb")
    sdb.create_domain(DomainName=name)
    settings.SIMPLEDB_SESSIONS_DOMAIN = name
    yield name
    local_aws.simpledb.faults.update(latency_ms=0, fail_rate=0, stale_read_rate=0)
    sdb.delete_domain(DomainName=name)  # this client, whatever a test did to the settings


@pytest.fixture
def dynamodb_sessions_table(settings, dynamodb_table):
    """A new, empty DynamoDB table as DYNAMODB_SESSIONS_TABLE."""
    settings.DYNAMODB_SESSIONS_TABLE = dynamodb_table
    return dynamodb_table


@pytest.fixture
def sdb():
    """The process's boto3 SimpleDB client: the one the session engine calls through."""
    return aws.client("sdb")


@contextmanager
def capturing_params(client):
    """Record (operation, API parameters) of each SimpleDB call the client makes."""
    calls = []

    def record(params, model, **kwargs):
        calls.append((model.name, dict(params)))

    client.meta.events.register("before-parameter-build.simpledb", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-parameter-build.simpledb", record)
