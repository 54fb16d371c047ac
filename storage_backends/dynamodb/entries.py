"""How a DynamoDBCache entry is laid out in a DynamoDB item, signed and read back.

One item per cache key, keyed by the SHA-256 of the key Django makes (KEY_PREFIX, VERSION,
KEY_FUNCTION), so any key of any length or script fits the 2,048-byte partition key:

- `k`: that hash; `p`: the cache's KEY_PREFIX (`clear()` scans on it).
- `x`: when the entry expires, whole epoch seconds (rounded up: DynamoDB's TTL reads whole
  seconds); absent: never. It is the table's TTL attribute.
- `d`: what the value is, and how it is stored: "n" for an integer kept as a DynamoDB
  number in `n` (so that incr is one atomic `ADD`), else "<how>:<SHA-256 of the stored
  bytes>", <how> being "v" (pickled bytes in `v`), "s3" (in the S3 object named by `s3`),
  with a "z" after it when the bytes are zlib-compressed.
- `sv`: an HMAC-SHA256 (keyed from SECRET_KEY by `salted_hmac`) over `k` and `d`; `sx`:
  one over `k` and `x`. Two signatures, not one, so that touch can give an entry a new
  expiry in one blind UpdateItem, without knowing the value.

Reading checks, in order: `x` (expired entries are misses: DynamoDB's TTL deletes late),
both signatures, the stored bytes against the digest in `d`, and only then decompresses
(bounded by MAX_VALUE_BYTES) and unpickles. Anything that fails is a miss, logged. What the
signatures do not cover: an integer's count (DynamoDB cannot re-sign inside an `ADD`; what
is signed is that the item is ours and holds an integer, so nothing planted is ever
unpickled), and which of this key's own earlier signed expiries an item carries.
"""

import hashlib
import json
import logging
import pickle
import zlib
from decimal import Decimal

from django.utils.crypto import constant_time_compare, salted_hmac

from ..simpledb.codec import inflate
from ..simpledb.errors import SimpleDBError, ValueTooLarge
from .client import EXPIRY, MAX_ITEM_BYTES

logger = logging.getLogger("storage_backends.dynamodb.cache")

#: The item's attributes beside KEY and EXPIRY.
PREFIX = "p"
DESCRIPTION = "d"
VALUE_SIGNATURE = "sv"
EXPIRY_SIGNATURE = "sx"
NUMBER = "n"
BYTES = "v"
SPILLED = "s3"

#: `d` of an integer entry.
INTEGER = "n"
#: Integers with more digits than DynamoDB's numbers hold (38) are pickled instead.
LARGEST_NUMBER = 10 ** 38 - 1
#: Room kept in an item for everything but the value's bytes (names, key, expiry,
#: description, signatures), KEY_PREFIX aside.
ITEM_OVERHEAD_BYTES = 512

#: Salt of the signing key (with SECRET_KEY, through salted_hmac).
SIGNING_SALT = "storage_backends.dynamodb.cache.DynamoDBCache"

#: What `load` returns for an absent, expired, tampered or corrupt entry.
MISSING = object()


def seconds(expires_ms):
    """`x` for an expiry in epoch milliseconds: an integer when it is a whole second, as
    the cache's expiries are (what DynamoDB's TTL reads)."""
    if expires_ms % 1000 == 0:
        return Decimal(expires_ms // 1000)
    return Decimal(expires_ms).scaleb(-3)


def live(item, now_ms):
    """Whether `item` (plain values, or None) holds an entry that has not expired
    (signatures not checked)."""
    if item is None:
        return False
    expiry = item.get(EXPIRY)
    if expiry is None:
        return True
    return isinstance(expiry, Decimal) and expiry.is_finite() and expiry > seconds(now_ms)


def pickled(value):
    """What `EntryFormat.encode` stores for `value`: the integer itself when DynamoDB's
    numbers hold it, else its pickle. Outside any error handling: an unpicklable value is
    the caller's bug."""
    if type(value) is int and -LARGEST_NUMBER <= value <= LARGEST_NUMBER:
        return value
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


class EntryFormat:
    """Cache entries of one cache (its table, KEY_PREFIX, signing keys, value bounds and
    S3 spill) as items. `spill()` gives the `S3Spill`, or None when none is configured."""

    def __init__(self, table, key_prefix, signing_keys, compress_min_bytes, max_value_bytes,
                 spill):
        self.table = table
        self.key_prefix = key_prefix
        self.signing_keys = signing_keys  # SECRET_KEY, then its fallbacks
        self.compress_min_bytes = compress_min_bytes
        self.max_value_bytes = max_value_bytes
        self.spill = spill
        self.inline_bytes = (MAX_ITEM_BYTES - ITEM_OVERHEAD_BYTES -
                             len(key_prefix.encode()))

    # -- writing -------------------------------------------------------------------------
    def encode(self, name, payload, expires_ms):
        """The item (without `k`) for `payload` (from `pickled`) expiring at `expires_ms`
        (None: never). May write the value to S3; ValueTooLarge if it cannot be stored."""
        item = {PREFIX: self.key_prefix, **self.expiry(name, expires_ms)}
        if isinstance(payload, int):
            item[DESCRIPTION], item[NUMBER] = INTEGER, payload
        else:
            item.update(self._stored_bytes(name, payload))
        item[VALUE_SIGNATURE] = self._sign(name, "value", item[DESCRIPTION])
        return item

    def expiry(self, name, expires_ms):
        """`x` (left out for never) and its signature `sx`."""
        fields = {EXPIRY_SIGNATURE: self._sign(name, "expiry", expires_ms)}
        if expires_ms is not None:
            fields[EXPIRY] = seconds(expires_ms)
        return fields

    def _stored_bytes(self, name, payload):
        if len(payload) > self.max_value_bytes:
            raise ValueTooLarge(f"{len(payload)} bytes are more than the "
                                f"{self.max_value_bytes} this cache holds in one value")
        data, how = payload, ""
        if len(payload) >= self.compress_min_bytes:
            packed = zlib.compress(payload, 6)
            if len(packed) < len(payload):
                data, how = packed, "z"
        digest = hashlib.sha256(data).hexdigest()
        if len(data) <= self.inline_bytes:
            return {DESCRIPTION: f"{BYTES}{how}:{digest}", BYTES: data}
        spill = self.spill()
        if spill is None:
            raise ValueTooLarge(f"{len(data)} bytes do not fit in one item "
                                f"({self.inline_bytes} at most) and no S3 spill is configured")
        return {DESCRIPTION: f"{SPILLED}{how}:{digest}", SPILLED: spill.write(name, data)}

    # -- reading -------------------------------------------------------------------------
    def signed(self, name, item):
        """Whether both of the item's signatures are this cache's (SECRET_KEY or a
        fallback)."""
        expiry, description = item.get(EXPIRY), item.get(DESCRIPTION)
        try:
            expires_ms = None if expiry is None else int(expiry.scaleb(3))
        except (AttributeError, ArithmeticError, ValueError):  # planted: not a number
            return False
        return (isinstance(description, str)
                and self._verified(item.get(EXPIRY_SIGNATURE), name, "expiry", expires_ms)
                and self._verified(item.get(VALUE_SIGNATURE), name, "value", description))

    def usable(self, name, item, now_ms):
        """Whether the item holds a live entry that this cache signed."""
        return live(item, now_ms) and self.signed(name, item)

    def load(self, name, item, now_ms):
        """The live value the item holds, or MISSING (absent, expired, tampered, corrupt).
        Unavailable if its value is in S3 and S3 cannot be read."""
        if not live(item, now_ms):
            return MISSING
        if not self.signed(name, item):
            logger.warning("cache entry has a bad signature, treated as a miss: table=%s "
                           "item=%s", self.table, name)
            return MISSING
        try:
            return self._value(name, item)
        except SimpleDBError:  # S3 unavailable: the caller's failure, not a corrupt entry
            raise
        except Exception as error:  # corrupt bytes, or a class that changed since pickling
            logger.warning("cache entry cannot be read, treated as a miss: table=%s item=%s "
                           "error=%s: %s", self.table, name, type(error).__name__, error)
            return MISSING

    def _value(self, name, item):
        description = item[DESCRIPTION]
        if description == INTEGER:
            number = item[NUMBER]
            if not isinstance(number, Decimal) or number != number.to_integral_value():
                raise ValueError(f"{number!r} is not an integer")
            return int(number)
        how, _, digest = description.partition(":")
        if how in (BYTES, BYTES + "z"):
            data = item[BYTES]
            if not isinstance(data, bytes):
                raise ValueError("the value is not binary")
        elif how in (SPILLED, SPILLED + "z"):
            spill = self.spill()
            if spill is None:
                raise ValueError("value spilled to S3, but no spill is configured")
            data = spill.read(item[SPILLED], self.max_value_bytes)
        else:
            raise ValueError(f"unknown value description {how!r}")
        if not constant_time_compare(hashlib.sha256(data).hexdigest(), digest):
            raise ValueError("the stored bytes do not match their signed digest")
        if how.endswith("z"):
            data = inflate(data, self.max_value_bytes)
        elif len(data) > self.max_value_bytes:
            raise ValueError(f"{len(data)} bytes, over {self.max_value_bytes}")
        return pickle.loads(data)

    # -- signatures ----------------------------------------------------------------------
    def _sign(self, name, what, field, secret=None):
        message = json.dumps([name, what, field], separators=(",", ":"))
        secret = self.signing_keys[0] if secret is None else secret
        return salted_hmac(SIGNING_SALT, message, secret=secret, algorithm="sha256").hexdigest()

    def _verified(self, signature, name, what, field):
        if not isinstance(signature, str):
            return False
        return any(constant_time_compare(signature, self._sign(name, what, field, secret))
                   for secret in self.signing_keys)
