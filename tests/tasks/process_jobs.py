"""Tasks for the worker-process tests, and signal receivers that log what they see.

A worker process imports this module when it resolves one of these tasks, which connects
the receivers before that task's `task_started`. They log only for this module's tasks, so
the in-process tests, whose tasks live in `tests.tasks.jobs`, are left alone.
"""

import ctypes
import logging
import os
import threading
import time

from django.dispatch import receiver
from django.tasks import task
from django.tasks.signals import task_finished, task_started

logger = logging.getLogger(__name__)


@task(takes_context=True)
def nap(context, seconds, note=None):
    """Logs that it started, appends a line to the file `note` (if any), sleeps `seconds`."""
    result = context.task_result
    logger.info("job=nap id=%s attempt=%d pid=%d started", result.id, context.attempt,
                os.getpid())
    if note:
        with open(note, "a") as file:
            file.write(f"{result.id} pid={os.getpid()}\n")
    time.sleep(seconds)
    return seconds


class ThreadKilled(BaseException):
    """Raised inside a worker thread by `kill_thread`; not an Exception, so no guard for
    one delivery's faults stops it, as nothing stops a crash the worker did not foresee."""


@task
def kill_thread(name):
    """Raise ThreadKilled inside this process's thread called `name` (CPython's
    PyThreadState_SetAsyncExc: the thread raises it at its next bytecode)."""
    [thread] = [t for t in threading.enumerate() if t.name == name]
    killed = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                        ctypes.py_object(ThreadKilled))
    logger.info("job=kill_thread thread=%s killed=%d pid=%d", name, killed, os.getpid())
    return killed


def _ours(task_result):
    return task_result.task.module_path.startswith(__name__ + ".")


@receiver(task_started)
def log_started(sender, task_result, **kwargs):
    if _ours(task_result):
        logger.info("signal=task_started id=%s status=%s pid=%d", task_result.id,
                    task_result.status, os.getpid())


@receiver(task_finished)
def log_finished(sender, task_result, **kwargs):
    if _ours(task_result):
        logger.info("signal=task_finished id=%s status=%s pid=%d", task_result.id,
                    task_result.status, os.getpid())
