"""SimpleDB's state and semantics over the SQLite storage.

`SimpleDB` implements the ten actions on already-parsed arguments: domain and item rules,
limits, conditional writes, batches and Select (its pages are assembled in
`select/pages.py`, its NextTokens made in `tokens.py`). It knows nothing of HTTP or XML
(`responses.py` does that) and nothing of fault injection (`faults.py`); a caller that wants
an eventually consistent read passes `stale=True`.
"""

import json
import re
import sqlite3
import time
from dataclasses import dataclass

from . import exceptions
from .select import pages
from .select.parser import parse
from .select.sql import compile_select
from .storage import Database
from .tokens import Tokens

#: Limits from the SimpleDB Developer Guide (SDBLimits).
MAX_BYTES = 1024  # item name, attribute name, attribute value
MAX_PAIRS_PER_ITEM = 256
MAX_PAIRS_PER_CALL = 256
MAX_ITEMS_PER_BATCH = 25
MAX_BATCH_BYTES = 1024 * 1024  # item names, attribute names and values of one batch
MAX_LIST_DOMAINS = 100
DOMAIN_NAME = re.compile(r"[a-zA-Z0-9_.\-]{3,255}")


@dataclass(frozen=True)
class Limits:
    """Account- and domain-level limits; the defaults are AWS's, tests lower them."""

    max_domains: int = 250
    max_domain_bytes: int = 10 * 1024**3
    max_domain_attributes: int = 1_000_000_000
    #: A Select page stops when its items' data would pass this size...
    select_max_bytes: int = 1024 * 1024
    #: ...or when it has run this long, answering with what it has and a NextToken.
    select_seconds: float = 5.0
    #: A page always takes at least one item, unless it is still running this much later:
    #: then its SQL is interrupted and it answers with what it has (perhaps nothing).
    select_grace_seconds: float = 1.0


@dataclass(frozen=True)
class Expected:
    """The one condition of a conditional PutAttributes or DeleteAttributes."""

    name: str
    value: str | None
    exists: bool


@dataclass(frozen=True)
class Domain:
    id: int
    name: str
    pair_count: int
    byte_count: int


@dataclass
class SelectPage:
    items: list  # [(item name, [(name, value), ...])]
    next_token: str | None


def utf8_len(text):
    return len(text.encode("utf-8"))


def _printable(text):
    return "".join(c if c.isprintable() else "?" for c in text)


def check_length(parameter, value):
    if utf8_len(value) > MAX_BYTES:
        raise exceptions.InvalidParameterValue(
            f"Value ({_printable(value)}) for parameter {parameter} is invalid. "
            f"Value exceeds maximum length of {MAX_BYTES}."
        )


def check_domain_name(name):
    if not DOMAIN_NAME.fullmatch(name):
        raise exceptions.InvalidParameterValue(
            f"Value ({_printable(name)}) for parameter DomainName is invalid."
        )


def check_item_name(name):
    if name == "":
        raise exceptions.InvalidParameterValue("The empty string is an illegal item name")
    check_length("ItemName", name)


def check_attribute(name, value=None):
    if name == "":
        raise exceptions.InvalidParameterValue("The empty string is an illegal attribute name")
    check_length("Name", name)
    if value is not None:
        check_length("Value", value)


def pair_bytes(pairs):
    return sum(utf8_len(name) + utf8_len(value) for name, value in pairs)


class SimpleDB:
    """One emulated SimpleDB account: its domains and their items, stored in SQLite."""

    def __init__(self, data_dir=None, limits=Limits()):
        self.db = Database(data_dir)
        self.limits = limits
        self.tokens = Tokens(self.db.token_secret)

    def close(self):
        self.db.close()

    # -- domains -------------------------------------------------------------------------
    def _domain(self, connection, name):
        row = connection.execute(
            "SELECT id, name, pair_count, byte_count FROM domains WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise exceptions.NoSuchDomain()
        return Domain(*row)

    def create_domain(self, name):
        check_domain_name(name)
        with self.db.write() as connection:
            exists = connection.execute(
                "SELECT 1 FROM domains WHERE name = ?", (name,)
            ).fetchone()
            if exists:
                return
            (count,) = connection.execute("SELECT count(*) FROM domains").fetchone()
            if count >= self.limits.max_domains:
                raise exceptions.NumberDomainsExceeded(
                    f"Number of domains limit exceeded: at most {self.limits.max_domains}."
                )
            connection.execute(
                "INSERT INTO domains (name, created_at) VALUES (?, ?)", (name, time.time())
            )

    def delete_domain(self, name):
        check_domain_name(name)
        with self.db.write() as connection:
            row = connection.execute("SELECT id FROM domains WHERE name = ?", (name,)).fetchone()
            if row is None:
                return
            for table in ("attrs", "items", "previous"):
                connection.execute(f"DELETE FROM {table} WHERE domain_id = ?", row)
            connection.execute("DELETE FROM domains WHERE id = ?", row)

    def list_domains(self, max_number=MAX_LIST_DOMAINS, next_token=None):
        """Domain names in order, a page at a time; returns (names, next token)."""
        after = self.tokens.decode(next_token, "list-domains")[0] if next_token else ""
        with self.db.read() as connection:
            names = [row[0] for row in connection.execute(
                "SELECT name FROM domains WHERE name > ? ORDER BY name LIMIT ?",
                (after, max_number + 1),
            )]
        if len(names) > max_number:
            names = names[:max_number]
            return names, self.tokens.encode("list-domains", [names[-1]])
        return names, None

    def domain_metadata(self, name):
        with self.db.read() as connection:
            domain = self._domain(connection, name)
            item_count, item_bytes = connection.execute(
                "SELECT count(*), coalesce(sum(length(CAST(name AS BLOB))), 0) "
                "FROM items WHERE domain_id = ?", (domain.id,)
            ).fetchone()
            name_count, name_bytes = connection.execute(
                "SELECT count(*), coalesce(sum(length(CAST(name AS BLOB))), 0) "
                "FROM (SELECT DISTINCT name FROM attrs WHERE domain_id = ?)", (domain.id,)
            ).fetchone()
            value_count, value_bytes = connection.execute(
                "SELECT count(*), coalesce(sum(length(CAST(value AS BLOB))), 0) "
                "FROM attrs WHERE domain_id = ?", (domain.id,)
            ).fetchone()
        return {
            "ItemCount": item_count,
            "ItemNamesSizeBytes": item_bytes,
            "AttributeNameCount": name_count,
            "AttributeNamesSizeBytes": name_bytes,
            "AttributeValueCount": value_count,
            "AttributeValuesSizeBytes": value_bytes,
            "Timestamp": int(time.time()),
        }

    # -- items ---------------------------------------------------------------------------
    def _pairs(self, connection, domain_id, item, stale=False):
        if stale:
            row = connection.execute(
                "SELECT snapshot FROM previous WHERE domain_id = ? AND item = ?",
                (domain_id, item),
            ).fetchone()
            if row is not None:
                return [tuple(pair) for pair in json.loads(row[0])]
        return connection.execute(
            "SELECT name, value FROM attrs WHERE domain_id = ? AND item = ? ORDER BY name, value",
            (domain_id, item),
        ).fetchall()

    @staticmethod
    def _check(expected, pairs):
        if expected is None:
            return
        values = [value for name, value in pairs if name == expected.name]
        if not expected.exists:
            if values:
                raise exceptions.ConditionalCheckFailed(
                    f"Conditional check failed. Attribute ({expected.name}) value exists"
                )
            return
        if not values:
            raise exceptions.AttributeDoesNotExist(f"Attribute ({expected.name}) does not exist")
        if len(values) > 1:
            raise exceptions.MultiValuedAttribute(
                f"Attribute ({expected.name}) is multi-valued. Conditional check can only be "
                f"performed on a single-valued attribute"
            )
        if values[0] != expected.value:
            raise exceptions.ConditionalCheckFailed(
                f"Conditional check failed. Attribute ({expected.name}) value is ({values[0]}) "
                f"but was expected ({expected.value})"
            )

    def _store(self, connection, domain, item, old_pairs, new_pairs):
        """Write an item's new pairs, keeping its previous state and the domain's totals."""
        old, new = set(old_pairs), set(new_pairs)
        if old == new:
            return domain
        connection.execute(
            "INSERT OR REPLACE INTO previous (domain_id, item, snapshot) VALUES (?, ?, ?)",
            (domain.id, item, json.dumps(sorted(old))),
        )
        removed, added = old - new, new - old
        connection.executemany(
            "DELETE FROM attrs WHERE domain_id = ? AND item = ? AND name = ? AND value = ?",
            [(domain.id, item, name, value) for name, value in removed],
        )
        connection.executemany(
            "INSERT INTO attrs (domain_id, item, name, value) VALUES (?, ?, ?, ?)",
            [(domain.id, item, name, value) for name, value in added],
        )
        item_bytes = 0
        if old and not new:
            connection.execute(
                "DELETE FROM items WHERE domain_id = ? AND name = ?", (domain.id, item)
            )
            item_bytes = -utf8_len(item)
        elif new and not old:
            connection.execute(
                "INSERT INTO items (domain_id, name) VALUES (?, ?)", (domain.id, item)
            )
            item_bytes = utf8_len(item)
        pair_count = domain.pair_count + len(added) - len(removed)
        byte_count = domain.byte_count + item_bytes + pair_bytes(added) - pair_bytes(removed)
        if len(added) > len(removed) and pair_count > self.limits.max_domain_attributes:
            raise exceptions.NumberDomainAttributesExceeded(
                f"Too many attributes in the domain: at most {self.limits.max_domain_attributes}."
            )
        if byte_count > domain.byte_count and byte_count > self.limits.max_domain_bytes:
            raise exceptions.NumberDomainBytesExceeded(
                f"Too many bytes in the domain: at most {self.limits.max_domain_bytes}."
            )
        connection.execute(
            "UPDATE domains SET pair_count = ?, byte_count = ? WHERE id = ?",
            (pair_count, byte_count, domain.id),
        )
        return Domain(domain.id, domain.name, pair_count, byte_count)

    @staticmethod
    def _check_put(item, attributes):
        check_item_name(item)
        if not attributes:
            raise exceptions.MissingParameter(
                "No attributes for item " + _printable(item)
            )
        if len(attributes) > MAX_PAIRS_PER_CALL:
            raise exceptions.NumberSubmittedAttributesExceeded(
                f"Too many attributes in a single call: at most {MAX_PAIRS_PER_CALL}."
            )
        for name, value, _replace in attributes:
            check_attribute(name, value)

    def _put(self, connection, domain, item, attributes, expected=None):
        old = self._pairs(connection, domain.id, item)
        self._check(expected, old)
        replaced = {name for name, _value, replace in attributes if replace}
        new = [(name, value) for name, value in old if name not in replaced]
        new += [(name, value) for name, value, _replace in attributes]
        new = list(dict.fromkeys(new))
        if len(new) > MAX_PAIRS_PER_ITEM:
            raise exceptions.NumberItemAttributesExceeded(
                f"Too many attributes in this item: at most {MAX_PAIRS_PER_ITEM}, "
                f"item {_printable(item)} would have {len(new)}."
            )
        return self._store(connection, domain, item, old, new)

    def put_attributes(self, domain_name, item, attributes, expected=None):
        """Add (name, value, replace) pairs to an item, if `expected` holds."""
        self._check_put(item, attributes)
        with self.db.write() as connection:
            domain = self._domain(connection, domain_name)
            self._put(connection, domain, item, attributes, expected)

    def batch_put_attributes(self, domain_name, items):
        """Put several items' attributes in one all-or-nothing step: [(item, attributes)]."""
        self._check_batch(items)
        for item, attributes in items:
            self._check_put(item, attributes)
        with self.db.write() as connection:
            domain = self._domain(connection, domain_name)
            for item, attributes in items:
                domain = self._put(connection, domain, item, attributes)

    @staticmethod
    def _check_batch(items):
        if not items:
            raise exceptions.MissingParameter("No items in the batch request")
        if len(items) > MAX_ITEMS_PER_BATCH:
            raise exceptions.NumberSubmittedItemsExceeded()
        seen = set()
        for item, _attributes in items:
            if item in seen:
                raise exceptions.DuplicateItemName(
                    f"Item {_printable(item)} was specified more than once."
                )
            seen.add(item)
        size = sum(
            utf8_len(item) + sum(utf8_len(a[0]) + utf8_len(a[1] or "") for a in attributes)
            for item, attributes in items
        )
        if size > MAX_BATCH_BYTES:
            raise exceptions.InvalidParameterValue(
                f"The batch holds {size} bytes of names and values; at most {MAX_BATCH_BYTES} "
                f"are allowed in one request."
            )

    def get_attributes(self, domain_name, item, names=(), stale=False):
        """An item's pairs (only the named attributes if `names`); [] for a missing item."""
        check_item_name(item)
        with self.db.read() as connection:
            domain = self._domain(connection, domain_name)
            pairs = self._pairs(connection, domain.id, item, stale)
        if names:
            wanted = set(names)
            pairs = [pair for pair in pairs if pair[0] in wanted]
        return pairs

    def _delete(self, connection, domain, item, attributes, expected=None):
        old = self._pairs(connection, domain.id, item)
        self._check(expected, old)
        if not attributes:
            new = []
        else:
            whole = {name for name, value in attributes if value is None}
            pairs = {(name, value) for name, value in attributes if value is not None}
            new = [p for p in old if p[0] not in whole and p not in pairs]
        return self._store(connection, domain, item, old, new)

    @staticmethod
    def _check_delete(item, attributes):
        check_item_name(item)
        if len(attributes) > MAX_PAIRS_PER_CALL:
            raise exceptions.NumberSubmittedAttributesExceeded(
                f"Too many attributes in a single call: at most {MAX_PAIRS_PER_CALL}."
            )
        for name, value in attributes:
            check_attribute(name, value)

    def delete_attributes(self, domain_name, item, attributes=(), expected=None):
        """Delete (name, value-or-None) pairs, or the whole item if none, if `expected` holds."""
        self._check_delete(item, attributes)
        with self.db.write() as connection:
            domain = self._domain(connection, domain_name)
            self._delete(connection, domain, item, attributes, expected)

    def batch_delete_attributes(self, domain_name, items):
        """Delete from several items in one all-or-nothing step: [(item, attributes)]."""
        self._check_batch(items)
        for item, attributes in items:
            self._check_delete(item, attributes)
        with self.db.write() as connection:
            domain = self._domain(connection, domain_name)
            for item, attributes in items:
                domain = self._delete(connection, domain, item, attributes)

    # -- select --------------------------------------------------------------------------
    def select(self, expression, next_token=None, stale=False):
        """Run one page of a Select expression; `next_token` continues an earlier page.

        The page's time limit covers everything from here: parsing, translation and SQL.
        """
        deadline = time.monotonic() + self.limits.select_seconds
        hard_stop = deadline + self.limits.select_grace_seconds
        query = parse(expression)
        with self.db.read() as connection:
            domain = self._domain(connection, query.domain)
            sql = compile_select(query, domain.id, stale)
            purpose = f"select:{domain.id}:{sql.digest}"
            after = self.tokens.decode(next_token, purpose) if next_token else None
            if time.monotonic() > hard_stop:
                # Out of time before any SQL ran: as AWS documents for a query that runs
                # too long, an empty page with a NextToken to carry on from.
                page = pages.Page([], finished=False, after=after)
            else:
                page = self._page(connection, sql, query, after, deadline, hard_stop,
                                  lambda name: self._pairs(connection, domain.id, name, stale))
        token = None if page.finished else self.tokens.encode(purpose, page.after)
        return SelectPage(page.items, token)

    def _page(self, connection, sql, query, after, deadline, hard_stop, read_pairs):
        connection.set_progress_handler(lambda: time.monotonic() > hard_stop, 10_000)
        try:
            if query.output == "count(*)":
                return pages.count_page(connection, sql, query, after, deadline)
            return pages.items_page(connection, sql, query, after, deadline,
                                    self.limits.select_max_bytes, read_pairs)
        except sqlite3.OperationalError as error:
            if not pages.interrupted(error):
                raise
            # A statement passed the hard stop before yielding a row.
            return pages.Page([], finished=False, after=after)
        finally:
            connection.set_progress_handler(None, 0)
