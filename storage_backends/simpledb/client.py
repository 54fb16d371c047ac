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
- **Values.** `ValueCodec` turns bytes into attributes: compressed when that helps, base64,
  split into numbered attributes of at most 1,024 bytes, with a count written in the same
  put so that leftover chunks of a longer earlier value are never read as data. A value
  bigger than the record can hold spills to S3 under a configurable prefix; the record keeps
  a pointer.
"""

import base64
import hashlib
import re
import uuid
import zlib
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

#: SimpleDB's limits (SDBLimits).
MAX_ATTRIBUTE_BYTES = 1024
MAX_PAIRS = 256
MAX_BATCH_ITEMS = 25
MAX_SELECT_IN_VALUES = 20
#: What SimpleDB accepts as a domain name.
DOMAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


class SimpleDBError(Exception):
    """A SimpleDB call failed for a reason the caller did not ask about."""


class Unavailable(SimpleDBError):
    """SimpleDB (or S3, for a spilled value) could not be reached, or failed on its side."""


class ConditionFailed(SimpleDBError):
    """The put's or delete's condition did not hold."""


class NoSuchDomain(SimpleDBError):
    """The domain does not exist (not provisioned?)."""


class ValueTooLarge(SimpleDBError):
    """A value needs more room than a record has, and no S3 spill is configured."""


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
        return {a["Name"]: a["Value"] for a in response.get("Attributes", [])}

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
                yield item["Name"], {a["Name"]: a["Value"] for a in item.get("Attributes", [])}
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


# -- values -------------------------------------------------------------------------------
#: Attribute names the codec uses: the chunks are v000, v001, ...
CHUNK_PREFIX = "v"
CHUNK_COUNT = "vn"   # how many chunks make the value (written with them, in one put)
COMPRESSED = "vz"    # "1" if the chunks hold zlib-compressed bytes
SPILLED = "vs3"      # S3 key holding the value, when the record could not
#: Raw bytes per chunk: base64 turns 3 bytes into 4 characters, 1,024 of them per attribute.
CHUNK_RAW_BYTES = MAX_ATTRIBUTE_BYTES // 4 * 3


class ValueCodec:
    """Bytes to record attributes and back.

    `reserved` attributes of each record belong to the caller (expiry, signature, ...), so
    a value may use the rest of the record's 256 pairs. `compress_min_bytes`: values at
    least this long are compressed when that makes them smaller. `spill` is an
    `S3Spill` (or None, and too large a value is `ValueTooLarge`).
    """

    def __init__(self, reserved=8, compress_min_bytes=1024, spill=None):
        self.max_chunks = MAX_PAIRS - reserved - 3  # the codec's own three attributes
        self.compress_min_bytes = compress_min_bytes
        self.spill = spill

    @property
    def capacity(self):
        """The largest value (after compression) a record holds without spilling."""
        return self.max_chunks * CHUNK_RAW_BYTES

    def encode(self, record_name, data):
        """Attributes holding `data` (bytes); may write it to S3 and return a pointer."""
        compressed = False
        if len(data) >= self.compress_min_bytes:
            packed = zlib.compress(data, 6)
            if len(packed) < len(data):
                data, compressed = packed, True
        flag = "1" if compressed else "0"
        if len(data) > self.capacity:
            if self.spill is None:
                raise ValueTooLarge(
                    f"{len(data)} bytes do not fit in one record ({self.capacity} at most) "
                    f"and no S3 spill is configured"
                )
            key = self.spill.write(record_name, data)
            return {CHUNK_COUNT: "0", COMPRESSED: flag, SPILLED: key}
        text = base64.b64encode(data).decode("ascii")
        chunks = [text[i:i + MAX_ATTRIBUTE_BYTES] for i in range(0, len(text), MAX_ATTRIBUTE_BYTES)]
        attributes = {f"{CHUNK_PREFIX}{n:03d}": chunk for n, chunk in enumerate(chunks)}
        attributes.update({CHUNK_COUNT: str(len(chunks)), COMPRESSED: flag, SPILLED: ""})
        return attributes

    @staticmethod
    def stored_fields(attributes):
        """The strings that make up a stored value, in a fixed order (for signing it).

        KeyError if a chunk the count promises is missing.
        """
        count = int(attributes[CHUNK_COUNT])
        return [attributes[CHUNK_COUNT], attributes[COMPRESSED], attributes[SPILLED],
                *(attributes[f"{CHUNK_PREFIX}{n:03d}"] for n in range(count))]

    def decode(self, attributes):
        """The bytes `encode` stored in these attributes; ValueError if they are incomplete."""
        try:
            count = int(attributes[CHUNK_COUNT])
            if attributes.get(SPILLED):
                if self.spill is None:
                    raise ValueError("value spilled to S3, but no spill is configured")
                data = self.spill.read(attributes[SPILLED])
            else:
                text = "".join(attributes[f"{CHUNK_PREFIX}{n:03d}"] for n in range(count))
                data = base64.b64decode(text, validate=True)
            return zlib.decompress(data) if attributes.get(COMPRESSED) == "1" else data
        except (KeyError, ValueError, zlib.error) as error:
            raise ValueError(f"stored value is incomplete or corrupt: {error}") from error


class S3Spill:
    """Values too large for a record, stored as S3 objects under `prefix`.

    Each value gets a new key under a folder named after the record
    (`prefix/<sha256 of record name>/<random>`), so a write whose put then fails never
    changes what the record points to. `discard(record, keep=...)` removes a record's other
    objects: after a spilled write succeeds, and when the record is deleted. A bucket
    lifecycle rule on the prefix is the backstop for anything left behind.
    """

    def __init__(self, s3, bucket, prefix):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix

    def folder(self, record_name):
        return f"{self.prefix}{hashlib.sha256(record_name.encode()).hexdigest()}/"

    def write(self, record_name, data):
        key = self.folder(record_name) + uuid.uuid4().hex
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as error:
            raise Unavailable(f"S3 spill write failed: {error}") from error
        return key

    def read(self, key):
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ValueError(f"spilled value {key} is gone") from error
            raise Unavailable(f"S3 spill read failed: {error}") from error
        except BotoCoreError as error:
            raise Unavailable(f"S3 spill read failed: {error}") from error

    def discard(self, record_name, keep=None):
        """Delete the record's spilled objects, except `keep`."""
        try:
            listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.folder(record_name))
            stale = [{"Key": o["Key"]} for o in listing.get("Contents", []) if o["Key"] != keep]
            if stale:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": stale})
        except (ClientError, BotoCoreError) as error:
            raise Unavailable(f"S3 spill clean-up failed: {error}") from error
