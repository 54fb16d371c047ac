"""A fix for moto's SQS losing a message sent while another is being deleted.

moto 5.2.5's `Queue.delete_message` rebuilds the queue's list of messages and assigns the
new list without holding `_messages_lock`, the lock SendMessage appends under. A message
sent between the rebuild's reading of the list and its assignment is dropped: SendMessage
answered, the message is gone. The chaos run found it (one upload's task in several
thousand never arrived at any worker). Real SQS has no such race; `install()` makes the
local stack's moto delete under the lock, so the local stack does not invent losses.
"""

import functools
import threading

_installed = threading.Lock()
_done = False


def install():
    """Make moto's SQS delete_message hold the queue's message lock (once per process)."""
    global _done
    with _installed:
        if _done:
            return
        from moto.sqs.models import Queue

        delete = Queue.delete_message

        @functools.wraps(delete)
        def delete_message(self, receipt_handle):
            # moto's lock is a Condition over an RLock: a send waits, nothing deadlocks.
            with self._messages_lock:
                return delete(self, receipt_handle)

        Queue.delete_message = delete_message
        _done = True
