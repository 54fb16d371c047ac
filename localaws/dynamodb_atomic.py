"""A fix for moto's DynamoDB applying concurrent writes to one item non-atomically.

moto 5.2.5's DynamoDB backend holds no lock: its server answers requests on many threads,
and an UpdateItem reads the item, works out the new one and stores it in steps another
request's thread can run between. Two concurrent `ADD n :1` then count once, and two
PutItems conditional on `attribute_not_exists` can both succeed (the cache's tests of
atomic incr and racing adds found it under load). Real DynamoDB applies each write to an
item atomically, conditions included; `install()` makes the local stack's moto run item
operations one at a time, so that the local stack does not invent lost updates.
"""

import functools
import threading

_installed = threading.Lock()
_done = False

#: The backend's item operations: each runs whole under one lock (an RLock, since some call
#: others, as a transaction calls its writes).
OPERATIONS = ("put_item", "get_item", "update_item", "delete_item", "transact_write_items",
              "scan", "query")


def install():
    """Make moto's DynamoDB item operations atomic with respect to one another (once per
    process)."""
    global _done
    with _installed:
        if _done:
            return
        from moto.dynamodb.models import DynamoDBBackend

        lock = threading.RLock()
        for name in OPERATIONS:
            setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name), lock))
        _done = True


def _serialized(operation, lock):
    @functools.wraps(operation)
    def serialized(*args, **kwargs):
        with lock:
            return operation(*args, **kwargs)
    return serialized
