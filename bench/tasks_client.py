"""The client processes of bench/tasks.py: enqueue N no-op tasks, or drain with bare boto3.

bench/tasks.py runs each in its own process, since each Django system needs its own
settings; this module is not meant to be run by hand. Every command prints one JSON line,
`{"seconds": ...}` timed around the work only (imports and setup excluded), or what it
measured.

    python bench/tasks_client.py enqueue {ours,dts,celery,raw} --tasks N [--queue-url URL]
    python bench/tasks_client.py drain-raw --queue-url URL --tasks N --loops L
    python bench/tasks_client.py latency {ours,raw} --samples K [--queue-url URL]

`drain-raw` also reports `duplicates`: messages received again after a first receive.
`latency` enqueues one task at a time on an idle worker (or a raw long-poll loop in this
process) and reports `latencies`, seconds from the enqueue call to the task's start (raw:
to the receive's return).

Endpoints and names come from the environment bench/tasks.py sets (AWS_ENDPOINT_URL_SQS,
BENCH_QUEUE_PREFIX, BENCH_CELERY_*, ...).
"""

import argparse
import json
import os
import sys
import threading
import time

BATCH = 10  # SQS's most entries per SendMessageBatch, ReceiveMessage, DeleteMessageBatch


def sqs_client():
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL_SQS"],
                        region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench",
                        config=Config(max_pool_connections=20,
                                      retries={"mode": "standard", "max_attempts": 3}))


def enqueue_django(count):
    """Through `enqueue_many` of the settings' default backend (Stratus's or django-tasks-sqs's)."""
    import django

    django.setup()
    from django.tasks import task_backends
    from tasks_noop import noop

    backend = task_backends["default"]
    started = time.perf_counter()
    if os.environ["DJANGO_SETTINGS_MODULE"] == "tasks_dts_settings":
        backend.enqueue_many((noop, (), {}) for _ in range(count))  # its (task, args, kwargs)
    else:
        backend.enqueue_many(noop, [((), {}) for _ in range(count)])
    return time.perf_counter() - started


def enqueue_celery(count):
    """`delay()` per task: kombu's SQS transport sends one message per call, no batch API."""
    from tasks_celery_app import noop

    started = time.perf_counter()
    for _ in range(count):
        noop.delay()
    return time.perf_counter() - started


def enqueue_raw(count, queue_url):
    sqs = sqs_client()
    body = json.dumps({"task": "noop"})
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        entries = [{"Id": str(n), "MessageBody": body}
                   for n in range(min(BATCH, count - start))]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SendMessageBatch failed: {response['Failed']}")
    return time.perf_counter() - started


def drain_raw(count, queue_url, loops):
    """`loops` threads, each ReceiveMessage 10 / DeleteMessageBatch 10, until `count` are gone."""
    sqs = sqs_client()
    lock = threading.Lock()
    deleted = [0]
    seen, duplicates = set(), [0]
    errors = []

    def loop():
        try:
            while True:
                with lock:
                    if deleted[0] >= count:
                        return
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=BATCH,
                                               WaitTimeSeconds=1).get("Messages", [])
                if not messages:
                    continue
                with lock:
                    duplicates[0] += sum(m["MessageId"] in seen for m in messages)
                    seen.update(m["MessageId"] for m in messages)
                response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)])
                if response.get("Failed"):
                    raise RuntimeError(f"DeleteMessageBatch failed: {response['Failed']}")
                with lock:
                    deleted[0] += len(messages)
        except Exception as error:  # reported by the main thread
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(loops)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return {"seconds": time.perf_counter() - started, "duplicates": duplicates[0]}


#: Seconds between one latency sample's end and the next enqueue: the worker is idle again
#: (back in its long poll) when the next task is sent.
LATENCY_GAP = 0.2
#: Longest a latency sample may take before the run is called failed.
LATENCY_TIMEOUT = 30


def latency_ours(samples):
    """Enqueue one no-op at a time through Stratus; its result's started_at minus its
    enqueued_at (set when enqueue is called), read once it has finished."""
    import django

    django.setup()
    from django.tasks import TaskResultStatus, task_backends
    from tasks_noop import noop

    backend = task_backends["default"]
    latencies = []
    for _ in range(samples):
        time.sleep(LATENCY_GAP)
        result = backend.enqueue(noop, (), {})
        deadline = time.monotonic() + LATENCY_TIMEOUT
        while True:
            time.sleep(0.05)  # how soon it is seen does not change what is measured
            found = backend.get_result(result.id)
            if found.status == TaskResultStatus.SUCCESSFUL:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"task {result.id} did not run within {LATENCY_TIMEOUT} s")
        latencies.append((found.started_at - found.enqueued_at).total_seconds())
    return {"latencies": latencies}


def latency_raw(samples, queue_url):
    """One loop long-polling (20 s) in a thread, as an idle worker does; the main thread
    sends one message at a time, its send time in the body."""
    sqs = sqs_client()
    arrived = threading.Event()
    latencies, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=20).get("Messages", [])
            now = time.time()
            for message in messages:
                if message["Body"] != "stop":
                    latencies.append(now - float(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if messages:
                arrived.set()

    receiver = threading.Thread(target=loop, daemon=True)
    receiver.start()
    for _ in range(samples):
        time.sleep(LATENCY_GAP)
        arrived.clear()
        sqs.send_message(QueueUrl=queue_url, MessageBody=repr(time.time()))
        if not arrived.wait(LATENCY_TIMEOUT):
            raise RuntimeError(f"a message did not arrive within {LATENCY_TIMEOUT} s")
    stop.set()
    sqs.send_message(QueueUrl=queue_url, MessageBody="stop")  # ends the long poll
    receiver.join(LATENCY_TIMEOUT)
    return {"latencies": latencies}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    enqueue = commands.add_parser("enqueue")
    enqueue.add_argument("system", choices=("ours", "dts", "celery", "raw"))
    enqueue.add_argument("--tasks", type=int, required=True)
    enqueue.add_argument("--queue-url")
    drain = commands.add_parser("drain-raw")
    drain.add_argument("--tasks", type=int, required=True)
    drain.add_argument("--queue-url", required=True)
    drain.add_argument("--loops", type=int, default=1)
    latency = commands.add_parser("latency")
    latency.add_argument("system", choices=("ours", "raw"))
    latency.add_argument("--samples", type=int, required=True)
    latency.add_argument("--queue-url")
    args = parser.parse_args(argv)

    if args.command == "drain-raw":
        report = drain_raw(args.tasks, args.queue_url, args.loops)
    elif args.command == "latency":
        report = (latency_ours(args.samples) if args.system == "ours"
                  else latency_raw(args.samples, args.queue_url))
    elif args.system in ("ours", "dts"):
        report = {"seconds": enqueue_django(args.tasks)}
    elif args.system == "celery":
        report = {"seconds": enqueue_celery(args.tasks)}
    else:
        report = {"seconds": enqueue_raw(args.tasks, args.queue_url)}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
