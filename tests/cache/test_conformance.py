"""Django's cache contract, through SimpleDBCache on the local SimpleDB and DynamoDBCache on
the local DynamoDB (moto)."""

import uuid

import pytest
from django.conf import settings

from tests.fixtures.dynamodb import create_table

from .conformance import CacheConformance

#: The DynamoDB table of this module's run (each test has a KEY_PREFIX of its own).
DYNAMODB_TABLE = f"test-conformance-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def conformance_table(django_on_local_aws):
    return create_table(DYNAMODB_TABLE)


class TestSimpleDBCache(CacheConformance):
    params = {"BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
              "LOCATION": settings.SIMPLEDB_CACHE_DOMAIN}


@pytest.mark.usefixtures("conformance_table")
class TestDynamoDBCache(CacheConformance):
    params = {"BACKEND": "storage_backends.dynamodb.cache.DynamoDBCache",
              "LOCATION": DYNAMODB_TABLE}
    expiry_resolution = 1
