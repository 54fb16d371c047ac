"""Copying live state from SimpleDB to DynamoDB (`manage.py copy_state`).

What is copied, each through the stores' own formats (values are read, checked and
written again, never copied as bytes):

- **sessions**: every live item of SIMPLEDB_SESSIONS_DOMAIN, through the SimpleDB session
  engine's reader, into DYNAMODB_SESSIONS_TABLE through the DynamoDB engine, with the
  session's key and expiry;
- **task results**: every live result of each SQSBackend's RESULTS_DOMAIN into its
  RESULTS_TABLE, its document decoded and encoded again (so one too large for a SimpleDB
  item may fit a DynamoDB item, or be written to S3 again beside the first), and the cancel
  requests and unique keys' claims kept beside them, as they are;
- **cache entries** (optional): for each alias of settings.COPY_STATE_CACHES
  (`{alias: (simpledb_domain, dynamodb_table)}`), every live entry whose signature
  verifies, with its expiry.

Every write is conditional on the destination not holding the key (sessions, results) or
not holding a live entry of ours (cache): nothing already there is ever replaced, so a run
can be repeated or resumed after an interruption, and copies only what is missing. Each
copy returns `Counts`: copied, already there, skipped (expired meanwhile, or unreadable: a
bad signature, a corrupt value).

Reads are consistent Selects (2,500 items a page); writes are one conditional PutItem each
(DynamoDB has no conditional batch write), `threads` at a time.
"""

import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from importlib import import_module
from itertools import islice

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError

from . import aws
from .simpledb.client import SimpleDBClient, quote_name, quote_value
from .simpledb.sessions import EXPIRY as SESSION_EXPIRY
from .simpledb.sessions import expiry_value
from .tasks.results import CANCEL_PREFIX, UNIQUE_PREFIX, epoch, result_store

#: The session engines copied between.
SIMPLEDB_SESSIONS = "storage_backends.simpledb.sessions"
DYNAMODB_SESSIONS = "storage_backends.dynamodb.sessions"
#: Items handed to the writing threads at a time (a Select page holds up to 2,500).
CHUNK = 500

COPIED, PRESENT, SKIPPED = "copied", "already there", "skipped"


class Counts(Counter):
    """How many items were copied, already there, and skipped."""

    def __str__(self):
        return ", ".join(f"{self[outcome]} {outcome}" for outcome in (COPIED, PRESENT, SKIPPED))


def _each(items, copy_one, threads):
    """Counts of `copy_one(item)` (an outcome) over `items`, `threads` at a time."""
    counts = Counts()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        items = iter(items)
        while chunk := list(islice(items, CHUNK)):
            counts.update(pool.map(copy_one, chunk))
    return counts


def _live_items(domain, expiry, now_text):
    """(name, attributes) of the domain's items whose `expiry` attribute is after now."""
    records = SimpleDBClient(domain, aws.client("sdb"))
    return records.select(f"select * from {quote_name(domain)} "
                          f"where {quote_name(expiry)} > {quote_value(now_text)}",
                          consistent=True)


# -- sessions -----------------------------------------------------------------------------
def _kept_expiry(store_class):
    """`store_class` saving with the expiry set on each instance (`expires_at`, epoch
    seconds) rather than one counted from now: a copied session ends when it would have."""

    class Copied(store_class):
        expires_at = None

        @property
        def key_salt(self):
            # Django salts a session's signature with its engine's class name: sign as the
            # engine itself does, or it could not read what this one wrote.
            return "django.contrib.sessions." + store_class.__qualname__

        def get_expiry_date(self, **kwargs):
            if kwargs:
                return super().get_expiry_date(**kwargs)
            return datetime.fromtimestamp(self.expires_at, UTC)

        def get_expiry_age(self, **kwargs):
            if kwargs:
                return super().get_expiry_age(**kwargs)
            return max(0, math.ceil(self.expires_at - time.time()))

    return Copied


def copy_sessions(threads=8):
    """Copy the live SimpleDB sessions into the DynamoDB sessions table."""
    source = import_module(SIMPLEDB_SESSIONS).SessionStore
    destination = _kept_expiry(import_module(DYNAMODB_SESSIONS).SessionStore)

    def copy_one(found):
        key, attributes = found
        reader = source(key)
        encoded = reader._readable_data(attributes)  # None: expired or corrupt (logged)
        data = reader.decode(encoded) if encoded is not None else {}
        if not data:  # nothing readable (a bad signature decodes to {}, logged by Django)
            return SKIPPED
        store = destination(key)
        if store.session_key != key:
            return SKIPPED  # a key the DynamoDB engine refuses
        store.expires_at = int(attributes[SESSION_EXPIRY])
        store._session_cache = data
        try:
            store.save(must_create=True)
        except CreateError:
            return PRESENT
        return COPIED

    now = expiry_value(math.floor(time.time()))
    return _each(_live_items(settings.SIMPLEDB_SESSIONS_DOMAIN, SESSION_EXPIRY, now),
                 copy_one, threads)


# -- task results -------------------------------------------------------------------------
def result_stores(backend):
    """(SimpleDB store, DynamoDB store) of a task backend's RESULTS_DOMAIN and RESULTS_TABLE,
    whichever it uses."""
    s3 = aws.client("s3") if backend.config.payload_bucket else None
    return tuple(
        result_store(replace(backend.config, results_store=store),
                     aws.client("sdb" if store == "simpledb" else "dynamodb"), s3=s3)
        for store in ("simpledb", "dynamodb"))


def copy_results(backend, threads=8):
    """Copy a task backend's live results from its SimpleDB domain to its DynamoDB table."""
    source, destination = result_stores(backend)

    def copy_one(found):
        result_id, record = found
        if result_id.startswith((CANCEL_PREFIX, UNIQUE_PREFIX)):
            # A cancel request or a unique key's claim: plain attributes, no document.
            return COPIED if destination.add(result_id, dict(record)) else PRESENT
        try:
            document = source.codec.decode(record)  # bounded; S3 read if spilled
        except ValueError:  # corrupt: the result is unreadable in either store
            return SKIPPED
        record = {**source.plain(record), **destination.codec.encode(result_id, document)}
        return COPIED if destination.add(result_id, record) else PRESENT

    now = epoch(time.time())
    return _each(_live_items(source.records.domain, "expires", now), copy_one, threads)


# -- cache entries ------------------------------------------------------------------------
def cache_pairs():
    """{alias: (simpledb_domain, dynamodb_table)} of settings.COPY_STATE_CACHES."""
    pairs = getattr(settings, "COPY_STATE_CACHES", None) or {}
    unknown = set(pairs) - set(settings.CACHES)
    if unknown:
        raise ValueError(f"COPY_STATE_CACHES names aliases CACHES does not have: "
                         f"{', '.join(sorted(unknown))}")
    return pairs


def copy_cache(alias, domain, table, threads=8):
    """Copy the live, verifiable entries of cache `alias` from SimpleDB `domain` to DynamoDB
    `table`, each with the time left until its expiry."""
    from .dynamodb.cache import DynamoDBCache
    from .simpledb.cache import SimpleDBCache
    from .simpledb.cache.records import EXPIRES

    config = settings.CACHES[alias]
    options = {name: value for name, value in config.get("OPTIONS", {}).items()
               if name in ("SPILL_BUCKET", "SPILL_PREFIX", "COMPRESS_MIN_BYTES",
                           "MAX_VALUE_BYTES")}
    params = {"KEY_PREFIX": config.get("KEY_PREFIX", ""), "VERSION": config.get("VERSION", 1),
              "OPTIONS": {**options, "ON_ERROR": "raise"}}
    # Both caches name an entry's item by the same hash of its key: copied by that name.
    source, destination = SimpleDBCache(domain, params), DynamoDBCache(table, params)

    def copy_one(found):
        entry = source.read_item(*found)  # None: expired, forged or corrupt
        if entry is None or (entry[1] is not None and entry[1] <= time.time()):
            return SKIPPED
        return COPIED if destination.add_item(found[0], *entry) else PRESENT

    now = f"{math.floor(time.time() * 1000):013d}"
    return _each(_live_items(domain, EXPIRES, now), copy_one, threads)
