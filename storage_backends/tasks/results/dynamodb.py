"""Task results in Amazon DynamoDB, through the shared DynamoDB client.

One item per result in the RESULTS_TABLE (partition key `k` = the result id), holding the
record's plain attributes as strings, and `x`, the end of its retention in epoch seconds
(a number: the table's TTL attribute) in place of the record's `expires`. The document is
one binary attribute `v` (zlib-compressed, `vz` = "1", when that makes it smaller); one
larger than ITEM_DOCUMENT_BYTES goes to S3 and `vs3` holds its key.

What differs from SimpleDB, and why:

- **Whole-item batch writes.** BatchWriteItem can only replace items, so `records_of` reads
  whole items (one consistent BatchGetItem per 100 ids: DynamoDB charges a read by item
  size whatever it returns, so nothing is saved by reading less) and `revised` gives the
  whole item with the changes, which the worker writes in batches of 25 as on SimpleDB.
  `put` (one result) is an UpdateItem that sets only what it names, as SimpleDB's put.
- **Expiry on every read.** The TTL deletes an expired item lazily, up to days late (and
  the local stack's moto never does), so every read treats an item past `x` as absent, as
  if pruned: `get_result` says it does not exist, a worker runs a redelivered message of it
  again. `prune` deletes such items (and their S3 documents, which the TTL leaves to the
  bucket's lifecycle rule) with one Scan of the table.
- **Listing.** No Select: the admin's listing scans the table (eventually it would need an
  index; a page of results costs a read of the table) and sorts what matches, looking at
  MAX_SCANNED items at most; beyond that the listing says it is incomplete.

Whatever an item holds is read as hostile: attributes that are not strings are turned into
strings (so the worker meets only what a SimpleDB record could hold), and the document is
bounded by the shared codec's rules before it is decompressed or parsed.
"""

import heapq
import time
import zlib
from decimal import Decimal

from ...dynamodb.client import EXPIRY, KEY, MAX_ITEM_BYTES, DynamoDBTable
from ...dynamodb.errors import ConditionFailed
from ...simpledb.codec import ValueOverBound, inflate
from ...simpledb.errors import ValueTooLarge
from . import MAX_DOCUMENT_BYTES, MAX_LISTED, Listing, ResultStore, epoch

#: The codec's attributes: the document's bytes, whether they are zlib-compressed ("1"),
#: and the S3 key holding them when the item does not ("" otherwise).
DOCUMENT, COMPRESSED, SPILLED = "v", "vz", "vs3"
#: The most of an item the document may take; the rest of DynamoDB's 400 KiB is room for
#: the plain attributes (worker ids grow by one per attempt).
ITEM_DOCUMENT_BYTES = MAX_ITEM_BYTES - 100 * 1024
#: Documents at least this long are compressed when that makes them smaller.
COMPRESS_MIN_BYTES = 1024
#: Most items one listing looks at (a Scan reads about 1 MB, a few hundred results, a call).
MAX_SCANNED = 20_000
#: What a listing row shows (the admin's results page).
LISTED_ATTRIBUTES = ("status", "task", "queue", "priority", "enqueued_at", "finished_at",
                     "worker_ids", "progress", "cancelled")


class ItemCodec:
    """A document as one binary attribute of an item, or a pointer to S3 (`spill`, an
    `S3Spill`, or None: a document too large for an item is then `ValueTooLarge`).
    `max_value_bytes`: the largest document written, and so the most a read may produce."""

    def __init__(self, spill=None, max_value_bytes=MAX_DOCUMENT_BYTES):
        self.spill = spill
        self.max_value_bytes = max_value_bytes

    def encode(self, record_name, data):
        if len(data) > self.max_value_bytes:
            raise ValueTooLarge(f"{len(data)} bytes are more than the {self.max_value_bytes} "
                                f"this store holds in one value")
        compressed = False
        if len(data) >= COMPRESS_MIN_BYTES:
            packed = zlib.compress(data, 6)
            if len(packed) < len(data):
                data, compressed = packed, True
        flag = "1" if compressed else "0"
        if len(data) > ITEM_DOCUMENT_BYTES:
            if self.spill is None:
                raise ValueTooLarge(f"{len(data)} bytes do not fit in one item "
                                    f"({ITEM_DOCUMENT_BYTES} at most) and no S3 spill is "
                                    f"configured")
            # DOCUMENT None: left out of the item (and removed by an update).
            return {DOCUMENT: None, COMPRESSED: flag,
                    SPILLED: self.spill.write(record_name, data)}
        return {DOCUMENT: data, COMPRESSED: flag, SPILLED: ""}

    def decode(self, attributes):
        """The bytes `encode` stored; ValueError if incomplete, corrupt or too large."""
        try:
            if attributes.get(SPILLED):
                if self.spill is None:
                    raise ValueError("value spilled to S3, but no spill is configured")
                data = self.spill.read(attributes[SPILLED], self.max_value_bytes)
            else:
                data = attributes[DOCUMENT]
                if not isinstance(data, bytes):
                    raise ValueError(f"the document is a {type(data).__name__}, not binary")
            if attributes.get(COMPRESSED) == "1":
                return inflate(data, self.max_value_bytes)
            if len(data) > self.max_value_bytes:
                raise ValueOverBound(f"{len(data)} bytes, over {self.max_value_bytes}")
            return data
        except (KeyError, ValueError) as error:
            raise ValueError(f"stored value is incomplete or corrupt: {error}") from error


def item_values(record):
    """A record's attributes as an item's values: `expires` becomes the TTL's `x`."""
    values = dict(record)
    expires = values.pop("expires", None)
    if expires is not None:
        values[EXPIRY] = int(expires)
    return values


def _update(attributes):
    """(UpdateExpression, names, values) that SET what has a value, REMOVE what is None."""
    names, values, sets, removes = {}, {}, [], []
    for n, (name, value) in enumerate(item_values(attributes).items()):
        names[f"#a{n}"] = name
        if value is None:
            removes.append(f"#a{n}")
        else:
            values[f":v{n}"] = value
            sets.append(f"#a{n} = :v{n}")
    clauses = [f"SET {', '.join(sets)}" if sets else "",
               f"REMOVE {', '.join(removes)}" if removes else ""]
    return " ".join(c for c in clauses if c), names, values


def _text(value):
    return value if isinstance(value, str) else str(value)


def record_of(item, now):
    """The record an item holds, or None if there is none or it has expired."""
    if item is None:
        return None
    expiry = item.get(EXPIRY)
    if expiry is not None and not (isinstance(expiry, (int, Decimal)) and expiry > now):
        return None  # expired, or an expiry nobody wrote: no usable result
    record = {name: value if name == DOCUMENT else _text(value)
              for name, value in item.items() if name not in (KEY, EXPIRY)}
    if expiry is not None:
        record["expires"] = epoch(expiry)
    return record


class DynamoDBResultStore(ResultStore):
    """Task results as items of one DynamoDB table (see the module docstring)."""

    def __init__(self, dynamodb, table, retention, spill=None):
        super().__init__(retention, ItemCodec(spill=spill))
        self.records = DynamoDBTable(table, dynamodb)
        self.location = f"DynamoDB table {table}"

    @property
    def client(self):
        """The boto3 client the store calls."""
        return self.records.dynamodb

    def holds_document(self, name):
        return name in (DOCUMENT, COMPRESSED, SPILLED)

    def revised(self, record, changes):
        # put_many replaces whole items: the whole record, changed.
        return {**record, **changes}

    # -- writing --------------------------------------------------------------------------
    def put(self, result_id, attributes):
        """One UpdateItem: SET what has a value, REMOVE what is None."""
        expression, names, values = _update(attributes)
        self.records.update(result_id, expression, names=names, values=values)

    def put_new(self, name, attributes):
        """One conditional PutItem: written unless a live item has the name (an expired
        one, which reads treat as absent, is replaced)."""
        try:
            self.records.put(name, item_values(attributes),
                             condition="attribute_not_exists(#k) OR #x < :now",
                             names={"#k": KEY, "#x": EXPIRY},
                             condition_values={":now": int(time.time())})
        except ConditionFailed:
            return False
        return True

    def put_if(self, name, attributes, attribute, value):
        """One conditional UpdateItem."""
        expression, names, values = _update(attributes)
        try:
            self.records.update(name, expression, condition="#c = :c",
                                names={**names, "#c": attribute},
                                values={**values, ":c": value})
        except ConditionFailed:
            return False
        return True

    def add(self, result_id, record):
        """Write a whole record unless the table holds the result (live or not); whether it
        was written. One conditional PutItem (`manage.py copy_state`)."""
        try:
            self.records.put(result_id, item_values(record),
                             condition="attribute_not_exists(#k)", names={"#k": KEY})
        except ConditionFailed:
            return False
        return True

    def put_many(self, records):
        """Whole items, 25 to a BatchWriteItem."""
        if records:
            self.records.put_many({result_id: item_values(record)
                                   for result_id, record in records.items()})

    # -- reading --------------------------------------------------------------------------
    def record(self, result_id):
        return record_of(self.records.get(result_id, consistent=True), time.time()) or {}

    def records_of(self, result_ids):
        """Whole items, one consistent BatchGetItem per 100 ids."""
        now = time.time()
        found = {}
        for result_id, item in self.records.get_many(result_ids, consistent=True).items():
            record = record_of(item, now)
            if record is not None:
                found[result_id] = record
        return found

    def existing(self, names):
        """One consistent BatchGetItem per 100 names."""
        now = time.time()
        return {name for name, item in self.records.get_many(names, consistent=True).items()
                if record_of(item, now) is not None}

    def listing(self, status=None, task=None, queue=None, limit=100):
        """A consistent Scan of the listed attributes, MAX_SCANNED items at most, sorted
        here: complete when the table held no more than that."""
        wanted = {name: value for name, value in
                  (("status", status), ("task", task), ("queue", queue)) if value}
        limit = min(limit, MAX_LISTED)
        now = time.time()
        matching, scanned, complete = [], 0, True
        for item in self.records.scan(attributes=(KEY, EXPIRY, *LISTED_ATTRIBUTES),
                                      consistent=True):
            if scanned >= MAX_SCANNED:
                complete = False
                break
            scanned += 1
            record = record_of(item, now)
            if record and record.get("enqueued_at") and all(
                    record.get(name) == value for name, value in wanted.items()):
                matching.append((record["enqueued_at"], _text(item[KEY]), record))
        newest = heapq.nlargest(limit, matching, key=lambda row: row[:2])
        return Listing([(result_id, record) for _at, result_id, record in newest],
                       complete=complete, scanned=scanned)

    # -- pruning ------------------------------------------------------------------------
    def prune(self, now=None):
        """One Scan (paged) for the items past `x`, then deletes 25 to a call."""
        now = time.time() if now is None else now
        expired = {item[KEY]: item for item in self.records.scan(
            "#e < :now", names={"#e": EXPIRY}, values={":now": int(now)},
            attributes=(KEY, SPILLED))}
        if not expired:
            return 0
        self.records.delete_many(list(expired))
        if self.codec.spill is not None:
            for result_id, item in expired.items():
                if item.get(SPILLED):
                    self.codec.spill.discard(result_id)
        return len(expired)
