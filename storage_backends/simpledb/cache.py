"""Django's cache on Amazon SimpleDB.

    CACHES = {"default": {
        "BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
        "LOCATION": "stratus-cache",          # the SimpleDB domain (provision_aws makes it)
        "OPTIONS": {"ON_ERROR": "degrade"},   # see DEFAULT_OPTIONS
    }}

**Records.** Each cache key is one record, named by the SHA-256 of the key Django makes
(KEY_PREFIX, VERSION, KEY_FUNCTION), so any key of any length or script works. The value is
pickled, as Django's own backends do, and laid out by the shared `ValueCodec` (compressed
when that helps, split over ≤ 1,024-byte attributes, spilled to S3 when configured and the
record cannot hold it). Beside it the record holds:

- `s` = "1": a constant marker, so that delete can be conditional on the record existing.
- `x`: when the entry expires, as 13-digit, zero-padded epoch milliseconds ("9" * 13 for
  never), so a Select can compare it as text; `manage.py purge_cache` deletes by it.
- `p`, `ver`: the cache's KEY_PREFIX and the version the key was made with (`clear()`
  selects on `p`).
- `g`: a random generation, new on every write: compare-and-swap for incr/decr, touch and
  add over an expired entry.
- `vd`, `sig`: the SHA-256 of the pickled value, and an HMAC-SHA256 (keyed from SECRET_KEY
  by `salted_hmac`) over the record name, `x`, `vd` and the value's attributes. A record
  whose signature does not verify, or whose value does not match `vd` (a spilled object
  changed in S3), is a miss and is logged: nothing that can write to the domain or the
  spill prefix gets its bytes unpickled.

**Calls** (each a SimpleDB round trip): get, set, delete, has_key 1; add 1 when the key is
free (2 when a live entry refuses it, 3 when it replaces an expired one); touch 2 (a
consistent read, then a put conditional on `g`: SimpleDB's conditions compare for equality
only, so one blind put cannot tell a live entry from an expired one still stored, and would
revive it; `x` must be re-signed too); incr/decr 2 when uncontended; get_many(n) ⌈n/20⌉
Selects; set_many/delete_many(n) ⌈n/25⌉ batches (more only when values are so large that
25 records pass `MAX_BATCH_BYTES`). has_key answers from `s` and `x` alone, without
checking the signature. With S3 spill configured, a spilled write also cleans the record's
earlier spilled objects, and delete lists (and cleans) the record's spill folder: S3 calls,
beside the SimpleDB budget; writes that do not spill make none.

**Errors.** With ON_ERROR "degrade" (the default) a read that fails is a miss and a write
that fails returns False, both logged at WARNING, so the site keeps serving with SimpleDB
down. incr/decr always raise (no honest "miss" exists for them), so do `delete_expired`
and pickling errors. ON_ERROR "raise" lets every `SimpleDBError` through.

**Consistency.** Reads are eventually consistent unless CONSISTENT_READ; reads that decide
a write (incr/decr, touch, add over an existing record) are always consistent.
"""

import hashlib
import json
import logging
import math
import pickle
import random
import secrets
import time

from django.conf import settings
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.functional import cached_property

from .. import aws
from .client import (
    DOMAIN_NAME,
    MAX_ATTRIBUTE_BYTES,
    MAX_BATCH_ITEMS,
    SPILLED,
    Absent,
    ConditionFailed,
    Present,
    S3Spill,
    SimpleDBClient,
    SimpleDBError,
    ValueCodec,
    ValueTooLarge,
    quote_name,
    quote_value,
)

logger = logging.getLogger(__name__)

#: The record's own attributes (the value codec's come on top).
MARKER = "s"
EXPIRES = "x"
PREFIX = "p"
VERSION = "ver"
GENERATION = "g"
DIGEST = "vd"
SIGNATURE = "sig"
OWN_ATTRIBUTES = (MARKER, EXPIRES, PREFIX, VERSION, GENERATION, DIGEST, SIGNATURE)

#: `x` of an entry that never expires; real expiries are clamped below it.
FOREVER = "9" * 13
_LATEST_EXPIRY_MS = int(FOREVER) - 1

#: Salt of the signing key (with SECRET_KEY, through salted_hmac).
SIGNING_SALT = "storage_backends.simpledb.cache.SimpleDBCache"

#: Names and values one BatchPutAttributes carries at most. SimpleDB refuses requests over
#: 1 MB; the request also spells out every parameter name and URL-encodes the values, so
#: half of that leaves room.
MAX_BATCH_BYTES = 512 * 1024

#: Compare-and-swap attempts (incr/decr, touch, add over an expired entry) before giving up,
#: and the cap of the random pause between attempts (doubling from 1 ms).
CAS_ATTEMPTS = 50
CAS_MAX_PAUSE_SECONDS = 0.05

#: Items per page of the Selects of clear() and delete_expired() (SimpleDB's maximum).
SELECT_PAGE = 2500

DEFAULT_OPTIONS = {
    # Read get/get_many/has_key with ConsistentRead (twice the read cost on AWS).
    "CONSISTENT_READ": False,
    # Values (pickled) at least this long are compressed when that makes them smaller.
    "COMPRESS_MIN_BYTES": 1024,
    # Values too large for one record go to this S3 bucket under SPILL_PREFIX; None: they
    # are refused (ValueTooLarge: set() returns False, or raises with ON_ERROR "raise").
    "SPILL_BUCKET": None,
    "SPILL_PREFIX": "cache-spill/",
    # "degrade": failed reads are misses, failed writes return False, both logged;
    # "raise": SimpleDBError (Unavailable, ...) propagates.
    "ON_ERROR": "degrade",
}
ON_ERROR_CHOICES = ("degrade", "raise")
_MISSING = object()
_KEEP = object()
_DELETE = object()


class Contended(SimpleDBError):
    """A compare-and-swap kept losing to other writers of the same key."""


class SimpleDBCache(BaseCache):
    """A Django cache whose entries are records of one SimpleDB domain (LOCATION)."""

    def __init__(self, location, params):
        params = dict(params)
        timeout = params.get("TIMEOUT", params.get("timeout", 300))
        if timeout is not None and (isinstance(timeout, bool) or not _is_number(timeout)):
            raise ImproperlyConfigured(
                f"SimpleDBCache TIMEOUT must be a number of seconds or None, not {timeout!r}."
            )
        super().__init__(params)
        if not isinstance(location, str) or not DOMAIN_NAME.fullmatch(location):
            raise ImproperlyConfigured(
                f"SimpleDBCache LOCATION must be a SimpleDB domain name (3-255 of a-z, A-Z, "
                f"0-9, '_', '-', '.'), not {location!r}."
            )
        if not isinstance(self.key_prefix, str) or \
                len(self.key_prefix.encode()) > MAX_ATTRIBUTE_BYTES:
            raise ImproperlyConfigured("SimpleDBCache KEY_PREFIX must be a string of at most "
                                       f"{MAX_ATTRIBUTE_BYTES} bytes.")
        if not isinstance(self.version, int) or isinstance(self.version, bool):
            raise ImproperlyConfigured(
                f"SimpleDBCache VERSION must be an integer, not {self.version!r}."
            )
        self.domain = location
        options = _options(params.get("OPTIONS") or {})
        self._consistent = options["CONSISTENT_READ"]
        self._compress_min_bytes = options["COMPRESS_MIN_BYTES"]
        self._spill_bucket = options["SPILL_BUCKET"]
        self._spill_prefix = options["SPILL_PREFIX"]
        self._raise_errors = options["ON_ERROR"] == "raise"
        self._secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]

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
                          compress_min_bytes=self._compress_min_bytes, spill=spill)

    def _now(self):
        """Seconds since the epoch (tests replace this to move time)."""
        return time.time()

    def _name(self, key, version):
        made = self.make_and_validate_key(key, version=version)
        return hashlib.sha256(made.encode()).hexdigest()

    def _version(self, version):
        return self.version if version is None else version

    def _failed(self, operation, key, error, result):
        """`result` for a call that failed with `error`, or the error itself (ON_ERROR)."""
        if self._raise_errors:
            raise error
        logger.warning("cache %s failed: domain=%s key=%.200r error=%s: %s",
                       operation, self.domain, key, type(error).__name__, error)
        return result

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
        expires_ms = min(math.floor(expires_at * 1000), _LATEST_EXPIRY_MS)
        return f"{expires_ms:013d}" if expires_ms > self._now_ms() else None

    def _now_ms(self):
        return math.floor(self._now() * 1000)

    def _live(self, attributes):
        """Whether a record holds an entry that has not expired."""
        expires = attributes.get(EXPIRES, "")
        return expires.isdigit() and attributes.get(MARKER) == "1" and \
            int(expires) > self._now_ms()

    # -- values --------------------------------------------------------------------------
    @staticmethod
    def _dumps(value):
        # Outside any error handling: an unpicklable value is the caller's bug.
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def _encode(self, name, payload, expires, version):
        """The record's attributes for a pickled value (may write to S3)."""
        attributes = self._codec.encode(name, payload)
        attributes.update({
            MARKER: "1", EXPIRES: expires, PREFIX: self.key_prefix, VERSION: str(version),
            GENERATION: secrets.token_hex(8), DIGEST: hashlib.sha256(payload).hexdigest(),
        })
        attributes[SIGNATURE] = self._signature(name, attributes, self._secrets[0])
        return attributes

    @staticmethod
    def _signature(name, attributes, secret):
        fields = [name, attributes[EXPIRES], attributes[DIGEST],
                  *ValueCodec.stored_fields(attributes)]
        message = json.dumps(fields, separators=(",", ":"))
        return salted_hmac(SIGNING_SALT, message, secret=secret, algorithm="sha256").hexdigest()

    def _verified(self, name, attributes):
        """Whether the record's signature is ours (current SECRET_KEY or a fallback)."""
        try:
            return any(
                constant_time_compare(attributes[SIGNATURE],
                                      self._signature(name, attributes, secret))
                for secret in self._secrets
            )
        except (KeyError, ValueError):
            return False

    def _load(self, name, attributes):
        """The live value a record holds, or _MISSING (absent, expired, tampered, corrupt)."""
        if not self._live(attributes):
            return _MISSING
        if not self._verified(name, attributes):
            logger.warning("cache entry has a bad signature, treated as a miss: domain=%s "
                           "record=%s", self.domain, name)
            return _MISSING
        try:
            payload = self._codec.decode(attributes)
        except ValueError as error:
            logger.warning("cache entry cannot be decoded, treated as a miss: domain=%s "
                           "record=%s error=%s", self.domain, name, error)
            return _MISSING
        if hashlib.sha256(payload).hexdigest() != attributes[DIGEST]:
            logger.warning("cache entry's value does not match its signed digest, treated as a "
                           "miss: domain=%s record=%s", self.domain, name)
            return _MISSING
        try:
            return pickle.loads(payload)
        except Exception as error:  # a class that moved or changed since it was pickled
            logger.warning("cache entry cannot be unpickled, treated as a miss: domain=%s "
                           "record=%s error=%s: %s", self.domain, name,
                           type(error).__name__, error)
            return _MISSING

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

    # -- the BaseCache contract ----------------------------------------------------------
    def get(self, key, default=None, version=None):
        name = self._name(key, version)
        try:
            value = self._load(name, self._records.get(name, consistent=self._consistent))
        except SimpleDBError as error:
            return self._failed("get", key, error, default)
        return default if value is _MISSING else value

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
        return True

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        name, version = self._name(key, version), self._version(version)
        expires = self._expiry(timeout)
        payload = self._dumps(value)
        try:
            if expires is None:  # added (and at once gone) unless a live entry is there
                return not self._live(
                    self._records.get(name, [MARKER, EXPIRES], consistent=True))
            attributes = self._encode(name, payload, expires, version)
            added = self._add(name, attributes)
        except SimpleDBError as error:
            return self._failed("add", key, error, False)
        if added:
            self._discard_older_spills(name, attributes)
        return added

    def _add(self, name, attributes):
        """Put the record if no live entry holds the name; whether it was put."""
        for attempt in range(CAS_ATTEMPTS):
            try:
                self._records.put(name, attributes, expect=Absent(MARKER))
                return True
            except ConditionFailed:
                pass
            # Something is there: replace it only if it has expired, and only as we saw it.
            current = self._records.get(name, [MARKER, EXPIRES, GENERATION], consistent=True)
            if self._live(current):
                return False
            if current:
                try:
                    self._records.put(name, attributes,
                                      expect=Present(GENERATION, current.get(GENERATION, "")))
                    return True
                except ConditionFailed:
                    pass
            _pause(attempt)
        return False  # others keep writing this key: it is theirs

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        name = self._name(key, version)
        expires = self._expiry(timeout)

        def touched(current):
            if not self._verified(name, current):
                logger.warning("cache entry has a bad signature, not touched: domain=%s "
                               "record=%s", self.domain, name)
                return False, _KEEP
            if expires is None:  # a timeout of 0 or less: the entry goes
                return True, _DELETE
            changed = {EXPIRES: expires, GENERATION: secrets.token_hex(8)}
            changed[SIGNATURE] = self._signature(name, {**current, **changed}, self._secrets[0])
            return True, changed

        try:
            return self._cas(name, key, touched, missing=lambda: False)
        except SimpleDBError as error:
            return self._failed("touch", key, error, False)

    def _cas(self, name, key, change, missing):
        """Compare-and-swap: read the record consistently, and write what `change` makes
        of it unless someone wrote in between (then read again, up to CAS_ATTEMPTS).

        `change(record)` returns (result, what to write: attributes, _DELETE or _KEEP);
        `missing()` gives the result for a missing or expired entry.
        """
        for attempt in range(CAS_ATTEMPTS):
            current = self._records.get(name, consistent=True)
            if not self._live(current):
                return missing()
            result, changed = change(current)
            if changed is _KEEP:
                return result
            expect = Present(GENERATION, current.get(GENERATION, ""))
            try:
                if changed is _DELETE:
                    self._records.delete(name, expect=expect)
                else:
                    self._records.put(name, changed, expect=expect)
            except ConditionFailed:
                _pause(attempt)
                continue
            if changed is _DELETE:
                self._discard_spilled([name])
            return result
        raise Contended(f"{CAS_ATTEMPTS} attempts to change cache key {key!r} all lost to "
                        f"other writers")

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
            return self._live(self._records.get(name, [MARKER, EXPIRES],
                                                consistent=self._consistent))
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
        return {names[name]: value for name, value in values.items() if value is not _MISSING}

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
        for batch in _batches(records):
            try:
                self._records.batch_put(batch)
            except SimpleDBError as error:
                failed += self._failed("set_many", [keys_of[n] for n in batch], error,
                                       [keys_of[n] for n in batch])
                continue
            for name, attributes in batch.items():
                self._discard_older_spills(name, attributes)
        return failed

    def delete_many(self, keys, version=None):
        self._delete_many(keys, version)

    def _delete_many(self, keys, version):
        """Delete the keys' records; the keys that could not be deleted."""
        names = {self._name(key, version): key for key in keys}
        if not names:
            return []
        try:
            self._records.batch_delete(list(names))
        except SimpleDBError as error:
            return self._failed("delete_many", list(names.values()), error,
                                list(names.values()))
        self._discard_spilled(names)
        return []

    def incr(self, key, delta=1, version=None):
        """Add delta to the value atomically, keeping its expiry; ValueError if it is missing.

        Errors always raise: a caller told "missing" would start a new count.
        """
        name, version = self._name(key, version), self._version(version)

        def missing():
            raise ValueError(f"Key '{key}' not found")

        def incremented(current):
            value = self._load(name, current)
            if value is _MISSING:  # tampered or corrupt
                missing()
            new_value = value + delta
            return new_value, self._encode(name, self._dumps(new_value), current[EXPIRES],
                                           version)

        return self._cas(name, key, incremented, missing)

    def clear(self):
        """Delete every entry of this cache's KEY_PREFIX (any version); other prefixes stay."""
        try:
            self._delete_selected(f"{quote_name(PREFIX)} = {quote_value(self.key_prefix)}")
        except SimpleDBError as error:
            self._failed("clear", None, error, None)

    def delete_expired(self):
        """Delete every expired entry of the domain (any prefix), in batches; how many.

        Errors raise. An entry rewritten between the Select and its batch delete may go
        too: a miss, never a wrong value.
        """
        return self._delete_selected(
            f"{quote_name(EXPIRES)} < {quote_value(f'{self._now_ms():013d}')}")

    def _delete_selected(self, condition):
        records = self._records
        expression = (f"select {quote_name(SPILLED)} from {quote_name(self.domain)} "
                      f"where {condition} limit {SELECT_PAGE}")
        deleted, batch = 0, []
        for name, attributes in records.select(expression, consistent=True):
            batch.append((name, attributes.get(SPILLED)))
            if len(batch) == MAX_BATCH_ITEMS:
                deleted += self._delete_batch(records, batch)
                batch = []
        if batch:
            deleted += self._delete_batch(records, batch)
        return deleted

    def _delete_batch(self, records, batch):
        records.batch_delete([name for name, _ in batch])
        self._discard_spilled([name for name, spilled in batch if spilled])
        return len(batch)


class _LazyClient:
    """Stands for `aws.client(service)`, looked up at each call (after forks and resets)."""

    def __init__(self, service):
        self.service = service

    def __getattr__(self, name):
        return getattr(aws.client(self.service), name)


def _options(options):
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown SimpleDBCache OPTIONS: {', '.join(unknown)}; "
            f"known: {', '.join(DEFAULT_OPTIONS)}."
        )
    options = {**DEFAULT_OPTIONS, **options}
    if not isinstance(options["CONSISTENT_READ"], bool):
        raise ImproperlyConfigured("SimpleDBCache CONSISTENT_READ must be True or False.")
    minimum = options["COMPRESS_MIN_BYTES"]
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 0:
        raise ImproperlyConfigured(
            f"SimpleDBCache COMPRESS_MIN_BYTES must be a whole number of at least 0, "
            f"not {minimum!r}."
        )
    bucket, prefix = options["SPILL_BUCKET"], options["SPILL_PREFIX"]
    if bucket is not None and (not isinstance(bucket, str) or not bucket):
        raise ImproperlyConfigured("SimpleDBCache SPILL_BUCKET must be a bucket name or None.")
    if not isinstance(prefix, str) or not prefix:
        raise ImproperlyConfigured("SimpleDBCache SPILL_PREFIX must be a non-empty string.")
    if options["ON_ERROR"] not in ON_ERROR_CHOICES:
        raise ImproperlyConfigured(
            f"SimpleDBCache ON_ERROR must be one of {', '.join(ON_ERROR_CHOICES)}, "
            f"not {options['ON_ERROR']!r}."
        )
    return options


def _is_number(value):
    try:
        int(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


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


def _pause(attempt):
    """A random pause before another compare-and-swap attempt, growing with each."""
    time.sleep(random.uniform(0, min(CAS_MAX_PAUSE_SECONDS, 0.001 * 2 ** attempt)))
