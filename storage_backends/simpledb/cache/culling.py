"""Deleting cache entries in bulk: `clear()`, `delete_expired()` and culling to MAX_ENTRIES.

**Culling** (only when OPTIONS give MAX_ENTRIES or CULL_FREQUENCY; see options.py). SimpleDB
has no cheap exact count, so after a write the process asks DomainMetadata for the domain's
ItemCount only when it is due: on its first write, then once a tenth of MAX_ENTRIES writes
(at most CHECK_WRITES) have been made since the last check, or CHECK_SECONDS after it,
whichever comes first. The cadence is kept per process and domain (`culler_for`), not per
cache object: Django makes a cache object per thread, and under ASGI per request. The
domain can overshoot MAX_ENTRIES by what is written between checks, by every process (and
by DomainMetadata's lag on AWS). When the count is over MAX_ENTRIES:

- CULL_FREQUENCY 0: `clear()`, as Django documents (this cache's KEY_PREFIX);
- otherwise the domain's expired entries go first (as `purge_cache` deletes them), then, if
  still over, the remaining count / CULL_FREQUENCY entries that expire soonest (a Select
  ordered by the expiry; entries without a timeout go last).

Like DatabaseCache's table, the count and the culling cover the whole domain (every
KEY_PREFIX that shares it). Cost: 1 DomainMetadata per check; a cull adds its Selects (one
per 2,500 entries) and one BatchDeleteAttributes per 25 entries deleted.
"""

import threading

from ..client import MAX_BATCH_ITEMS, SPILLED, quote_name, quote_value
from .records import EXPIRES

#: Items per page of the Selects that find entries to delete (SimpleDB's maximum).
SELECT_PAGE = 2500
#: A cache object checks the domain's size at most this often when writes are few...
CHECK_SECONDS = 5.0
#: ...and at the latest after this many writes (fewer when MAX_ENTRIES is small).
CHECK_WRITES = 100


class Sweeper:
    """Deletes the entries a Select finds, 25 to a BatchDeleteAttributes, with their
    spilled objects. `records()` gives the SimpleDB client; `discard_spilled(names)`
    removes S3 objects."""

    def __init__(self, domain, records, discard_spilled):
        self.domain = domain
        self.records = records
        self.discard_spilled = discard_spilled

    def delete_where(self, condition, order_by=None, most=None):
        """Delete the entries matching `condition` (at most `most`, first in `order_by`
        order), 25 at a time as the Select's pages come; how many. An entry rewritten
        between the Select and its batch delete may go too: a miss, never a wrong value."""
        records = self.records()
        expression = (f"select {quote_name(SPILLED)} from {quote_name(self.domain)} "
                      f"where {condition}")
        if order_by:
            expression += f" order by {quote_name(order_by)} asc"
        page = SELECT_PAGE if most is None else max(1, min(most, SELECT_PAGE))
        deleted, batch = 0, []
        for name, attributes in records.select(f"{expression} limit {page}", consistent=True):
            batch.append((name, attributes.get(SPILLED)))
            if len(batch) == MAX_BATCH_ITEMS or deleted + len(batch) == most:
                deleted += self._delete(records, batch)
                batch = []
                if deleted == most:
                    break
        if batch:
            deleted += self._delete(records, batch)
        return deleted

    def _delete(self, records, batch):
        records.batch_delete([name for name, _ in batch])
        self.discard_spilled([name for name, spilled in batch if spilled])
        return len(batch)

    def delete_expired(self, now_ms):
        return self.delete_where(f"{quote_name(EXPIRES)} < {quote_value(f'{now_ms:013d}')}")

    def delete_soonest(self, count, now_ms):
        """Delete the `count` live entries that expire soonest."""
        return self.delete_where(f"{quote_name(EXPIRES)} >= {quote_value(f'{now_ms:013d}')}",
                                 order_by=EXPIRES, most=count)


#: The process's Cullers, by (domain, MAX_ENTRIES, CULL_FREQUENCY): see culler_for.
_cullers = {}
_cullers_lock = threading.Lock()


def culler_for(domain, max_entries, frequency):
    """The process's Culler of `domain` with these options (made on first use), so that
    every cache object on the domain shares one cadence of checks."""
    with _cullers_lock:
        key = (domain, max_entries, frequency)
        if key not in _cullers:
            _cullers[key] = Culler(max_entries, frequency)
        return _cullers[key]


class Culler:
    """Keeps a domain near MAX_ENTRIES (see the module docstring)."""

    def __init__(self, max_entries, frequency):
        self.max_entries = max_entries
        self.frequency = frequency
        self.check_writes = max(1, min(CHECK_WRITES, max_entries // 10))
        self._lock = threading.Lock()  # shared by every thread of the process
        self._checked_at = None
        self._writes = 0

    def due(self, now, writes=1):
        """Count `writes` just made; whether the domain's size should be checked at `now`
        (epoch seconds): on the first write, after check_writes writes, or CHECK_SECONDS
        after the last check."""
        with self._lock:
            self._writes += writes
            if (self._checked_at is not None and self._writes < self.check_writes
                    and abs(now - self._checked_at) < CHECK_SECONDS):
                return False
            self._checked_at, self._writes = now, 0
            return True

    def cull(self, records, sweeper, clear, now_ms):
        """Check the domain's size and cull it if over MAX_ENTRIES; how many went."""
        count = records.item_count()
        if count <= self.max_entries:
            return 0
        if self.frequency == 0:
            clear()
            return count
        deleted = sweeper.delete_expired(now_ms)
        remaining = count - deleted
        if remaining > self.max_entries:
            deleted += sweeper.delete_soonest(remaining // self.frequency, now_ms)
        return deleted
