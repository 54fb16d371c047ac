"""Running a task test on both result stores (the backend's RESULTS_STORE)."""

import pytest

from storage_backends.tasks.results import STORES

#: Marks a test (or class) whose outcome depends on the result store: it runs on each.
on_both_stores = pytest.mark.parametrize("results_store", STORES)

#: Per store, the call that writes one result, the one that writes a batch of them, and
#: the one that reads a batch.
WRITE_ONE = {"simpledb": "PutAttributes", "dynamodb": "UpdateItem"}
WRITE_MANY = {"simpledb": "BatchPutAttributes", "dynamodb": "BatchWriteItem"}
READ_MANY = {"simpledb": "Select", "dynamodb": "BatchGetItem"}
