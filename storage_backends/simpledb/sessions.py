"""Django sessions in Amazon SimpleDB: SESSION_ENGINE = "storage_backends.simpledb.sessions".

One item per session, in the domain named by settings.SIMPLEDB_SESSIONS_DOMAIN (created by
`manage.py provision_aws`), its name the session key. Its attributes:

- the session data as `SessionBase.encode()` makes it (signed with SECRET_KEY, compressed),
  stored through the shared `ValueCodec`: split across numbered attributes, so a session may
  grow to `CAPACITY` bytes (after compression) and `MAX_ENCODED_BYTES` before it; a bigger
  one is `ValueTooLarge` on save;
- `x`, the expiry: epoch seconds as a fixed-width, zero-padded integer, so that Select's
  string comparison orders it and `clear_expired()` can find what has expired;
- `s` = "1", the marker conditional writes test: a create requires it absent (a taken key
  is `CreateError`), an update requires it present (a session deleted meanwhile, by a
  log-out in another request, is `UpdateError`, which SessionMiddleware answers with 400).

Calls: `load` 1 (GetAttributes, always ConsistentRead, so a log-in or log-out on one node is
seen by the next request on any other); `save` 1 PutAttributes whatever the size; `create`
1 when the key is free (the conditional put is the collision check, no `exists` first);
`exists` 1; `delete` 1; `cycle_key` 1 put + 1 delete. A request that does not modify its
session writes nothing. `clear_expired` (`manage.py clearsessions`): the Select's pages, then
one BatchDeleteAttributes per 25 expired items.

An item whose expiry has passed reads as no session, whether or not `clearsessions` has
removed it yet. A shorter value leaves the longer one's last chunks in the item; the codec's
count keeps them from being read, and the item's attribute names stay bounded.

Errors from SimpleDB propagate, `load` included: `Unavailable` means the site shows its 503
page, never a silent log-out. Only data that cannot be read back (corrupt chunks, a bad
signature, a value that would decompress past `MAX_ENCODED_BYTES`: decompression stops
there, so a planted zlib bomb costs that much memory at most) is treated as no session,
and logged.

Async methods are SessionBase's defaults, which run these in a thread.
"""

import logging
import math
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .. import aws
from ..session_keys import ConditionalCreateSessionStore, fingerprint
from .client import (
    DOMAIN_NAME,
    Absent,
    ConditionFailed,
    Present,
    SimpleDBClient,
    ValueCodec,
    ValueTooLarge,
    quote_name,
    quote_value,
)

log = logging.getLogger(__name__)

#: The session's own attributes, besides the codec's.
EXPIRY = "x"
PRESENT = "s"
#: Attributes of each item kept from the codec: `x`, `s`, and two spare for later formats.
RESERVED_ATTRIBUTES = 4
#: The largest session (encoded, after the codec's compression) one item holds.
CAPACITY = ValueCodec(reserved=RESERVED_ATTRIBUTES).capacity
#: The longest encoded session saved, and so the most a load ever decompresses (an item is
#: decompressed before Django checks the signature inside it). Django's encoding is already
#: compressed and base64, which the codec shrinks by about a quarter at best, so a session
#: that fits CAPACITY is well under twice it; a longer one is ValueTooLarge on save.
MAX_ENCODED_BYTES = 2 * CAPACITY
#: Expiry digits: epoch seconds up to the year 33658, so string order is number order.
EXPIRY_DIGITS = 12
#: Items a Select page returns (SimpleDB's maximum).
SELECT_PAGE = 2500



def sessions_domain():
    """settings.SIMPLEDB_SESSIONS_DOMAIN, checked: ImproperlyConfigured if it cannot be one."""
    name = getattr(settings, "SIMPLEDB_SESSIONS_DOMAIN", None)
    if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name):
        raise ImproperlyConfigured(
            f"SIMPLEDB_SESSIONS_DOMAIN must name a SimpleDB domain (3 to 255 of A-Z, a-z, "
            f"0-9, '_', '-', '.'), not {name!r}."
        )
    return name


def expiry_value(seconds):
    """Epoch seconds as the fixed-width string stored in `x` (clamped to what fits)."""
    return f"{min(max(int(seconds), 0), 10**EXPIRY_DIGITS - 1):0{EXPIRY_DIGITS}d}"


class SessionStore(ConditionalCreateSessionStore):
    """Sessions as SimpleDB items; see the module docstring."""

    def __init__(self, session_key=None):
        self._records = SimpleDBClient(sessions_domain(), aws.client("sdb"))
        self._codec = ValueCodec(reserved=RESERVED_ATTRIBUTES,
                                 max_value_bytes=MAX_ENCODED_BYTES)
        super().__init__(session_key)

    @property
    def store_name(self):
        return f"SimpleDB domain {self._records.domain}"

    # -- reading --------------------------------------------------------------------------
    def _read(self, session_key):
        return self._records.get(session_key, consistent=True)

    def _readable_data(self, attributes):
        """The encoded session a live item holds, or None (missing, expired, corrupt)."""
        if attributes.get(PRESENT) != "1":
            return None
        try:
            if int(attributes[EXPIRY]) <= time.time():
                return None
            return self._codec.decode(attributes).decode("utf-8")
        except (KeyError, ValueError) as error:  # UnicodeDecodeError is a ValueError
            log.warning("session unreadable: key_sha256=%s error=%s",
                        fingerprint(self.session_key), error)
            return None

    def exists(self, session_key):
        if not self._validate_session_key(session_key):
            return False
        attributes = self._records.get(session_key, [PRESENT, EXPIRY], consistent=True)
        try:
            return attributes.get(PRESENT) == "1" and int(attributes[EXPIRY]) > time.time()
        except (KeyError, ValueError):
            return False

    # -- writing --------------------------------------------------------------------------
    def _write(self, encoded, expiry, must_create):
        try:
            attributes = self._codec.encode(self.session_key, encoded.encode("utf-8"))
        except ValueTooLarge as error:
            raise ValueTooLarge(f"session too large for one SimpleDB item: {error}") from error
        attributes[EXPIRY] = expiry_value(expiry)
        attributes[PRESENT] = "1"
        expect = Absent(PRESENT) if must_create else Present(PRESENT, "1")
        try:
            self._records.put(self.session_key, attributes, expect=expect)
        except ConditionFailed:
            return False
        return True

    def _remove(self, session_key):
        self._records.delete(session_key)

    @classmethod
    def clear_expired(cls):
        """Delete every item whose expiry has passed (`manage.py clearsessions`).

        A consistent Select, then unconditional batch deletes: a session that a request
        loaded just before it expired and saves just after may be deleted all the same,
        which is no worse than its having expired.
        """
        domain = sessions_domain()
        records = SimpleDBClient(domain, aws.client("sdb"))
        expression = (
            f"select itemName() from {quote_name(domain)} "
            f"where {quote_name(EXPIRY)} <= {quote_value(expiry_value(math.floor(time.time())))} "
            f"limit {SELECT_PAGE}"
        )
        # Names first, deletes after: deleting under a Select's NextToken could skip items.
        expired = [name for name, _ in records.select(expression, consistent=True)]
        records.batch_delete(expired)
        log.info("expired sessions deleted: domain=%s count=%s", domain, len(expired))
