"""Schedule claims as items of a DynamoDB table (SCHEDULES_TABLE): key `k`, TTL on `x`.

A claim is a PutItem with ConditionExpression `attribute_not_exists(k)`: DynamoDB applies
it only if no item has that key, so of several schedulers exactly one writes it. A
take-over is a PutItem on the old `token`; `since` and the last run are UpdateItems, which
keep the head's other attributes. A claim's `expires` is also its `x`, so the table's TTL
deletes it; heads have no `x`. Attributes read back that are not strings become strings.
"""

from ....dynamodb.client import EXPIRY, KEY, DynamoDBTable
from ....dynamodb.errors import ConditionFailed
from . import ClaimStore


def _item(record):
    values = dict(record)
    if "expires" in values:
        values[EXPIRY] = int(values["expires"])
    return values


def _record(item):
    return {name: value if isinstance(value, str) else str(value)
            for name, value in (item or {}).items() if name not in (KEY, EXPIRY)}


class DynamoDBClaimStore(ClaimStore):
    """Claims and heads of one DynamoDB table."""

    def __init__(self, dynamodb, table):
        self.records = DynamoDBTable(table, dynamodb)
        self.location = f"DynamoDB table {table}"

    def _put_if(self, key, record, condition, names, values=None):
        try:
            self.records.put(key, _item(record), condition=condition, names=names,
                             condition_values=values)
        except ConditionFailed:
            return False
        return True

    def claim(self, key, record):
        return self._put_if(key, record, "attribute_not_exists(#k)", {"#k": KEY})

    def take_over(self, key, token, record):
        return self._put_if(key, record, "#t = :t", {"#t": "token"}, {":t": token})

    def start(self, key, since):
        try:
            self.records.update(key, "SET #s = :s", condition="attribute_not_exists(#s)",
                                names={"#s": "since"}, values={":s": since})
        except ConditionFailed:
            return False
        return True

    def update(self, key, attributes):
        names = {f"#a{n}": name for n, name in enumerate(attributes)}
        values = {f":v{n}": value for n, value in enumerate(attributes.values())}
        self.records.update(key, "SET " + ", ".join(f"#a{n} = :v{n}"
                                                    for n in range(len(attributes))),
                            names=names, values=values)

    def get(self, key):
        return _record(self.records.get(key, consistent=True))

    def get_many(self, keys):
        """One consistent BatchGetItem per 100 keys."""
        return {key: _record(item) for key, item in
                self.records.get_many(keys, consistent=True).items()}

    def prune(self, now):
        """One Scan (paged) for the claims past `x`, then deletes 25 to a call (the TTL
        deletes them too, for nothing, but up to days late)."""
        expired = [item[KEY] for item in self.records.scan(
            "#e < :now", names={"#e": EXPIRY}, values={":now": int(now)}, attributes=(KEY,))]
        self.records.delete_many(expired)
        return len(expired)
