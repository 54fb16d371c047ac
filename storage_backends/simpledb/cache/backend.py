"""SimpleDBCache: Django's cache contract on records of one SimpleDB domain.

The record format (signed, pickled values) is in records.py, conditional read-modify-writes
in swaps.py, bulk deletes and culling in culling.py, the options in options.py; this module
holds the cache's semantics: keys, timeouts, errors, and which call each operation makes.

**Calls** (each a SimpleDB round trip): get, set, delete, has_key 1; add 1 when the key is
free (2 when a live entry refuses it, 3 when it replaces an expired or unverifiable one);
touch 2 (a consistent read, then a put conditional on `g`: SimpleDB's conditions compare
for equality only, so one blind put cannot tell a live entry from an expired one still
stored, and would revive it; `x` must be re-signed too); incr/decr 2 when uncontended;
get_many(n) ⌈n/20⌉ Selects; set_many/delete_many(n) ⌈n/25⌉ batches (more only when values
are so large that 25 records pass `MAX_BATCH_BYTES`). has_key answers from `s` and `x`
alone, without checking the signature. With MAX_ENTRIES, a write may add a DomainMetadata
call and a cull (see culling.py). With S3 spill configured, a spilled write also cleans the
record's earlier spilled objects, and delete lists (and cleans) the record's spill folder:
S3 calls, beside the SimpleDB budget; writes that do not spill make none.

**Unverifiable records.** A record whose signature does not verify (tampered, or signed
with a key since retired without a fallback) or whose value cannot be read is absent to
every operation but has_key: get misses; add overwrites it; incr/decr and touch delete it
and answer as for a missing key (see swaps.py). Such writes are conditional on the record
as read, so a writer that replaced it meanwhile is never clobbered.

**Errors.** With ON_ERROR "degrade" (the default) a read that fails is a miss and a write
that fails returns False, both logged at WARNING, so the site keeps serving with SimpleDB
down. A domain or item that is full (`StoreFull`) is logged once per process and domain,
then at DEBUG. incr/decr always raise (no honest "miss" exists for them), so do
`delete_expired` and pickling errors. ON_ERROR "raise" lets every `SimpleDBError` through.

**Consistency.** Reads are eventually consistent unless CONSISTENT_READ; reads that decide
a write (incr/decr, touch, add over an existing record) are always consistent.
"""

import logging
import math
import pickle
import threading

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.utils.functional import cached_property

from ... import aws
from ...hashed_cache import HashedEntriesCache
from ..client import (
    DOMAIN_NAME,
    MAX_BATCH_ITEMS,
    SPILLED,
    ConditionFailed,
    Present,
    S3Spill,
    SimpleDBClient,
    SimpleDBError,
    StoreFull,
    ValueCodec,
    ValueTooLarge,
    quote_name,
    quote_value,
)
from .culling import Sweeper, culler_for
from .options import cache_options
from .records import (
    EXPIRES,
    FOREVER,
    MARKER,
    MISSING,
    OWN_ATTRIBUTES,
    PREFIX,
    RecordFormat,
    expiry_text,
    live,
)
from .swaps import DELETE, DISCARD, RecordSwaps

logger = logging.getLogger(__name__)

#: Names and values one BatchPutAttributes carries at most. SimpleDB refuses requests over
#: 1 MB; the request also spells out every parameter name and URL-encodes the values, so
#: half of that leaves room.
MAX_BATCH_BYTES = 512 * 1024

#: Domains whose being full this process has logged (once each, see _failed).
_full_domains = set()
_full_domains_lock = threading.Lock()


class SimpleDBCache(HashedEntriesCache):
    """A Django cache whose entries are records of one SimpleDB domain (LOCATION)."""

    store, location_kind, location_name = "SimpleDB", "domain", DOMAIN_NAME
    logger, failures = logger, SimpleDBError

    def __init__(self, location, params):
        super().__init__(location, params)
        self.domain = location
        options = cache_options(params)
        self._consistent = options["CONSISTENT_READ"]
        self._compress_min_bytes = options["COMPRESS_MIN_BYTES"]
        self._max_value_bytes = options["MAX_VALUE_BYTES"]
        self._spill_bucket = options["SPILL_BUCKET"]
        self._spill_prefix = options["SPILL_PREFIX"]
        self._raise_errors = options["ON_ERROR"] == "raise"
        self._signing_keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        self._culler = None
        if options["MAX_ENTRIES"] is not None:
            self._culler = culler_for(location, options["MAX_ENTRIES"],
                                      options["CULL_FREQUENCY"])
        # BaseCache's own figures, for code that reads them: None when unbounded.
        self._max_entries = options["MAX_ENTRIES"]
        self._cull_frequency = options["CULL_FREQUENCY"]

    # -- wiring --------------------------------------------------------------------------
    @property
    def _records(self):
        # The process's shared boto3 client, looked up on each use: made on first use, and
        # a new one after a fork or aws.reset().
        return SimpleDBClient(self.domain, aws.client("sdb"))

    @cached_property
    def _codec(self):
        spill = None
        if self._spill_bucket:
            spill = S3Spill(_LazyClient("s3"), self._spill_bucket, self._spill_prefix)
        return ValueCodec(reserved=len(OWN_ATTRIBUTES),
                          compress_min_bytes=self._compress_min_bytes, spill=spill,
                          max_value_bytes=self._max_value_bytes)

    @cached_property
    def _format(self):
        return RecordFormat(self.domain, self.key_prefix, self._signing_keys, self._codec)

    @cached_property
    def _swaps(self):
        return RecordSwaps(lambda: self._records, self._format, self._now_ms,
                           self._discard_spilled)

    @cached_property
    def _sweeper(self):
        return Sweeper(self.domain, lambda: self._records, self._discard_spilled)

    def _version(self, version):
        return self.version if version is None else version

    def _failed(self, operation, key, error, result):
        """As for any failure (HashedEntriesCache), but a full domain is logged once."""
        if isinstance(error, StoreFull) and not self._raise_errors:
            with _full_domains_lock:
                first = self.domain not in _full_domains
                _full_domains.add(self.domain)
            if first:
                logger.warning(
                    "cache domain is full, writes fail until entries are deleted (set "
                    "MAX_ENTRIES, or run purge_cache); logged once per process: domain=%s "
                    "error=%s", self.domain, error)
            else:
                logger.debug("cache %s failed, domain full: domain=%s key=%.200r",
                             operation, self.domain, key)
            return result
        return super()._failed(operation, key, error, result)

    # -- expiry --------------------------------------------------------------------------
    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        """When an entry written now with `timeout` expires (epoch seconds), None: never."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else self._now() + timeout

    def _expiry(self, timeout):
        """`x` of an entry written now with `timeout`, or None when it must not be stored."""
        expires_at = self.get_backend_timeout(timeout)
        if expires_at is None:
            return FOREVER
        expires_ms = math.floor(expires_at * 1000)
        return expiry_text(expires_ms) if expires_ms > self._now_ms() else None

    # -- values --------------------------------------------------------------------------
    @staticmethod
    def _dumps(value):
        # Outside any error handling: an unpicklable value is the caller's bug.
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def _encode(self, name, payload, expires, version):
        return self._format.encode(name, payload, expires, version)

    def _load(self, name, attributes):
        return self._format.load(name, attributes, self._now_ms())

    def read_item(self, name, attributes):
        """An entry by its item name, from the attributes a Select returned: `(value,
        expiry in epoch seconds or None for never)`, or None if it is expired, forged or
        corrupt. What `manage.py copy_state` reads each entry with."""
        value = self._load(name, attributes)
        if value is MISSING:
            return None
        expires = attributes[EXPIRES]
        return value, (None if expires == FOREVER else int(expires) / 1000)

    def _forget(self, names):
        """Delete records whose new value could not be stored, so that no old value outlives
        a failed write (as Django's memcached backends do); failures are only logged."""
        if not names:
            return
        try:
            self._records.batch_delete(names)
        except SimpleDBError as error:
            logger.warning("cache could not delete entries whose new value was refused: "
                           "domain=%s records=%d error=%s", self.domain, len(names), error)
            return
        self._discard_spilled(names)

    def _discard_older_spills(self, name, attributes):
        """After a spilled value was written: remove the record's earlier spilled objects.

        A write that did not spill costs no S3 call, so an earlier spilled value it
        replaced stays in S3 until delete() lists the record's folder, or the bucket's
        lifecycle rule on the prefix removes it.
        """
        if attributes[SPILLED]:
            self._discard_spilled([name], keep=attributes[SPILLED])

    def _discard_spilled(self, names, keep=None):
        """Remove spilled objects the records no longer point to (if spill is configured)."""
        spill = self._codec.spill
        if spill is None:
            return
        for name in names:
            try:
                spill.discard(name, keep=keep)
            except SimpleDBError as error:  # the write stands; the lifecycle rule cleans up
                logger.warning("cache could not remove spilled objects: domain=%s record=%s "
                               "error=%s", self.domain, name, error)

    def _wrote(self, count=1):
        """After entries were written: cull the domain if MAX_ENTRIES says it is due.
        Culling is housekeeping: its failures are logged, never raised."""
        if self._culler is None or not self._culler.due(self._now(), count):
            return
        try:
            deleted = self._culler.cull(self._records, self._sweeper, self.clear,
                                        self._now_ms())
        except SimpleDBError as error:
            logger.warning("cache cull failed: domain=%s error=%s: %s", self.domain,
                           type(error).__name__, error)
            return
        if deleted:
            logger.info("cache culled: domain=%s max_entries=%d deleted=%d", self.domain,
                        self._culler.max_entries, deleted)

    # -- the BaseCache contract ----------------------------------------------------------
    def get(self, key, default=None, version=None):
        name = self._name(key, version)
        try:
            value = self._load(name, self._records.get(name, consistent=self._consistent))
        except SimpleDBError as error:
            return self._failed("get", key, error, default)
        return default if value is MISSING else value

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        """Store the value; True, or False if it could not be (ON_ERROR "degrade")."""
        name, version = self._name(key, version), self._version(version)
        expires = self._expiry(timeout)
        payload = self._dumps(value)
        try:
            if expires is None:  # a timeout of 0 or less: not stored, any old entry goes
                self._records.delete(name)
                self._discard_spilled([name])
                return True
            attributes = self._encode(name, payload, expires, version)
            self._records.put(name, attributes)
        except ValueTooLarge as error:
            self._forget([name])
            return self._failed("set", key, error, False)
        except SimpleDBError as error:
            return self._failed("set", key, error, False)
        self._discard_older_spills(name, attributes)
        self._wrote()
        return True

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        name, version = self._name(key, version), self._version(version)
        expires = self._expiry(timeout)
        payload = self._dumps(value)
        try:
            if expires is None:  # added (and at once gone) unless a live entry is there
                current = self._records.get(name, consistent=True)
                return not self._format.usable(name, current, self._now_ms())
            attributes = self._encode(name, payload, expires, version)
            added = self._swaps.add(name, attributes)
        except SimpleDBError as error:
            return self._failed("add", key, error, False)
        if added:
            self._discard_older_spills(name, attributes)
            self._wrote()
        return added

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        name = self._name(key, version)
        expires = self._expiry(timeout)

        def touched(current):
            if expires is None:  # a timeout of 0 or less: the entry goes
                return True, DELETE
            return True, self._format.retimed(name, current, expires)

        try:
            return self._swaps.swap(name, key, touched, missing=lambda: False)
        except SimpleDBError as error:
            return self._failed("touch", key, error, False)

    def delete(self, key, version=None):
        name = self._name(key, version)
        try:
            self._records.delete(name, expect=Present(MARKER, "1"))
        except ConditionFailed:
            return False
        except SimpleDBError as error:
            return self._failed("delete", key, error, False)
        self._discard_spilled([name])
        return True

    def has_key(self, key, version=None):
        name = self._name(key, version)
        try:
            return live(self._records.get(name, [MARKER, EXPIRES], consistent=self._consistent),
                        self._now_ms())
        except SimpleDBError as error:
            return self._failed("has_key", key, error, False)

    def get_many(self, keys, version=None):
        names = {self._name(key, version): key for key in keys}
        if not names:
            return {}
        try:
            records = self._records.get_many(list(names), consistent=self._consistent)
            values = {name: self._load(name, records[name]) for name in names if name in records}
        except SimpleDBError as error:
            return self._failed("get_many", list(names.values()), error, {})
        return {names[name]: value for name, value in values.items() if value is not MISSING}

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        """Store every pair; the keys that could not be stored (ON_ERROR "degrade")."""
        if not data:
            return []
        version = self._version(version)
        expires = self._expiry(timeout)
        if expires is None:
            return self._delete_many(data, version)
        payloads = {key: (self._name(key, version), self._dumps(value))
                    for key, value in data.items()}
        records, keys_of, refused = {}, {}, {}
        for key, (name, payload) in payloads.items():
            try:
                records[name] = self._encode(name, payload, expires, version)
                keys_of[name] = key
            except SimpleDBError as error:  # too large, or the S3 spill failed
                refused[key] = (name, error)
        self._forget([name for name, error in refused.values()
                      if isinstance(error, ValueTooLarge)])
        failed = [self._failed("set_many", key, error, key)
                  for key, (name, error) in refused.items()]
        written = 0
        for batch in _batches(records):
            try:
                self._records.batch_put(batch)
            except SimpleDBError as error:
                failed += self._failed("set_many", [keys_of[n] for n in batch], error,
                                       [keys_of[n] for n in batch])
                continue
            written += len(batch)
            for name, attributes in batch.items():
                self._discard_older_spills(name, attributes)
        if written:
            self._wrote(written)
        return failed

    def _delete_items(self, names):
        self._records.batch_delete(names)

    def incr(self, key, delta=1, version=None):
        """Add delta to the value atomically, keeping its expiry; ValueError if it is missing
        (or unverifiable: then it is deleted, so that add() starts it again).

        Errors always raise: a caller told "missing" would start a new count.
        """
        name, version = self._name(key, version), self._version(version)

        def missing():
            raise ValueError(f"Key '{key}' not found")

        def incremented(current):
            value = self._load(name, current)
            if value is MISSING:  # signed, but its value cannot be read back
                return None, DISCARD
            new_value = value + delta
            return new_value, self._encode(name, self._dumps(new_value), current[EXPIRES],
                                           version)

        return self._swaps.swap(name, key, incremented, missing)

    def clear(self):
        """Delete every entry of this cache's KEY_PREFIX (any version); other prefixes stay."""
        try:
            self._sweeper.delete_where(f"{quote_name(PREFIX)} = {quote_value(self.key_prefix)}")
        except SimpleDBError as error:
            self._failed("clear", None, error, None)

    def delete_expired(self):
        """Delete every expired entry of the domain (any prefix), in batches; how many.

        Errors raise. An entry rewritten between the Select and its batch delete may go
        too: a miss, never a wrong value.
        """
        return self._sweeper.delete_expired(self._now_ms())


class _LazyClient:
    """Stands for `aws.client(service)`, looked up at each call (after forks and resets)."""

    def __init__(self, service):
        self.service = service

    def __getattr__(self, name):
        return getattr(aws.client(self.service), name)


def _batches(records):
    """{name: attributes} in batches of at most 25 records and MAX_BATCH_BYTES."""
    batch, size = {}, 0
    for name, attributes in records.items():
        record_size = len(name) + sum(len(k.encode()) + len(v.encode())
                                      for k, v in attributes.items())
        if batch and (len(batch) == MAX_BATCH_ITEMS or size + record_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = {}, 0
        batch[name] = attributes
        size += record_size
    if batch:
        yield batch

