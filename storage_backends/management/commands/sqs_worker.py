"""`manage.py sqs_worker`: run the tasks of an SQSBackend's queues (docs/tasks.md, "The worker").

SIGTERM or SIGINT: stop receiving at once, let running tasks finish within the grace
period, hand the rest back to SQS, exit 0. A second signal hands everything back and exits
at once. If a thread of the worker dies, it hands everything back and exits 1 at once, so
that a supervisor starts a new one.

Unless `--no-schedules` (or `--batch`) is given, a thread enqueues the backend's periodic
tasks (SCHEDULES), each slot once across every worker (storage_backends.tasks.schedules).

With a lifecycle hook (`--lifecycle-hook` or STRATUS_WORKER_LIFECYCLE_HOOK), the worker also
drains when Auto Scaling terminates its instance, then completes the lifecycle action and
exits 0 (storage_backends.tasks.lifecycle).
"""

import argparse
import logging
import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from storage_backends.tasks.commands import sqs_backend
from storage_backends.tasks.lifecycle import LifecycleHook
from storage_backends.tasks.options import MAX_WAIT_SECONDS
from storage_backends.tasks.schedules import scheduler_for
from storage_backends.tasks.worker import Worker, default_worker_id


def positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def wait_seconds(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_WAIT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_WAIT_SECONDS}, not {value}")
    return value


def worker_id(text):
    if not text or len(text) > 64 or not text.isprintable():
        raise argparse.ArgumentTypeError("must be 1 to 64 printable characters")
    return text


class Command(BaseCommand):
    help = "Run the tasks sent through an SQSBackend (TASKS alias --backend, default 'default')."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="append", dest="queues", metavar="NAME",
                            help="a Django queue name to work on (repeatable; default: all of "
                                 "the backend's QUEUES)")
        parser.add_argument("--concurrency", type=positive, default=10,
                            help="tasks run at once, in threads (default 10)")
        parser.add_argument("--batch", action="store_true",
                            help="exit once the queues hold no visible or in-flight messages")
        parser.add_argument("--max-tasks", type=positive,
                            help="exit after running this many tasks")
        parser.add_argument("--worker-id", type=worker_id,
                            help="recorded in each result (default: host-pid-random)")
        parser.add_argument("--backend", default="default", help="the TASKS alias")
        parser.add_argument("--wait-seconds", type=wait_seconds,
                            help="long-poll wait, 0-20 (default: the backend's WAIT_SECONDS)")
        parser.add_argument("--lifecycle-hook", metavar="NAME",
                            help="drain when Auto Scaling terminates this instance, then "
                                 "complete this terminate lifecycle hook's action (default: "
                                 "STRATUS_WORKER_LIFECYCLE_HOOK; none: off)")
        parser.add_argument("--no-schedules", action="store_true",
                            help="do not run the scheduler of the backend's SCHEDULES (it "
                                 "runs by default, except with --batch)")
        parser.add_argument("--autoscaling-group", metavar="NAME",
                            help="the hook's Auto Scaling group (default: "
                                 "STRATUS_WORKER_AUTOSCALING_GROUP, else the instance's own)")

    def handle(self, *args, **options):
        backend = sqs_backend(options["backend"])
        worker_id = options["worker_id"] or default_worker_id()
        try:
            worker = Worker(
                backend, queue_names=options["queues"], concurrency=options["concurrency"],
                batch=options["batch"], max_tasks=options["max_tasks"],
                worker_id=worker_id, wait_seconds=options["wait_seconds"],
                lifecycle=lifecycle_hook(options, worker_id),
                scheduler=None if options["no_schedules"] or options["batch"]
                else scheduler_for(backend, worker_id),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error

        def on_signal(number, frame):
            worker.stop()

        previous = {number: signal.signal(number, on_signal)
                    for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            worker.run()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        if worker.failure:
            # Exit at once, non-zero, so that a supervisor starts a new worker; running
            # tasks' messages are already handed back.
            self.stderr.write(f"sqs_worker stopped: {worker.failure}")
            _exit_now(1)
        if worker.abandoned_tasks:
            # Their messages are already handed back; exiting normally would wait for them.
            _exit_now(0)


def lifecycle_hook(options, worker_id):
    """The worker's LifecycleHook from the options or settings, or None (off)."""
    hook = options["lifecycle_hook"] or settings.STRATUS_WORKER_LIFECYCLE_HOOK
    group = options["autoscaling_group"] or settings.STRATUS_WORKER_AUTOSCALING_GROUP
    if not hook:
        if group:
            raise ValueError("an Auto Scaling group was given without a lifecycle hook")
        return None
    return LifecycleHook(hook, group=group or None,
                         poll_seconds=settings.STRATUS_WORKER_LIFECYCLE_POLL,
                         worker_id=worker_id)


def _exit_now(code):
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
