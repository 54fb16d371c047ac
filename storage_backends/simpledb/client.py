"""One small SimpleDB client, shared by the session engine, the cache and the task results.

It speaks in *records*: a record is a name and a flat dict of string attributes (one value
per attribute name). The interface is deliberately narrow — get, put (with at most one
condition), delete, select, batch put/delete, and a value codec — so that a DynamoDB driver
could implement the same calls later.

- **Conditions.** `put(..., expect=Present(name, value))` writes only if that attribute holds
  that value; `expect=Absent(name)` only if the attribute is missing (the record is new).
  A failed condition is `ConditionFailed`, whatever SimpleDB called it.
- **Errors** from botocore are translated here and nowhere else: `Unavailable` (the service
  could not be reached or failed on its side, after botocore's retries), `ConditionFailed`,
  `NoSuchDomain`, and `SimpleDBError` for the rest. Callers never see a botocore exception.
- **Quoting.** `quote_value` and `quote_name` are the only way names and values enter a
  Select expression.
- **Values** are turned into attributes by `ValueCodec` (in `codec.py`, re-exported here),
  whose reads are bounded.
- **Multi-valued attributes.** Our writes always replace, so a record holding two values
  under one name was made by hand; `get` returns the last value and names such attributes
  in the result's `multi_valued` (a condition on one of them fails with
  `MultiValuedAttribute`, so callers clean it with `delete_pairs` first).
"""

import re
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from .codec import (  # noqa: F401 - re-exported: the codec is part of the client's interface
    CHUNK_COUNT,
    CHUNK_PREFIX,
    CHUNK_RAW_BYTES,
    COMPRESSED,
    MAX_ATTRIBUTE_BYTES,
    MAX_PAIRS,
    SPILLED,
    S3Spill,
    ValueCodec,
)
from .errors import (  # noqa: F401 - re-exported
    ConditionFailed,
    NoSuchDomain,
    SimpleDBError,
    StoreFull,
    Unavailable,
    ValueTooLarge,
)

#: SimpleDB's limits (SDBLimits).
MAX_BATCH_ITEMS = 25
MAX_SELECT_IN_VALUES = 20
#: What SimpleDB accepts as a domain name.
DOMAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


@dataclass(frozen=True)
class Present:
    """Condition: the attribute `name` currently holds exactly `value`."""

    name: str
    value: str


@dataclass(frozen=True)
class Absent:
    """Condition: the attribute `name` does not exist (so neither, usually, does the record)."""

    name: str


def quote_value(value):
    """`value` as a Select literal: single-quoted, inner quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_name(name):
    """An attribute or domain name for a Select expression: backticked, inner backticks doubled."""
    return "`" + str(name).replace("`", "``") + "`"


#: Size limits of a domain or an item: writes fail until something is deleted.
_FULL_CODES = {"NumberDomainBytesExceeded", "NumberDomainAttributesExceeded",
               "NumberItemAttributesExceeded"}
_UNAVAILABLE_CODES = {"ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling"}


def translate(error):
    """The domain exception for a botocore error (returned, for `raise ... from error`)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("ConditionalCheckFailed", "AttributeDoesNotExist"):
            return ConditionFailed(code)
        if code == "NoSuchDomain":
            return NoSuchDomain(str(error))
        if code in _FULL_CODES:
            return StoreFull(f"{code}: {error}")
        if code in _UNAVAILABLE_CODES or status >= 500:
            return Unavailable(f"{code}: {error}")
        return SimpleDBError(f"{code}: {error}")
    if isinstance(error, BotoCoreError):  # connection refused, timeouts, ...
        return Unavailable(f"{type(error).__name__}: {error}")
    return error


class SimpleDBClient:
    """Records of one SimpleDB domain, through a boto3 `sdb` client."""

    def __init__(self, domain, sdb):
        self.domain = domain
        self.sdb = sdb

    def _call(self, method, **params):
        try:
            return getattr(self.sdb, method)(DomainName=self.domain, **params)
        except (ClientError, BotoCoreError) as error:
            raise translate(error) from error

    def get(self, name, attributes=None, consistent=False):
        """The record's attributes as a dict ({} if it does not exist); one call."""
        params = {"ItemName": name, "ConsistentRead": consistent}
        if attributes:
            params["AttributeNames"] = list(attributes)
        response = self._call("get_attributes", **params)
        return Record(response.get("Attributes", []))

    def put(self, name, attributes, expect=None):
        """Write attributes (each replacing its old value); one call, atomic per record."""
        params = {
            "ItemName": name,
            "Attributes": [{"Name": k, "Value": v, "Replace": True} for k, v in attributes.items()],
        }
        if expect is not None:
            params["Expected"] = _expected(expect)
        self._call("put_attributes", **params)

    def delete(self, name, expect=None):
        """Delete the whole record; one call. (Only whole records: botocore's model insists
        on a value for each attribute named, which would make this a read-then-delete.)"""
        params = {"ItemName": name}
        if expect is not None:
            params["Expected"] = _expected(expect)
        self._call("delete_attributes", **params)

    def delete_pairs(self, name, pairs):
        """Delete exactly these (attribute, value) pairs of the record, nothing else; one
        call. Another writer's new values under the same names are left alone."""
        if pairs:
            self._call("delete_attributes", ItemName=name,
                       Attributes=[{"Name": k, "Value": v} for k, v in pairs])

    def item_count(self):
        """How many records the domain holds, from DomainMetadata (one call; on AWS the
        figure may lag writes)."""
        return int(self._call("domain_metadata")["ItemCount"])

    def select(self, expression, consistent=False):
        """(name, attributes) of every record the expression matches, page after page."""
        token = None
        while True:
            params = {"SelectExpression": expression, "ConsistentRead": consistent}
            if token:
                params["NextToken"] = token
            try:
                response = self.sdb.select(**params)
            except (ClientError, BotoCoreError) as error:
                raise translate(error) from error
            for item in response.get("Items", []):
                yield item["Name"], Record(item.get("Attributes", []))
            token = response.get("NextToken")
            if not token:
                return

    def get_many(self, names, attributes=None, consistent=False):
        """{name: attributes} of those records that exist; one Select per 20 names."""
        names = list(dict.fromkeys(names))
        output = "*" if not attributes else ", ".join(quote_name(a) for a in attributes)
        found = {}
        for start in range(0, len(names), MAX_SELECT_IN_VALUES):
            listed = ", ".join(quote_value(n) for n in names[start:start + MAX_SELECT_IN_VALUES])
            expression = (f"select {output} from {quote_name(self.domain)} "
                          f"where itemName() in ({listed})")
            found.update(self.select(expression, consistent=consistent))
        return found

    def batch_put(self, records):
        """Write {name: attributes} (replacing), in calls of 25 records."""
        entries = [
            {"Name": name, "Attributes": [
                {"Name": k, "Value": v, "Replace": True} for k, v in attributes.items()
            ]}
            for name, attributes in records.items()
        ]
        for start in range(0, len(entries), MAX_BATCH_ITEMS):
            self._call("batch_put_attributes", Items=entries[start:start + MAX_BATCH_ITEMS])

    def batch_delete(self, names):
        """Delete whole records, in calls of 25."""
        names = list(dict.fromkeys(names))
        for start in range(0, len(names), MAX_BATCH_ITEMS):
            self._call("batch_delete_attributes",
                       Items=[{"Name": n} for n in names[start:start + MAX_BATCH_ITEMS]])


def _expected(condition):
    if isinstance(condition, Present):
        return {"Name": condition.name, "Value": condition.value, "Exists": True}
    return {"Name": condition.name, "Exists": False}


class Record(dict):
    """A record's attributes as {name: value}; `multi_valued` maps each name that holds
    several values (only hand-made records do) to all of them."""

    def __init__(self, pairs=()):
        super().__init__()
        self.multi_valued = {}
        for pair in pairs:
            name, value = pair["Name"], pair["Value"]
            if name in self:
                self.multi_valued.setdefault(name, [self[name]]).append(value)
            self[name] = value
