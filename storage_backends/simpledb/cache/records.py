"""How a cache entry is laid out in a SimpleDB record, signed and read back.

Each cache key is one record, named by the SHA-256 of the key Django makes (KEY_PREFIX,
VERSION, KEY_FUNCTION), so any key of any length or script works. The value is pickled, as
Django's own backends do, and laid out by the shared `ValueCodec` (compressed when that
helps, split over ≤ 1,024-byte attributes, spilled to S3 when configured and the record
cannot hold it). Beside it the record holds:

- `s` = "1": a constant marker, so that delete can be conditional on the record existing.
- `x`: when the entry expires, as 13-digit, zero-padded epoch milliseconds ("9" * 13 for
  never), so a Select can compare and order it as text.
- `p`, `ver`: the cache's KEY_PREFIX and the version the key was made with (`clear()`
  selects on `p`).
- `g`: a random generation, new on every write: the compare-and-swap token of every
  read-modify-write.
- `vd`, `sig`: the SHA-256 of the pickled value, and an HMAC-SHA256 (keyed from SECRET_KEY
  by `salted_hmac`) over the record name, `x`, `vd` and the value's stored attributes. The
  signature is checked before anything is decompressed or unpickled; a record whose
  signature does not verify, or whose value does not match `vd` (a spilled object changed
  in S3), is a miss and is logged.
"""

import hashlib
import json
import logging
import pickle
import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

from ..client import Absent, Present, ValueCodec

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
LATEST_EXPIRY_MS = int(FOREVER) - 1

#: Salt of the signing key (with SECRET_KEY, through salted_hmac). Unchanged since the
#: first release, so that stored entries stay readable.
SIGNING_SALT = "storage_backends.simpledb.cache.SimpleDBCache"

#: What `load` returns for an absent, expired, tampered or corrupt entry.
MISSING = object()


def expiry_text(expires_ms):
    """`x` for an entry expiring at `expires_ms` (epoch milliseconds)."""
    return f"{min(expires_ms, LATEST_EXPIRY_MS):013d}"


def live(attributes, now_ms):
    """Whether a record holds an entry that has not expired (signature not checked)."""
    expires = attributes.get(EXPIRES, "")
    return expires.isdigit() and attributes.get(MARKER) == "1" and int(expires) > now_ms


def as_seen(current):
    """The write condition that holds while the record is still as `current` shows it
    (every write of ours makes a new generation); None if no condition can say so because
    the generation holds several values (a hand-made record: see `stale_generations`)."""
    if GENERATION in current.multi_valued:
        return None
    if GENERATION in current:
        return Present(GENERATION, current[GENERATION])
    return Absent(GENERATION)


def stale_generations(current):
    """The (name, value) pairs of a multi-valued generation: deleting exactly these leaves
    any generation another writer has put since (a write replaces all of them)."""
    return [(GENERATION, value) for value in current.multi_valued.get(GENERATION, [])]


class RecordFormat:
    """Cache entries of one cache (its KEY_PREFIX, signing keys and value codec) as records."""

    def __init__(self, domain, key_prefix, signing_keys, codec: ValueCodec):
        self.domain = domain
        self.key_prefix = key_prefix
        self.signing_keys = signing_keys  # SECRET_KEY, then its fallbacks
        self.codec = codec

    def encode(self, name, payload, expires, version):
        """The record's attributes for a pickled value (may write to S3)."""
        attributes = self.codec.encode(name, payload)
        attributes.update({
            MARKER: "1", EXPIRES: expires, PREFIX: self.key_prefix, VERSION: str(version),
            GENERATION: secrets.token_hex(8), DIGEST: hashlib.sha256(payload).hexdigest(),
        })
        attributes[SIGNATURE] = self.signature(name, attributes, self.signing_keys[0])
        return attributes

    def retimed(self, name, current, expires):
        """The attributes that give the record `current` a new expiry (re-signed)."""
        changed = {EXPIRES: expires, GENERATION: secrets.token_hex(8)}
        changed[SIGNATURE] = self.signature(name, {**current, **changed}, self.signing_keys[0])
        return changed

    @staticmethod
    def signature(name, attributes, secret):
        fields = [name, attributes[EXPIRES], attributes[DIGEST],
                  *ValueCodec.stored_fields(attributes)]
        message = json.dumps(fields, separators=(",", ":"))
        return salted_hmac(SIGNING_SALT, message, secret=secret, algorithm="sha256").hexdigest()

    def verified(self, name, attributes):
        """Whether the record's signature is ours (current SECRET_KEY or a fallback)."""
        try:
            return any(
                constant_time_compare(attributes[SIGNATURE],
                                      self.signature(name, attributes, secret))
                for secret in self.signing_keys
            )
        except (KeyError, ValueError):
            return False

    def usable(self, name, attributes, now_ms):
        """Whether the record holds a live entry that this cache signed."""
        return live(attributes, now_ms) and self.verified(name, attributes)

    def load(self, name, attributes, now_ms):
        """The live value a record holds, or MISSING (absent, expired, tampered, corrupt)."""
        if not live(attributes, now_ms):
            return MISSING
        if not self.verified(name, attributes):
            logger.warning("cache entry has a bad signature, treated as a miss: domain=%s "
                           "record=%s", self.domain, name)
            return MISSING
        try:
            payload = self.codec.decode(attributes)
        except ValueError as error:
            logger.warning("cache entry cannot be decoded, treated as a miss: domain=%s "
                           "record=%s error=%s", self.domain, name, error)
            return MISSING
        if hashlib.sha256(payload).hexdigest() != attributes[DIGEST]:
            logger.warning("cache entry's value does not match its signed digest, treated as a "
                           "miss: domain=%s record=%s", self.domain, name)
            return MISSING
        try:
            return pickle.loads(payload)
        except Exception as error:  # a class that moved or changed since it was pickled
            logger.warning("cache entry cannot be unpickled, treated as a miss: domain=%s "
                           "record=%s error=%s: %s", self.domain, name,
                           type(error).__name__, error)
            return MISSING
