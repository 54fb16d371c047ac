"""Task results in Amazon SimpleDB, through the shared SimpleDB client.

One item per result, named by the result id, holding the record's attributes as they are
(`expires` fixed width, so that Select's string order is time order). The document goes
through the shared `ValueCodec`: split across attributes v000, v001, … with a count `vn`, a
compression flag `vz` and an S3 pointer `vs3` when larger than an item holds (about 180 kB
compressed).

A write sets the attributes it names and keeps the others, in `put` and `put_many` alike,
so a worker writes only what changed (`revised` returns the changes). A worker reads the
items of a whole received batch with one Select (`records_of`), marks them RUNNING with one
BatchPutAttributes, and writes outcomes in batches too; `enqueue_many` writes READY items
25 to a call.
"""

import time

from ...simpledb.client import (
    CHUNK_COUNT,
    CHUNK_PREFIX,
    COMPRESSED,
    SPILLED,
    Absent,
    ConditionFailed,
    Present,
    SimpleDBClient,
    ValueCodec,
    quote_name,
    quote_value,
)
from . import MAX_DOCUMENT_BYTES, MAX_LISTED, Listing, ResultStore, epoch

#: Attributes the codec must leave free in each item (the plain ones, and spare).
RESERVED_ATTRIBUTES = 24
#: The attributes a worker decides by (see records_of).
WORKER_ATTRIBUTES = ("status", "lease", "worker_ids", "started_at", "base", "mid",
                     "cancelled")


class SimpleDBResultStore(ResultStore):
    """Task results as items of one SimpleDB domain."""

    def __init__(self, sdb, domain, retention, spill=None):
        super().__init__(retention, ValueCodec(reserved=RESERVED_ATTRIBUTES, spill=spill,
                                               max_value_bytes=MAX_DOCUMENT_BYTES))
        self.records = SimpleDBClient(domain, sdb)
        self.location = f"SimpleDB domain {domain}"

    @property
    def client(self):
        """The boto3 client the store calls."""
        return self.records.sdb

    def holds_document(self, name):
        return name in (CHUNK_COUNT, COMPRESSED, SPILLED) or (
            name.startswith(CHUNK_PREFIX) and name[len(CHUNK_PREFIX):].isdigit())

    def revised(self, record, changes):
        # A SimpleDB write keeps the attributes it does not name: the changes are enough.
        return changes

    # -- writing --------------------------------------------------------------------------
    def put(self, result_id, attributes):
        self.records.put(result_id, attributes)

    def put_new(self, name, attributes):
        """One PutAttributes expecting no `expires` (every item has one): an expired item
        is still there until pruned, and counts as existing."""
        try:
            self.records.put(name, attributes, expect=Absent("expires"))
        except ConditionFailed:
            return False
        return True

    def put_if(self, name, attributes, attribute, value):
        try:
            self.records.put(name, attributes, expect=Present(attribute, value))
        except ConditionFailed:
            return False
        return True

    def put_many(self, records):
        """Write {result_id: attributes}, 25 items a call."""
        if records:
            self.records.batch_put(records)

    # -- reading --------------------------------------------------------------------------
    def record(self, result_id):
        return self.records.get(result_id, consistent=True)

    def records_of(self, result_ids):
        """One consistent Select per 20 ids, of what a worker decides by; a result with
        earlier attempts is then read whole, one more call each."""
        found = self.records.get_many(result_ids, WORKER_ATTRIBUTES, consistent=True)
        for result_id, attributes in found.items():
            if attributes.get("worker_ids", "[]") != "[]":
                found[result_id] = self.record(result_id)
        return found

    def existing(self, names):
        """One consistent Select per 20 names."""
        return set(self.records.get_many(names, ("expires",), consistent=True))

    def listing(self, status=None, task=None, queue=None, limit=100):
        """One Select (SimpleDB orders and limits): always complete."""
        conditions = [f"{quote_name('enqueued_at')} > ''"]
        for name, value in (("status", status), ("task", task), ("queue", queue)):
            if value:
                conditions.append(f"{quote_name(name)} = {quote_value(value)}")
        expression = (
            f"select * from {quote_name(self.records.domain)} where {' and '.join(conditions)} "
            f"order by {quote_name('enqueued_at')} desc limit {min(limit, MAX_LISTED)}"
        )
        found = Listing()
        for name, attributes in self.records.select(expression, consistent=True):
            found.append((name, attributes))
            if len(found) >= limit:
                break
        found.scanned = len(found)
        return found

    # -- pruning ------------------------------------------------------------------------
    def prune(self, now=None):
        """One Select for the expired, then deletes 25 to a call."""
        now = time.time() if now is None else now
        expression = (f"select {quote_name(SPILLED)} from {quote_name(self.records.domain)} "
                      f"where {quote_name('expires')} < {quote_value(epoch(now))}")
        expired = dict(self.records.select(expression, consistent=True))
        if not expired:
            return 0
        self.records.batch_delete(list(expired))
        if self.codec.spill is not None:
            for name, attributes in expired.items():
                if attributes.get(SPILLED):
                    self.codec.spill.discard(name)
        return len(expired)
