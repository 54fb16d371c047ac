"""Where workers' reports are kept: one record per worker id, in the state store of the
task backend (its RESULTS_STORE), in a domain or table of their own (METRICS_DOMAIN,
METRICS_TABLE), so that reading every report reads only them.

Each record holds the report's JSON document (`records.py`), compressed, and `expires`:
RECORD_RETENTION after the worker's last report. Readers skip expired records; DynamoDB's
TTL deletes them, and on SimpleDB each worker deletes the expired ones when it starts
(`prune`), so the domain holds the live workers and those that stopped in the last hour.

A write is one call (PutAttributes or PutItem) per worker and interval; a read is one
Select or Scan (a page per MB) for every worker.
"""

import time

from ...dynamodb.client import EXPIRY, KEY, DynamoDBTable
from ...simpledb.client import SimpleDBClient, ValueCodec, quote_name, quote_value
from ..results import epoch
from ..results.dynamodb import ItemCodec
from .records import MAX_DOCUMENT_BYTES

#: Seconds a worker's record is kept after its last report: long enough for the last
#: figures of a stopped worker to be scraped, short enough for the dead to fade out.
RECORD_RETENTION = 3600
#: Most records one read looks at; more would be workers by the thousand, or a flood.
MAX_RECORDS = 1000
#: The record's plain attributes: when it was written, and until when it is kept.
AT, EXPIRES = "at", "expires"


class Reading(list):
    """(record name, document bytes) pairs of a read, with `unreadable`: why each record that could
    not be decoded was refused (worker id -> reason), and `complete`: False when the read
    stopped at MAX_RECORDS."""

    def __init__(self, documents=(), unreadable=None, complete=True):
        super().__init__(documents)
        self.unreadable = unreadable or {}
        self.complete = complete


class MetricsStore:
    """Workers' report records (see the module docstring); subclasses keep them."""

    #: Where the records are, for messages ("SimpleDB domain x", "DynamoDB table x").
    location = ""

    def write(self, worker_id, document, now):
        """Replace the worker's record with `document` (bytes); one call."""
        raise NotImplementedError

    def read(self, now=None):
        """A Reading of every record not expired at `now`."""
        raise NotImplementedError

    def prune(self, now=None):
        """Delete expired records; how many."""
        raise NotImplementedError


class SimpleDBMetricsStore(MetricsStore):
    """Report records as items of one SimpleDB domain."""

    def __init__(self, sdb, domain):
        self.records = SimpleDBClient(domain, sdb)
        self.codec = ValueCodec(reserved=4, max_value_bytes=MAX_DOCUMENT_BYTES)
        self.location = f"SimpleDB domain {domain}"

    def write(self, worker_id, document, now):
        self.records.put(worker_id, {AT: epoch(now), EXPIRES: epoch(now + RECORD_RETENTION),
                                     **self.codec.encode(worker_id, document)})

    def read(self, now=None):
        now = time.time() if now is None else now
        expression = (f"select * from {quote_name(self.records.domain)} where "
                      f"{quote_name(EXPIRES)} > {quote_value(epoch(now))} limit {MAX_RECORDS}")
        reading = Reading()
        for name, attributes in self.records.select(expression):
            if len(reading) + len(reading.unreadable) >= MAX_RECORDS:
                reading.complete = False
                break
            try:
                reading.append((name, self.codec.decode(attributes)))
            except ValueError as error:
                reading.unreadable[name] = str(error)
        return reading

    def prune(self, now=None):
        now = time.time() if now is None else now
        expression = (f"select itemName() from {quote_name(self.records.domain)} where "
                      f"{quote_name(EXPIRES)} < {quote_value(epoch(now))}")
        expired = [name for name, _attributes in self.records.select(expression)]
        if expired:
            self.records.batch_delete(expired)
        return len(expired)


class DynamoDBMetricsStore(MetricsStore):
    """Report records as items of one DynamoDB table (TTL on `x`)."""

    def __init__(self, dynamodb, table):
        self.records = DynamoDBTable(table, dynamodb)
        self.codec = ItemCodec(max_value_bytes=MAX_DOCUMENT_BYTES)
        self.location = f"DynamoDB table {table}"

    def write(self, worker_id, document, now):
        self.records.put(worker_id, {AT: int(now), EXPIRY: int(now + RECORD_RETENTION),
                                     **self.codec.encode(worker_id, document)})

    def read(self, now=None):
        now = time.time() if now is None else now
        reading = Reading()
        for item in self.records.scan("#x > :now", names={"#x": EXPIRY},
                                      values={":now": int(now)}):
            if len(reading) + len(reading.unreadable) >= MAX_RECORDS:
                reading.complete = False
                break
            name = str(item.get(KEY))[:100]
            try:
                reading.append((name, self.codec.decode(item)))
            except ValueError as error:
                reading.unreadable[name] = str(error)
        return reading

    def prune(self, now=None):
        """Nothing: the table's TTL deletes expired records (and readers skip them)."""
        return 0


def metrics_store(config, client):
    """The MetricsStore of a backend's options, on `client` (a boto3 `sdb` or `dynamodb`
    client, as config.results_store says)."""
    if config.results_store == "dynamodb":
        return DynamoDBMetricsStore(client, config.metrics_table)
    return SimpleDBMetricsStore(client, config.metrics_domain)
