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

from storage_backends.tasks import report_progress

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


#: Seconds a task waits for its gate file at most.
GATE_WAIT = 60


def wait_for_gate(gate):
    """Wait until the file `gate` exists (the test opens it), GATE_WAIT seconds at most;
    whether it does. Never looks at should_stop(): a task that ignores stop requests."""
    deadline = time.monotonic() + GATE_WAIT
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(gate)


@task(time_limit=1, max_attempts=1)
def overrun_once(gate):
    """Runs until the test opens its gate, past its 1 s time limit; no retry."""
    logger.info("job=overrun_once pid=%d started", os.getpid())
    wait_for_gate(gate)
    logger.info("job=overrun_once pid=%d returned", os.getpid())
    return "late"


@task(time_limit=1, max_attempts=2, takes_context=True)
def overrun_then_succeed(context, gate):
    """Overruns its 1 s time limit until the test opens its gate; then returns at once."""
    logger.info("job=overrun_then_succeed attempt=%d started", context.attempt)
    wait_for_gate(gate)
    return context.attempt


@task
def progress_in_steps(gate):
    """Reports 1 of 3, waits for its gate, then reports 2 and 3 of 3."""
    report_progress(1, 3, "first step")
    wait_for_gate(gate)
    report_progress(2, 3, "second step")
    report_progress(3, 3, "last step")
    return 3


@task(takes_context=True)
def until_cancelled(context, seconds):
    """Works in 50 ms steps for up to `seconds`, stopping when its worker asks."""
    logger.info("job=until_cancelled id=%s started", context.task_result.id)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        context.raise_if_stopped()
        time.sleep(0.05)
    return "ran to the end"


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
