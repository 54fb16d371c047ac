"""Read-modify-writes of one cache record: add over an existing record, incr/decr, touch.

SimpleDB has one condition per write, compared for equality. Every write of ours puts a new
random generation `g`, so "the record is still as I read it" is a condition on `g`
(`records.as_seen`). A read-modify-write reads the record consistently, decides, and
writes on that condition; when another writer got there first it reads again, after a
short random pause, up to CAS_ATTEMPTS times.

A live record whose signature does not verify, or whose value cannot be read, is absent to
all of them: add overwrites it, and incr/decr and touch delete it and answer as for a
missing key (so that the next add starts the entry again), always on the same condition,
so a writer that replaced it meanwhile is kept. A record made by hand may hold several
generations, which no condition can name: exactly those values are deleted first
(`records.stale_generations`), and the record is read again.
"""

import logging
import random
import time

from ..client import Absent, ConditionFailed, SimpleDBError
from .records import MARKER, as_seen, live, stale_generations

logger = logging.getLogger(__name__)

#: Attempts before giving up, and the cap of the random pause between them (doubling
#: from 1 ms).
CAS_ATTEMPTS = 50
CAS_MAX_PAUSE_SECONDS = 0.05

#: What a change asks `swap` to do instead of writing new attributes.
DELETE = object()   # delete the record, answer the change's result
DISCARD = object()  # delete an unverifiable or unreadable record, answer missing()


class Contended(SimpleDBError):
    """A compare-and-swap kept losing to other writers of the same key."""


class RecordSwaps:
    """Conditional read-modify-writes on a cache's records.

    `records()` gives the SimpleDB client, `record_format` is the cache's `RecordFormat`,
    `now_ms()` the cache's clock, `discard_spilled(names)` removes S3 objects of deleted
    records.
    """

    def __init__(self, records, record_format, now_ms, discard_spilled):
        self.records = records
        self.format = record_format
        self.now_ms = now_ms
        self.discard_spilled = discard_spilled

    def add(self, name, attributes):
        """Put the record unless a live entry this cache signed holds the name; whether it
        was put. 1 call when the name is free, 2 when a live entry refuses it, 3 when an
        expired or unverifiable record is replaced."""
        records = self.records()
        for attempt in range(CAS_ATTEMPTS):
            try:
                records.put(name, attributes, expect=Absent(MARKER))
                return True
            except ConditionFailed:
                pass
            # The whole record is read: the signature covers it.
            current = records.get(name, consistent=True)
            if self.format.usable(name, current, self.now_ms()):
                return False
            if current:
                if live(current, self.now_ms()):
                    logger.warning("cache entry has a bad signature, replaced by add: "
                                   "domain=%s record=%s", records.domain, name)
                expect = self._as_seen(records, name, current)
                if expect is None:
                    continue
                try:
                    records.put(name, attributes, expect=expect)
                    return True
                except ConditionFailed:
                    pass
            _pause(attempt)
        return False  # others keep writing this key: it is theirs

    def swap(self, name, key, change, missing):
        """Read the record consistently, and write what `change` makes of it unless someone
        wrote in between (then read again, up to CAS_ATTEMPTS); 2 calls uncontended.

        `change(record)` returns (result, attributes to write, DELETE or DISCARD);
        `missing()` gives the answer for a missing, expired or discarded entry.
        """
        records = self.records()
        for attempt in range(CAS_ATTEMPTS):
            current = records.get(name, consistent=True)
            if not live(current, self.now_ms()):
                return missing()
            if self.format.verified(name, current):
                result, changed = change(current)
            else:
                logger.warning("cache entry has a bad signature, deleted: domain=%s record=%s",
                               records.domain, name)
                result, changed = None, DISCARD
            expect = self._as_seen(records, name, current)
            if expect is None:
                continue
            try:
                if changed is DELETE or changed is DISCARD:
                    records.delete(name, expect=expect)
                else:
                    records.put(name, changed, expect=expect)
            except ConditionFailed:
                _pause(attempt)
                continue
            if changed is DELETE or changed is DISCARD:
                self.discard_spilled([name])
            return missing() if changed is DISCARD else result
        raise Contended(f"{CAS_ATTEMPTS} attempts to change cache key {key!r} all lost to "
                        f"other writers")

    @staticmethod
    def _as_seen(records, name, current):
        """The condition that the record is still as `current` shows it, or None after
        deleting the values of a multi-valued generation (no condition can name it)."""
        expect = as_seen(current)
        if expect is None:
            records.delete_pairs(name, stale_generations(current))
        return expect


def _pause(attempt):
    """A random pause before another attempt, growing with each."""
    time.sleep(random.uniform(0, min(CAS_MAX_PAUSE_SECONDS, 0.001 * 2 ** attempt)))
