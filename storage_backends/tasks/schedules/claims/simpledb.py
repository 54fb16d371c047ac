"""Schedule claims as items of a SimpleDB domain (SCHEDULES_DOMAIN).

A claim is a PutAttributes with Expected `state` Exists=false: SimpleDB applies it only
if the item has no `state`, atomically, so of several schedulers exactly one writes it. A
take-over expects the old `token`; `since` is set with Expected `since` Exists=false.
"""

from ....simpledb.client import Absent, ConditionFailed, Present, SimpleDBClient, quote_name
from ....simpledb.client import quote_value
from ...results import epoch
from . import ClaimStore


class SimpleDBClaimStore(ClaimStore):
    """Claims and heads of one SimpleDB domain."""

    def __init__(self, sdb, domain):
        self.records = SimpleDBClient(domain, sdb)
        self.location = f"SimpleDB domain {domain}"

    def _put_if(self, key, record, expect):
        try:
            self.records.put(key, record, expect=expect)
        except ConditionFailed:
            return False
        return True

    def claim(self, key, record):
        return self._put_if(key, record, Absent("state"))

    def take_over(self, key, token, record):
        return self._put_if(key, record, Present("token", token))

    def start(self, key, since):
        return self._put_if(key, {"since": since}, Absent("since"))

    def update(self, key, attributes):
        self.records.put(key, attributes)

    def get(self, key):
        return dict(self.records.get(key, consistent=True))

    def get_many(self, keys):
        """One consistent Select per 20 keys."""
        return {key: dict(record) for key, record in
                self.records.get_many(keys, consistent=True).items()}

    def prune(self, now):
        """One Select for the expired claims, then deletes 25 to a call."""
        expression = (f"select itemName() from {quote_name(self.records.domain)} "
                      f"where {quote_name('expires')} < {quote_value(epoch(now))}")
        expired = [name for name, _record in self.records.select(expression, consistent=True)]
        self.records.batch_delete(expired)
        return len(expired)
