"""One page of a Select: items (or a count) within the page's item, size and time limits.

The caller runs these with SQLite's progress handler set to interrupt any statement past
the page's hard stop; a page then answers with what it has. A page past its (soft)
deadline stops taking items, but only once it holds at least one, so paging always moves.
"""

import sqlite3
import time
from dataclasses import dataclass

#: Items a page holds when the expression has no `limit`.
DEFAULT_LIMIT = 100
#: Rows a count(*) page counts per statement between deadline checks.
COUNT_CHUNK = 10_000


@dataclass
class Page:
    items: list  # [(item name, [(name, value), ...])]
    finished: bool
    after: object = None  # where the next page starts, unless finished


def interrupted(error):
    """Whether a SQLite error is the progress handler stopping a statement."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT


def count_page(connection, sql, query, after, deadline):
    """The `Domain`/`Count` item counting matches after `after`, up to `limit` or time."""
    remaining = query.limit
    counted = 0
    while remaining is None or remaining > 0:
        chunk = COUNT_CHUNK if remaining is None else min(COUNT_CHUNK, remaining)
        try:
            count, last = connection.execute(*sql.count(after, chunk)).fetchone()
        except sqlite3.OperationalError as error:
            if not interrupted(error):
                raise
            break  # out of time: answer the partial count
        counted += count
        if remaining is not None:
            remaining -= count
        if count < chunk:
            return Page(_count_item(counted), finished=True)
        after = [None, last]
        if time.monotonic() > deadline:
            break
    try:
        more = connection.execute(*sql.count(after, 1)).fetchone()[0]
    except sqlite3.OperationalError as error:
        if not interrupted(error):
            raise
        more = True  # out of time to look: let the client ask
    return Page(_count_item(counted), finished=not more, after=after)


def _count_item(counted):
    return [("Domain", [("Count", str(counted))])]


def items_page(connection, sql, query, after, deadline, max_bytes, read_pairs):
    """Matching items after `after`, with their pairs (`read_pairs(name)`) if output wants
    them, until `limit`, `max_bytes` of names and values, or the deadline."""
    limit = query.limit or DEFAULT_LIMIT
    with_pairs = query.output in ("*", "attributes")
    wanted = set(query.attributes) if query.output == "attributes" else None
    items, size, last = [], 0, after
    try:
        for name, sort_key in connection.execute(*sql.page(after, limit + 1)):
            if len(items) == limit or (items and time.monotonic() > deadline):
                return Page(items, finished=False, after=last)
            pairs = []
            if with_pairs:
                pairs = read_pairs(name)
                if wanted is not None:
                    pairs = [pair for pair in pairs if pair[0] in wanted]
            size += len(name.encode()) + sum(len(n.encode()) + len(v.encode()) for n, v in pairs)
            if items and size > max_bytes:
                return Page(items, finished=False, after=last)
            items.append((name, pairs))
            last = [sort_key, name]
    except sqlite3.OperationalError as error:
        if not interrupted(error):
            raise
        return Page(items, finished=False, after=last)
    return Page(items, finished=True)
