"""The Celery app of bench/tasks.py: SQS through kombu, one no-op task, no results.

The benchmark sets BENCH_CELERY_BROKER (`sqs://key:secret@host:port`, the SQS proxy) and
BENCH_CELERY_QUEUE_URL, and starts the worker as
`celery -A tasks_celery_app worker --pool threads --concurrency C` (PYTHONPATH=bench).

Settings are what a production SQS deployment would choose for short tasks: a predefined
queue (no ListQueues/CreateQueue), acks after the task ran (`task_acks_late`: SQS deletes
a message only once its task is done, and it is how the benchmark knows a task completed),
up to 10 messages per receive, no remote control or events (they need a fanout broker), and
no result backend.
"""

import os

from celery import Celery

QUEUE = "bench-celery"

app = Celery("tasks_celery_app", broker=os.environ["BENCH_CELERY_BROKER"])
app.conf.update(
    broker_transport_options={
        "region": "us-east-1",
        "is_secure": False,
        "predefined_queues": {QUEUE: {"url": os.environ["BENCH_CELERY_QUEUE_URL"]}},
        "wait_time_seconds": 1,
        "polling_interval": 0,
        "visibility_timeout": 60,
    },
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    task_ignore_result=True,
    task_acks_late=True,
    worker_prefetch_multiplier=int(os.environ.get("BENCH_CELERY_PREFETCH", "10")),
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")
def noop():
    return None
