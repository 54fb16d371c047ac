"""Django sessions in Amazon DynamoDB: SESSION_ENGINE = "storage_backends.dynamodb.sessions".

One item per session, in the table named by settings.DYNAMODB_SESSIONS_TABLE (created by
`manage.py provision_aws`: partition key `k`, TTL on `x`). Its attributes:

- `k`, the session key;
- `d`, the session data as `SessionBase.encode()` makes it (signed with SECRET_KEY,
  compressed, base64: ASCII text, so a string, which goes over the wire as it is where
  binary would be base64 again). An item holds at most 400 KB, so a session whose encoding
  is over `MAX_ENCODED_BYTES` is `ValueTooLarge` on save, before any call;
- `x`, the expiry in epoch seconds (a number): the table's TTL attribute, and what
  `clear_expired()` scans for.

Calls: `load` 1 (GetItem, always ConsistentRead, so a log-in or log-out on one node is seen
by the next request on any other); `save` 1 PutItem; `create` 1 when the key is free (the
put's condition `attribute_not_exists` is the collision check, no `exists` first); `exists`
1; `delete` 1; `cycle_key` 1 put + 1 delete. A request that does not modify its session
writes nothing. An update requires `attribute_exists`: a session deleted meanwhile, by a
log-out in another request, is `UpdateError` (SessionMiddleware answers 400), never brought
back. `clear_expired` (`manage.py clearsessions`): the Scan's pages, and one BatchWriteItem
per 25 expired items found.

An item whose expiry has passed reads as no session, whether or not TTL or `clearsessions`
has removed it yet (TTL deletes up to days late; moto never does).

Errors from DynamoDB propagate, `load` included: `Unavailable` means the site shows its 503
page, never a silent log-out. Only data that cannot be read back (a missing or mistyped
attribute, an encoding longer than `MAX_ENCODED_BYTES`) is no session, and logged; data
whose signature does not verify is an empty session (Django's `decode`, which logs it to
django.security.SuspiciousSession). Nothing is decompressed before the signature is
checked: Django's signing inflates only what verifies, that is what this site wrote.

Async methods are SessionBase's defaults, which run these in a thread.
"""

import itertools
import logging
import math
import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .. import aws
from ..session_keys import ConditionalCreateSessionStore, fingerprint
from .client import BATCH_WRITE, EXPIRY, KEY, MAX_ITEM_BYTES, TABLE_NAME, DynamoDBTable
from .errors import ConditionFailed, ValueTooLarge

log = logging.getLogger(__name__)

#: The attribute holding the encoded session.
DATA = "d"
#: The longest encoded session saved, and so the longest a load accepts. Django's encoding
#: is ASCII, so characters are bytes. An item's size counts its attribute names and values:
#: 8 KiB are left for the key (at most session_keys.MAX_KEY_LENGTH), the expiry, the names, and
#: emulators that count a little more strictly (moto stops at 405,000 bytes).
MAX_ENCODED_BYTES = MAX_ITEM_BYTES - 8 * 1024

_NAMES = {"#k": KEY}


def sessions_table():
    """settings.DYNAMODB_SESSIONS_TABLE, checked: ImproperlyConfigured if it cannot be one."""
    name = getattr(settings, "DYNAMODB_SESSIONS_TABLE", None)
    if not isinstance(name, str) or not TABLE_NAME.fullmatch(name):
        raise ImproperlyConfigured(
            f"DYNAMODB_SESSIONS_TABLE must name a DynamoDB table (3 to 255 of A-Z, a-z, "
            f"0-9, '_', '-', '.'), not {name!r}."
        )
    return name


def _unexpired(item, now):
    """Whether the item's expiry is a number after `now` (a session always has one)."""
    expiry = item.get(EXPIRY)
    return isinstance(expiry, Decimal) and expiry > now


class SessionStore(ConditionalCreateSessionStore):
    """Sessions as DynamoDB items; see the module docstring."""

    def __init__(self, session_key=None):
        self._table = DynamoDBTable(sessions_table(), aws.client("dynamodb"))
        super().__init__(session_key)

    @property
    def store_name(self):
        return f"DynamoDB table {self._table.table}"

    # -- reading --------------------------------------------------------------------------
    def _read(self, session_key):
        return self._table.get(session_key, consistent=True)

    def _readable_data(self, item):
        """The encoded session a live item holds, or None (missing, expired, corrupt)."""
        if item is None:
            return None
        data, expiry = item.get(DATA), item.get(EXPIRY)
        if not isinstance(data, str) or not isinstance(expiry, Decimal):
            problem = f"d is {type(data).__name__}, x is {type(expiry).__name__}"
        elif len(data) > MAX_ENCODED_BYTES:
            problem = f"d holds {len(data)} characters, over {MAX_ENCODED_BYTES}"
        else:
            return data if expiry > time.time() else None
        log.warning("session unreadable: key_sha256=%s error=%s",
                    fingerprint(self.session_key), problem)
        return None

    def exists(self, session_key):
        if not self._validate_session_key(session_key):
            return False
        item = self._table.get(session_key, consistent=True, attributes=[EXPIRY])
        return item is not None and _unexpired(item, time.time())

    # -- writing --------------------------------------------------------------------------
    def _write(self, encoded, expiry, must_create):
        if len(encoded) > MAX_ENCODED_BYTES:
            raise ValueTooLarge(
                f"session too large for one DynamoDB item: its encoding is {len(encoded)} "
                f"bytes, more than the {MAX_ENCODED_BYTES} an item holds"
            )
        condition = "attribute_not_exists(#k)" if must_create else "attribute_exists(#k)"
        try:
            self._table.put(self.session_key, {DATA: encoded, EXPIRY: expiry},
                            condition=condition, names=_NAMES)
        except ConditionFailed:
            return False
        return True

    def _remove(self, session_key):
        self._table.delete(session_key)

    @classmethod
    def clear_expired(cls):
        """Delete every item whose expiry has passed (`manage.py clearsessions`).

        With TTL enabled on `x` (as `provision_aws` does), DynamoDB deletes expired items
        itself, free of write units, within days; this is for tables without TTL, and for
        those who want them gone now. It costs a Scan of the whole table: 1 read unit per
        4 KB of items read (consistent; the filter and projection do not reduce it), then
        1 write unit per expired item.

        A consistent Scan, and unconditional batch deletes: a session that a request
        loaded just before it expired and saves just after may be deleted all the same,
        which is no worse than its having expired.
        """
        table = DynamoDBTable(sessions_table(), aws.client("dynamodb"))
        expired = (item[KEY] for item in table.scan(
            condition="#x <= :now", names={"#x": EXPIRY},
            values={":now": math.floor(time.time())}, attributes=[KEY], consistent=True))
        count = 0
        # Deleted as they are found, so memory stays bounded whatever the table holds: a
        # Scan resumes after its last key whether or not that item still exists.
        for keys in itertools.batched(expired, BATCH_WRITE):
            table.delete_many(keys)
            count += len(keys)
        log.info("expired sessions deleted: table=%s count=%s", table.table, count)
