"""The exceptions of the DynamoDB stores.

`Unavailable` is the SimpleDB stores' own class, so that whatever already turns an
unreachable store into the 503 page (apps.ops.middleware) or a degraded cache read treats
both stores alike; so is `ValueTooLarge` (a value bigger than the store holds), so that a
caller refusing an oversized session or cache value need not know which store is in use.
"""

from ..simpledb.errors import Unavailable, ValueTooLarge  # noqa: F401  (re-exported: one of each)


class DynamoDBError(Exception):
    """A DynamoDB call failed for a reason the caller did not ask about."""


class ConditionFailed(DynamoDBError):
    """The write's condition did not hold; `item` is the item that failed it (plain values)
    when the call asked for it (`item_on_failure`), else None."""

    def __init__(self, message="", item=None):
        super().__init__(message)
        self.item = item


class NoSuchTable(DynamoDBError):
    """The table does not exist (not provisioned?)."""
