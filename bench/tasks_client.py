"""The client processes of bench/tasks.py: enqueue N no-op tasks, or drain with bare boto3.

bench/tasks.py runs each in its own process, since each Django system needs its own
settings; this module is not meant to be run by hand. Every command prints one JSON line,
`{"seconds": ...}`, timed around the work only (imports and setup excluded).

    python bench/tasks_client.py enqueue {ours,dts,celery,raw} --tasks N [--queue-url URL]
    python bench/tasks_client.py drain-raw --queue-url URL --tasks N --loops L

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
    return time.perf_counter() - started


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
    args = parser.parse_args(argv)

    if args.command == "drain-raw":
        seconds = drain_raw(args.tasks, args.queue_url, args.loops)
    elif args.system in ("ours", "dts"):
        seconds = enqueue_django(args.tasks)
    elif args.system == "celery":
        seconds = enqueue_celery(args.tasks)
    else:
        seconds = enqueue_raw(args.tasks, args.queue_url)
    print(json.dumps({"seconds": seconds}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
