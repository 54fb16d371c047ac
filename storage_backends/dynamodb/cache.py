"""Django's cache on Amazon DynamoDB: the same contract as SimpleDBCache, in fewer calls.

    CACHES = {"default": {
        "BACKEND": "storage_backends.dynamodb.cache.DynamoDBCache",
        "LOCATION": "stratus-cache",          # the table (key `k`, TTL on `x`)
        "OPTIONS": {"ON_ERROR": "degrade"},   # see cache_options.DEFAULT_OPTIONS
    }}

`entries.py` holds the item layout and its signatures; this module the cache's semantics:
keys, timeouts, errors, and which call each operation makes.

**Calls** (each one DynamoDB request): get, has_key, set, add, delete, touch, incr/decr 1;
add 2 only to replace a live item whose signature does not verify; get_many(n) ⌈n/100⌉
BatchGetItem, set_many/delete_many(n) ⌈n/25⌉ BatchWriteItem (plus any retries of what
DynamoDB left unprocessed); clear() and `delete_expired()` one Scan per 1 MB of the whole
table and one BatchWriteItem per 25 entries deleted. incr/decr are one UpdateItem `ADD` on
an integer kept as a DynamoDB number, conditional on the entry being live; add one PutItem
conditional on the key being absent or expired; touch one UpdateItem conditional on the
entry being live. delete, touch, incr and a refused add have DynamoDB return the item
(as it was, or is), and so do set and add when a spill is configured: that costs no read
units, only bytes on the wire, and lets them check signatures, answer delete's "was it
there", and remove exactly the spilled object a write replaced. Batches return no items,
so set_many/delete_many list each key's spill folder instead (S3 calls, with a spill).

**No MAX_ENTRIES.** DynamoDB has no table size limit that would force culling and no cheap
count (DescribeTable's is hours old), so a cull would Scan the whole table: MAX_ENTRIES
and CULL_FREQUENCY are refused (ImproperlyConfigured). Expired items are removed by the
table's TTL at no cost, or at once by `manage.py purge_cache`.

**Unverifiable items** (tampered, planted, or signed with a retired key): absent to every
operation but has_key and delete: get misses; add replaces them (2 calls); incr/decr and
touch delete them and answer as for a missing key, conditional on the item as they saw it.

**Errors.** With ON_ERROR "degrade" (the default) a read that fails is a miss and a write
that fails returns False, both logged at WARNING. incr/decr always raise (no honest "miss"
exists for them), so do `delete_expired` and pickling errors. ON_ERROR "raise" lets every
DynamoDBError and Unavailable through. A missing table is an outage, not a miss.

**Consistency.** get/get_many/has_key read eventually consistent unless CONSISTENT_READ;
clear() scans consistently; conditions are always evaluated on the latest item.
"""

import logging
import math

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT

from .. import aws
from ..hashed_cache import HashedEntriesCache
from ..simpledb.codec import S3Spill
from ..simpledb.errors import SimpleDBError, ValueTooLarge
from .cache_options import cache_options
from .client import BATCH_WRITE, EXPIRY, KEY, TABLE_NAME, DynamoDBTable
from .entries import (
    DESCRIPTION,
    EXPIRY_SIGNATURE,
    INTEGER,
    MISSING,
    NUMBER,
    PREFIX,
    SPILLED,
    VALUE_SIGNATURE,
    EntryFormat,
    live,
    pickled,
    seconds,
)
from .errors import ConditionFailed, DynamoDBError

logger = logging.getLogger(__name__)

#: What a failed call of this cache raises: DynamoDB's errors, and (S3 spill, too large a
#: value) the errors it shares with the SimpleDB stores.
FAILURES = (DynamoDBError, SimpleDBError)
#: The condition that an item holds a live entry of ours (with `:now`).
LIVE = (f"attribute_exists({VALUE_SIGNATURE}) AND "
        f"(attribute_not_exists({EXPIRY}) OR {EXPIRY} > :now)")


class DynamoDBCache(HashedEntriesCache):
    """A Django cache whose entries are items of one DynamoDB table (LOCATION)."""

    store, location_kind, location_name = "DynamoDB", "table", TABLE_NAME
    logger, failures = logger, FAILURES

    def __init__(self, location, params):
        super().__init__(location, params)
        self.table = location
        options = cache_options(params)
        self._consistent = options["CONSISTENT_READ"]
        self._spill_bucket = options["SPILL_BUCKET"]
        self._spill_prefix = options["SPILL_PREFIX"]
        self._raise_errors = options["ON_ERROR"] == "raise"
        # Writes ask for the item they replace only when it may point to a spilled object.
        self._returning = "ALL_OLD" if self._spill_bucket else "NONE"
        self._format = EntryFormat(
            location, self.key_prefix, [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS],
            options["COMPRESS_MIN_BYTES"], options["MAX_VALUE_BYTES"], lambda: self._spill)
        # BaseCache's own figures, for code that reads them: unbounded.
        self._max_entries = self._cull_frequency = None

    # -- wiring --------------------------------------------------------------------------
    @property
    def _table(self):
        # The process's shared boto3 client, looked up on each use: made on first use, and
        # a new one after a fork or aws.reset().
        return DynamoDBTable(self.table, aws.client("dynamodb"))

    @property
    def _spill(self):
        if self._spill_bucket is None:
            return None
        return S3Spill(aws.client("s3"), self._spill_bucket, self._spill_prefix)

    # -- expiry --------------------------------------------------------------------------
    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        """When an entry written now with `timeout` expires (epoch seconds), None: never.

        A whole second, rounded up: DynamoDB's TTL reads whole epoch seconds (Django's
        Redis and memcached backends also keep no fraction). A timeout of 0 or less stays
        exact, so that the entry is gone at once."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return None
        expires_at = self._now() + timeout
        return math.ceil(expires_at) if timeout > 0 else expires_at

    def _expires_ms(self, timeout):
        expires_at = self.get_backend_timeout(timeout)
        return None if expires_at is None else math.floor(expires_at * 1000)

    @staticmethod
    def _gone(expires_ms, now_ms):
        """Whether an entry expiring at `expires_ms` must not be stored (timeout ≤ 0)."""
        return expires_ms is not None and expires_ms <= now_ms

    # -- spilled objects -----------------------------------------------------------------
    def _replaced(self, name, old):
        """Remove the spilled object of an item that was just replaced or deleted (as the
        call returned it). Housekeeping: failures are logged; the bucket's lifecycle rule
        on the prefix removes whatever is left."""
        pointer = (old or {}).get(SPILLED)
        spill = self._spill
        if spill is None or not isinstance(pointer, str):
            return
        try:
            spill.remove(name, pointer)
        except (SimpleDBError, ValueError) as error:
            logger.warning("cache could not remove a spilled object: table=%s item=%s "
                           "error=%s", self.table, name, error)

    def _discard_spilled(self, names, keep=None):
        """Remove the spilled objects of items written or deleted in a batch, which returns
        no old items: one S3 listing per item (only when a spill is configured)."""
        spill = self._spill
        if spill is None:
            return
        for name in names:
            try:
                spill.discard(name, keep=(keep or {}).get(name))
            except SimpleDBError as error:
                logger.warning("cache could not remove spilled objects: table=%s item=%s "
                               "error=%s", self.table, name, error)

    def _delete(self, name):
        """Delete the item; the item it was (None if there was none)."""
        old = self._table.delete(name, returning="ALL_OLD") or None
        self._replaced(name, old)
        return old

    def _forget(self, names):
        """Delete items whose new value could not be stored, so that no old value outlives
        a failed write (as Django's memcached backends do); failures are only logged."""
        if not names:
            return
        try:
            self._table.delete_many(names)
        except FAILURES as error:
            logger.warning("cache could not delete entries whose new value was refused: "
                           "table=%s items=%d error=%s", self.table, len(names), error)
            return
        self._discard_spilled(names)

    def _drop_forged(self, name, seen, operation):
        """Delete a live item whose signature does not verify, unless it changed since it
        was `seen`; logged."""
        logger.warning("cache entry has a bad signature, deleted by %s: table=%s item=%s",
                       operation, self.table, name)
        condition, values = _as_seen(seen)
        try:
            old = self._table.delete(name, condition=condition, values=values,
                                     returning="ALL_OLD")
        except ConditionFailed:
            return  # rewritten meanwhile: the new item is someone's genuine write
        self._replaced(name, old)

    # -- the BaseCache contract ----------------------------------------------------------
    def get(self, key, default=None, version=None):
        name = self._name(key, version)
        try:
            value = self._format.load(name, self._table.get(name, consistent=self._consistent),
                                      self._now_ms())
        except FAILURES as error:
            return self._failed("get", key, error, default)
        return default if value is MISSING else value

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        """Store the value; True, or False if it could not be (ON_ERROR "degrade")."""
        name, expires = self._name(key, version), self._expires_ms(timeout)
        payload = pickled(value)
        try:
            if self._gone(expires, self._now_ms()):  # not stored; any old entry goes
                self._delete(name)
                return True
            old = self._table.put(name, self._format.encode(name, payload, expires),
                                  returning=self._returning)
        except ValueTooLarge as error:
            self._forget([name])
            return self._failed("set", key, error, False)
        except FAILURES as error:
            return self._failed("set", key, error, False)
        self._replaced(name, old)
        return True

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        name, expires = self._name(key, version), self._expires_ms(timeout)
        payload = pickled(value)
        now_ms = self._now_ms()
        try:
            if self._gone(expires, now_ms):  # added (and at once gone) unless a live entry
                return not self._format.usable(name, self._table.get(name, consistent=True),
                                               now_ms)
            item = self._format.encode(name, payload, expires)
            return self._put_unless_live(name, item, now_ms)
        except FAILURES as error:
            return self._failed("add", key, error, False)

    def add_item(self, name, value, expires_at):
        """add() by item name (the SHA-256 of the key Django makes, as both stores' caches
        name entries) with an absolute expiry (epoch seconds, None for never): True if
        stored, False if a live entry holds the name or the expiry has passed. Errors
        raise. What `manage.py copy_state` writes each entry with."""
        now_ms = self._now_ms()
        expires_ms = None if expires_at is None else math.ceil(expires_at) * 1000
        if self._gone(expires_ms, now_ms):
            return False
        return self._put_unless_live(name, self._format.encode(name, pickled(value),
                                                               expires_ms), now_ms)

    def _put_unless_live(self, name, item, now_ms):
        """Put the item unless a live entry this cache signed holds the key: one PutItem
        conditional on the key being absent or expired; a second, conditional on the item
        as it was, to replace a live item whose signature does not verify."""
        try:
            old = self._table.put(
                name, item, condition=f"attribute_not_exists({KEY}) OR {EXPIRY} <= :now",
                condition_values={":now": seconds(now_ms)}, returning=self._returning,
                item_on_failure=True)
        except ConditionFailed as failure:
            current = failure.item or {}
            if not self._format.signed(name, current):
                try:
                    self._replace_forged(name, item, current)
                    return True
                except ConditionFailed:
                    pass  # rewritten meanwhile: the key is someone else's now
            self._replaced(name, item)  # the refused value's own spilled object
            return False
        self._replaced(name, old)
        return True

    def _replace_forged(self, name, item, current):
        logger.warning("cache entry has a bad signature, replaced by add: table=%s item=%s",
                       self.table, name)
        condition, values = _as_seen(current)
        old = self._table.put(name, item, condition=condition, condition_values=values,
                              returning=self._returning)
        self._replaced(name, old)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        name, expires = self._name(key, version), self._expires_ms(timeout)
        now_ms = self._now_ms()
        try:
            if self._gone(expires, now_ms):  # a timeout of 0 or less: the entry goes
                old = self._table.delete(name, condition=LIVE,
                                         values={":now": seconds(now_ms)}, returning="ALL_OLD")
                self._replaced(name, old)
                return self._format.signed(name, old)
            fields = self._format.expiry(name, expires)
            values = {":now": seconds(now_ms), ":sx": fields[EXPIRY_SIGNATURE]}
            if expires is None:
                expression = f"SET {EXPIRY_SIGNATURE} = :sx REMOVE {EXPIRY}"
            else:
                expression = f"SET {EXPIRY} = :x, {EXPIRY_SIGNATURE} = :sx"
                values[":x"] = fields[EXPIRY]
            old = self._table.update(name, expression, condition=LIVE, values=values,
                                     returning="ALL_OLD")
            if self._format.signed(name, old):
                return True
            self._drop_forged(name, {**old, **fields}, "touch")
            return False
        except ConditionFailed:  # missing or expired
            return False
        except FAILURES as error:
            return self._failed("touch", key, error, False)

    def delete(self, key, version=None):
        name = self._name(key, version)
        now_ms = self._now_ms()
        try:
            old = self._delete(name)
        except FAILURES as error:
            return self._failed("delete", key, error, False)
        return old is not None and live(old, now_ms)

    def has_key(self, key, version=None):
        """Whether a live item holds the key (from `x` alone: signatures not checked)."""
        name = self._name(key, version)
        try:
            item = self._table.get(name, consistent=self._consistent,
                                   attributes=[KEY, EXPIRY])
        except FAILURES as error:
            return self._failed("has_key", key, error, False)
        return live(item, self._now_ms())

    def get_many(self, keys, version=None):
        names = {self._name(key, version): key for key in keys}
        if not names:
            return {}
        now_ms = self._now_ms()
        try:
            items = self._table.get_many(list(names), consistent=self._consistent)
            values = {name: self._format.load(name, item, now_ms)
                      for name, item in items.items() if name in names}
        except FAILURES as error:
            return self._failed("get_many", list(names.values()), error, {})
        return {names[name]: value for name, value in values.items() if value is not MISSING}

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        """Store every pair; the keys that could not be stored (ON_ERROR "degrade")."""
        if not data:
            return []
        expires = self._expires_ms(timeout)
        if self._gone(expires, self._now_ms()):
            return self._delete_many(data, version)
        payloads = {key: (self._name(key, version), pickled(value))
                    for key, value in data.items()}
        items, keys_of, refused = {}, {}, {}
        for key, (name, payload) in payloads.items():
            try:
                items[name] = self._format.encode(name, payload, expires)
                keys_of[name] = key
            except FAILURES as error:  # too large, or the S3 spill failed
                refused[key] = (name, error)
        self._forget([name for name, error in refused.values()
                      if isinstance(error, ValueTooLarge)])
        failed = [self._failed("set_many", key, error, key)
                  for key, (name, error) in refused.items()]
        names = list(items)
        for start in range(0, len(names), BATCH_WRITE):
            batch = {name: items[name] for name in names[start:start + BATCH_WRITE]}
            try:
                self._table.put_many(batch)
            except FAILURES as error:
                keys = [keys_of[name] for name in batch]
                failed += self._failed("set_many", keys, error, keys)
                continue
            spilled = {name: item[SPILLED] for name, item in batch.items() if SPILLED in item}
            self._discard_spilled(spilled, keep=spilled)
        return failed

    def _delete_items(self, names):
        self._table.delete_many(names)

    def incr(self, key, delta=1, version=None):
        """Add delta to an integer atomically, keeping its expiry: one UpdateItem `ADD`.
        ValueError if the key is missing, expired or unverifiable (then it is deleted, so
        that add() starts it again); TypeError if it holds anything but an integer of at
        most 38 digits (as Django's Redis cache refuses what Redis cannot add to).

        Errors always raise: a caller told "missing" would start a new count.
        """
        name, now_ms = self._name(key, version), self._now_ms()
        try:
            item = self._table.update(
                name, f"ADD {NUMBER} :delta",
                condition=f"attribute_exists({NUMBER}) AND {DESCRIPTION} = :integer AND {LIVE}",
                values={":delta": delta, ":integer": INTEGER, ":now": seconds(now_ms)},
                returning="ALL_NEW", item_on_failure=True)
        except ConditionFailed as failure:
            item = failure.item
            if self._format.usable(name, item, now_ms):
                raise TypeError(f"DynamoDBCache can only incr or decr an integer of at most "
                                f"38 digits; key {key!r} holds another value") from None
            if live(item, now_ms):
                self._drop_forged(name, item, "incr")
            raise ValueError(f"Key '{key}' not found") from None
        if not self._format.signed(name, item):
            self._drop_forged(name, item, "incr")
            raise ValueError(f"Key '{key}' not found")
        return int(item[NUMBER])

    def clear(self):
        """Delete every entry of this cache's KEY_PREFIX (any version); other prefixes stay.
        Costs a consistent Scan of the whole table (every prefix's items count)."""
        try:
            self._sweep(f"{PREFIX} = :prefix", {":prefix": self.key_prefix}, consistent=True)
        except FAILURES as error:
            self._failed("clear", None, error, None)

    def delete_expired(self):
        """Delete every expired entry of the table (any prefix), in batches; how many.

        Errors raise. An entry rewritten between the Scan and its batch delete may go
        too (a batch carries no condition): a miss, never a wrong value.
        """
        return self._sweep(f"{EXPIRY} <= :now", {":now": seconds(self._now_ms())},
                           consistent=False)

    def _sweep(self, condition, values, consistent):
        """Delete the items a Scan finds, 25 to a BatchWriteItem, with their spilled
        objects; how many."""
        deleted, batch = 0, []
        for item in self._table.scan(condition, values=values, attributes=[KEY, SPILLED],
                                     consistent=consistent):
            batch.append(item)
            if len(batch) == BATCH_WRITE:
                deleted += self._delete_found(batch)
                batch = []
        if batch:
            deleted += self._delete_found(batch)
        return deleted

    def _delete_found(self, items):
        self._table.delete_many([item[KEY] for item in items])
        for item in items:
            self._replaced(item[KEY], item)
        return len(items)


def _as_seen(item):
    """A condition (and its values) that holds while the item still carries the signatures
    seen in `item`: a write of ours since then carries valid ones, which those were not."""
    condition, values = [], {}
    for attribute in (VALUE_SIGNATURE, EXPIRY_SIGNATURE):
        if attribute in item:
            condition.append(f"{attribute} = :{attribute}")
            values[f":{attribute}"] = item[attribute]
        else:
            condition.append(f"attribute_not_exists({attribute})")
    return " AND ".join(condition), values
