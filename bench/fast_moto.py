"""moto's server for the task benchmark, with the cost of a queue's depth taken out.

Run `python bench/fast_moto.py --port P` (`--stock` serves unpatched moto, for comparison).
Bench only: nothing in the site or the tests imports this.

Stock moto 5.2.5 does work proportional to a queue's depth for every message:

- `Queue.attributes` evaluates all its attributes, among them the three Approximate* counts,
  each a scan of every message. `send_message` reads it once per message (for
  ContentBasedDeduplication); each received message reads MessageRetentionPeriod through
  `get_queue_attributes`, which builds the map three times per name: nine scans.
- `Queue.messages` (what ReceiveMessage walks) builds the list of every visible message,
  though a receive takes at most ten.
- `Queue.delete_message` and `change_message_visibility` look for the receipt handle in every
  message, each asking every message for the list of all its handles, and a delete then
  rebuilds the list.

At a depth of 2,000 that is ~12 ms per send and ~35 ms per received message, so a benchmark
at depth would measure moto. Real SQS does not slow down with depth. The patch below, applied
in this process only, keeps moto's models and behaviour (visibility timeouts, delays, receive
counts, redrive to a dead-letter queue, FIFO groups, old receipt handles, deleting twice) and
changes only how messages are found:

1. The Approximate* counts are computed when someone asks for them: in one pass for all
   three, once per GetQueueAttributes call. Internal reads of other attributes (send,
   retention, FIFO deduplication) skip them.
2. `Queue.messages` is a lazy view: ReceiveMessage stops walking once it has its batch,
   after the in-flight messages at the head of the list (messages are appended as sent and
   removed as deleted, so the head holds the in-flight ones).
3. Every receipt handle moto issues is indexed (handle -> message); delete and change
   visibility look the message up, then check it is still in that queue's list.
4. moto's `camelcase_to_underscores`, which builds that attribute map's 14 names on every
   read (~0.5 ms a map, whatever the depth), is memoised: a pure function. So is the list
   of moto's service packages, which the server reads from disk twice per request
   (~0.3 ms). These two are constant costs, not depth, but they are moto's CPU on the two
   cores the clients share, and have nothing to do with SQS.

What remains per call is O(in-flight messages) or a C-level list copy, which is microseconds
at these depths: `python bench/fast_moto.py --measure` prints stock and patched timings.

Like the local stack's moto, it deletes and receives under the queue's message lock
(`localaws.sqs_delete_race`, `localaws.sqs_receive_race`): without them, concurrent deletes
can bring a deleted message back, and two receives can both take one message.
"""

import argparse
import functools
import os
import sys
import threading
import time
from contextlib import contextmanager

from moto import backends as moto_backends
from moto.core.utils import unix_time_millis
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from localaws import sqs_receive_race  # noqa: E402

Queue = sqs_models.Queue
Message = sqs_models.Message
SQSBackend = sqs_models.SQSBackend

#: Receipt handle -> message, for every handle moto issued (old handles stay valid in SQS).
_by_handle = {}
#: Per request thread: whether counts are unused ("skip") or memoised for one call ("memo").
_local = threading.local()

COUNT_ATTRIBUTES = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
                    "ApproximateNumberOfMessagesNotVisible"}


@contextmanager
def _counts_unused():
    """Inside: the Approximate* counts read as 0, since the caller reads other attributes."""
    previous = getattr(_local, "skip", False)
    _local.skip = True
    try:
        yield
    finally:
        _local.skip = previous


@contextmanager
def _counts_memoised():
    """Inside: each queue's counts are computed at most once (one pass for all three)."""
    previous = getattr(_local, "memo", None)
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = previous


def _scan(queue):
    """(visible, not visible, delayed) in one pass, with moto's own comparisons."""
    now = unix_time_millis()
    visible = not_visible = delayed = 0
    for message in list(queue._messages):
        is_delayed = now < message.delayed_until
        if now > message.visible_at:
            if not is_delayed:
                visible += 1
        else:
            not_visible += 1
        if is_delayed:
            delayed += 1
    return visible, not_visible, delayed


def _count(index):
    def count(queue):
        if getattr(_local, "skip", False):
            return 0
        memo = getattr(_local, "memo", None)
        if memo is None:
            return _scan(queue)[index]
        if queue not in memo:
            memo[queue] = _scan(queue)
        return memo[queue][index]
    return property(count)


class _VisibleMessages:
    """`Queue.messages` without building the list: iterated lazily, stopped by the caller."""

    __slots__ = ("_snapshot",)

    def __init__(self, messages):
        self._snapshot = list(messages)  # as stock moto: other threads may change the list

    def __iter__(self):
        for message in self._snapshot:
            if message.visible and not message.delayed:
                yield message

    def __bool__(self):
        return next(iter(self), None) is not None

    def __len__(self):
        return sum(1 for _ in self)


def _located(queue, receipt_handle):
    """The message of `queue` that was ever given `receipt_handle`, or None."""
    message = _by_handle.get(receipt_handle)
    if message is None or message not in queue._messages:  # identity test, in C
        return None
    return message


def _delete_message(self, receipt_handle):
    with self._messages_lock:  # a send or another delete must not slip into the rebuild
        _delete_locked(self, receipt_handle)


def _delete_locked(self, receipt_handle):
    if receipt_handle in self.deleted_messages:
        return  # deleting twice succeeds, as in SQS
    message = _located(self, receipt_handle)
    if message is None:
        raise ReceiptHandleIsInvalid()
    self.pending_messages.discard(message)
    handles = message.all_receipt_handles
    self.deleted_messages.update(handles)
    remaining = list(self._messages)
    remaining.remove(message)
    self._messages = remaining  # replaced, not mutated, as stock moto does
    for handle in handles:
        _by_handle.pop(handle, None)


def _change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
    queue = self.get_queue(queue_name)
    message = _located(queue, receipt_handle)
    if message is None:
        raise ReceiptHandleIsInvalid
    limit_ms = 43200 * 1000  # SQS: at most 12 hours from when the message was sent
    if unix_time_millis() + int(visibility_timeout) * 1000 - message.sent_timestamp > limit_ms:
        raise InvalidParameterValue(
            f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: "
            "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]")
    message.change_visibility(visibility_timeout)
    if message.visible and message in queue.pending_messages:
        queue.pending_messages.remove(message)


def _without_counts(method):
    def wrapper(*args, **kwargs):
        with _counts_unused():
            return method(*args, **kwargs)
    wrapper.__wrapped__ = method
    return wrapper


def _get_queue_attributes(original):
    def get_queue_attributes(self, queue_name, attribute_names):
        names = set(attribute_names or ())
        if "All" in names or names & COUNT_ATTRIBUTES:
            with _counts_memoised():
                return original(self, queue_name, attribute_names)
        with _counts_unused():
            return original(self, queue_name, attribute_names)
    get_queue_attributes.__wrapped__ = original
    return get_queue_attributes


def _mark_received(original):
    def mark_received(self, visibility_timeout=None):
        original(self, visibility_timeout)
        _by_handle[self.receipt_handle] = self
    mark_received.__wrapped__ = original
    return mark_received


def apply():
    """Patch moto's SQS models in this process (idempotent)."""
    if getattr(Queue, "_bench_fast", False):
        return
    # A pure function that Queue.attributes calls for each of its 14 names, ~40 µs a call.
    sqs_models.camelcase_to_underscores = functools.cache(sqs_models.camelcase_to_underscores)
    # The server lists moto's package directory (~180 stat calls) twice per request.
    modules = tuple(moto_backends.list_of_moto_modules())
    moto_backends.list_of_moto_modules = lambda: modules
    Queue.approximate_number_of_messages = _count(0)
    Queue.approximate_number_of_messages_not_visible = _count(1)
    Queue.approximate_number_of_messages_delayed = _count(2)
    Queue.messages = property(lambda self: _VisibleMessages(self._messages))
    Queue.delete_message = _delete_message
    Queue.add_message = _without_counts(Queue.add_message)
    Message.mark_received = _mark_received(Message.mark_received)
    SQSBackend.change_message_visibility = _change_message_visibility
    SQSBackend.get_queue_attributes = _get_queue_attributes(SQSBackend.get_queue_attributes)
    SQSBackend.send_message = _without_counts(SQSBackend.send_message)
    sqs_receive_race.install()
    SQSBackend._validate_message = _without_counts(SQSBackend._validate_message)
    Queue._bench_fast = True


def measure(depth=2000, rounds=10):
    """ms per send, per received message and per delete at `depth`, in-process."""
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("depth")
    timings = {}
    started = time.perf_counter()
    for n in range(depth):
        backend.send_message("depth", f"m{n}")
    timings["send"] = (time.perf_counter() - started) * 1000 / depth
    started = time.perf_counter()
    received = []
    for _ in range(rounds):
        received += backend.receive_message("depth", 10, 0, 30)
    timings["receive (per message)"] = (time.perf_counter() - started) * 1000 / len(received)
    started = time.perf_counter()
    for message in received:
        backend.delete_message("depth", message.receipt_handle)
    timings["delete"] = (time.perf_counter() - started) * 1000 / len(received)
    started = time.perf_counter()
    for _ in range(rounds):
        backend.get_queue_attributes("depth", ["All"])
    timings["GetQueueAttributes All"] = (time.perf_counter() - started) * 1000 / rounds
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stock", action="store_true", help="serve moto unpatched")
    parser.add_argument("--measure", action="store_true",
                        help="print ms per call at depth 2,000, stock then patched, and exit")
    args = parser.parse_args(argv)
    if args.measure:
        stock = measure()
        apply()
        fast = measure()
        print(f"{'at depth 2,000':<28}{'stock ms':>10}{'patched ms':>12}")
        for name, ms in stock.items():
            print(f"{name:<28}{ms:>10.3f}{fast[name]:>12.3f}")
        return 0
    if not args.stock:
        apply()
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)  # the parent reads the endpoint from here
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
