"""One small DynamoDB client shared by the session engine, the cache and the task result
store: items of one table, keyed by a single string attribute, with an expiry.

Every table Stratus uses has the same shape: partition key `k` (a string), and `x`, the
expiry in epoch seconds (a number), which the table's TTL deletes lazily (up to days
late; moto never does), so every reader also checks it. Values are plain Python: str,
int, bytes (binary), and so on, converted by boto3's own TypeSerializer.

Errors come out as this package's exceptions (`errors.py`): a failed condition is
`ConditionFailed`, throttling, a 5xx or a connection that failed is `Unavailable`, a
missing table `NoSuchTable`; anything else is `DynamoDBError`.
"""

import re
import time

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from .errors import ConditionFailed, DynamoDBError, NoSuchTable, Unavailable

#: The partition key and expiry attributes of every Stratus table.
KEY = "k"
EXPIRY = "x"
#: What DynamoDB accepts as a table name.
TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
#: DynamoDB's largest item, names and values together (bytes).
MAX_ITEM_BYTES = 400 * 1024
#: Items per BatchGetItem and per BatchWriteItem call.
BATCH_GET = 100
BATCH_WRITE = 25
#: Rounds of retrying the unprocessed part of a batch before giving up as unavailable.
BATCH_ROUNDS = 5

_UNAVAILABLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException",
                      "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
                      "LimitExceededException"}
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def translate(error):
    """The package's exception for a botocore error (returned, for `raise ... from error`)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code == "ConditionalCheckFailedException":
            item = error.response.get("Item")
            return ConditionFailed(code, item=from_item(item) if item is not None else None)
        if code == "ResourceNotFoundException":
            return NoSuchTable(str(error))
        if code in _UNAVAILABLE_CODES or status >= 500:
            return Unavailable(f"{code}: {error}")
        return DynamoDBError(f"{code}: {error}")
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, ...
        return Unavailable(f"{type(error).__name__}: {error}")
    return error


def to_item(values):
    """Plain values as DynamoDB's typed attributes (None values are left out)."""
    return {name: _serialize(value) for name, value in values.items() if value is not None}


def from_item(item):
    """DynamoDB's typed attributes as plain values (binary as bytes, numbers as int or
    Decimal)."""
    plain = {name: _deserialize(value) for name, value in item.items()}
    return {name: (value.value if type(value).__name__ == "Binary" else value)
            for name, value in plain.items()}


def live(item, now=None):
    """Whether `item` (plain values, or None) exists and has not expired: the TTL deletes
    late, so an expired item may still be there."""
    if item is None:
        return False
    expiry = item.get(EXPIRY)
    return expiry is None or expiry > (time.time() if now is None else now)


class DynamoDBTable:
    """Items of one table, through a boto3 `dynamodb` client (one call per method unless
    said otherwise)."""

    def __init__(self, table, dynamodb):
        self.table = table
        self.dynamodb = dynamodb

    def _call(self, method, **params):
        try:
            return getattr(self.dynamodb, method)(**params)
        except (ClientError, BotoCoreError) as error:
            raise translate(error) from error

    @staticmethod
    def _conditional(params, condition, names, values, item_on_failure=False):
        if condition:
            params["ConditionExpression"] = condition
            if item_on_failure:
                params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            params["ExpressionAttributeNames"] = names
        if values:
            params["ExpressionAttributeValues"] = to_item(values)
        return params

    def get(self, key, consistent=False, attributes=None):
        """The item `key` as plain values, or None; expired items included (see `live`)."""
        params = {"TableName": self.table, "Key": to_item({KEY: key}),
                  "ConsistentRead": consistent}
        if attributes:
            params["ProjectionExpression"] = ", ".join(f"#a{i}" for i in range(len(attributes)))
            params["ExpressionAttributeNames"] = {f"#a{i}": name
                                                  for i, name in enumerate(attributes)}
        item = self._call("get_item", **params).get("Item")
        return from_item(item) if item is not None else None

    def put(self, key, values, condition=None, names=None, condition_values=None,
            returning="NONE", item_on_failure=False):
        """Write the whole item `key` (replacing any); ConditionFailed if `condition` (a
        ConditionExpression) does not hold. With `returning` "ALL_OLD", the item it
        replaced as plain values ({} if none); with `item_on_failure`, the ConditionFailed
        carries the item that failed the condition as `.item` (None if there was none).
        Neither costs read units, only bytes on the wire."""
        params = {"TableName": self.table, "Item": to_item({**values, KEY: key}),
                  "ReturnValues": returning}
        response = self._call("put_item", **self._conditional(
            params, condition, names, condition_values, item_on_failure))
        return from_item(response.get("Attributes", {}))

    def update(self, key, expression, condition=None, names=None, values=None,
               returning="NONE", item_on_failure=False):
        """UpdateItem `key` with `expression` (an UpdateExpression), atomically; the
        attributes `returning` asks for (e.g. "UPDATED_NEW") as plain values
        (`item_on_failure` as for put)."""
        params = {"TableName": self.table, "Key": to_item({KEY: key}),
                  "UpdateExpression": expression, "ReturnValues": returning}
        response = self._call("update_item", **self._conditional(params, condition, names,
                                                                 values, item_on_failure))
        return from_item(response.get("Attributes", {}))

    def delete(self, key, condition=None, names=None, values=None, returning="NONE",
               item_on_failure=False):
        """Delete the item `key` (nothing if it is absent and there is no condition); with
        `returning` "ALL_OLD", the item deleted as plain values ({} if none)
        (`item_on_failure` as for put)."""
        params = {"TableName": self.table, "Key": to_item({KEY: key}), "ReturnValues": returning}
        response = self._call("delete_item", **self._conditional(params, condition, names,
                                                                 values, item_on_failure))
        return from_item(response.get("Attributes", {}))

    def get_many(self, keys, consistent=False):
        """{key: plain item} of those of `keys` that exist; one BatchGetItem per BATCH_GET
        keys, plus retries of what DynamoDB left unprocessed."""
        found = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), BATCH_GET):
            request = {self.table: {"Keys": [to_item({KEY: key})
                                             for key in keys[start:start + BATCH_GET]],
                                    "ConsistentRead": consistent}}
            for _ in range(BATCH_ROUNDS):
                response = self._call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    plain = from_item(item)
                    found[plain[KEY]] = plain
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise Unavailable(f"{self.table}: keys left unprocessed after "
                                  f"{BATCH_ROUNDS} rounds")
        return found

    def put_many(self, items):
        """Write {key: values} in BatchWriteItem calls of BATCH_WRITE (no conditions)."""
        self._write_many([{"PutRequest": {"Item": to_item({**values, KEY: key})}}
                          for key, values in items.items()])

    def delete_many(self, keys):
        """Delete `keys` in BatchWriteItem calls of BATCH_WRITE."""
        self._write_many([{"DeleteRequest": {"Key": to_item({KEY: key})}}
                          for key in dict.fromkeys(keys)])

    def _write_many(self, requests):
        for start in range(0, len(requests), BATCH_WRITE):
            pending = {self.table: requests[start:start + BATCH_WRITE]}
            for _ in range(BATCH_ROUNDS):
                pending = self._call("batch_write_item",
                                     RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise Unavailable(f"{self.table}: writes left unprocessed after "
                                  f"{BATCH_ROUNDS} rounds")

    def scan(self, condition=None, names=None, values=None, attributes=None,
             consistent=False):
        """Every item (plain values) matching `condition` (a FilterExpression), page by
        page: one Scan call per page of at most 1 MB."""
        params = self._conditional({"TableName": self.table, "ConsistentRead": consistent},
                                   None, dict(names or {}), values)
        if condition:
            params["FilterExpression"] = condition
        if attributes:
            projection = {f"#p{i}": name for i, name in enumerate(attributes)}
            params["ProjectionExpression"] = ", ".join(projection)
            params.setdefault("ExpressionAttributeNames", {}).update(projection)
        if not params.get("ExpressionAttributeNames"):
            params.pop("ExpressionAttributeNames", None)
        while True:
            response = self._call("scan", **params)
            for item in response.get("Items", []):
                yield from_item(item)
            if "LastEvaluatedKey" not in response:
                return
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
