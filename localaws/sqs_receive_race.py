"""A fix for moto's SQS handing one message to two receives at once.

moto 5.2.5's `SQSBackend.receive_message` checks that a message is visible, then marks it
received, holding no lock; its server answers requests on several threads. Two receives
that look at the same message between those two steps both take it: one message, two
deliveries, neither a fault. A worker with several receivers ran such a task twice (the
task benchmark's one duplicate in 6,000). Real SQS hides a message from every other
receive once one has it; `install()` makes the local stack's moto receive under the queue's
message lock, so the local stack does not invent duplicate deliveries.
"""

import functools
import threading

_installed = threading.Lock()
_done = False


def install():
    """Make moto's SQS receive_message hold the queue's message lock (once per process)."""
    global _done
    with _installed:
        if _done:
            return
        from moto.sqs.models import SQSBackend

        receive = SQSBackend.receive_message

        @functools.wraps(receive)
        def receive_message(self, queue_name, *args, **kwargs):
            # moto's lock is a Condition over an RLock: the long poll's wait inside
            # releases it, so sends, deletes and other receives go on meanwhile.
            with self.get_queue(queue_name)._messages_lock:
                return receive(self, queue_name, *args, **kwargs)

        SQSBackend.receive_message = receive_message
        _done = True
