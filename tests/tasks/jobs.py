"""Tasks the task tests enqueue: module-level, as django.tasks requires."""

import asyncio
import threading
import time

from django.core.cache import caches
from django.tasks import task

from storage_backends.tasks import raise_if_stopped, report_progress, should_stop, stop_reason

#: Effects the in-process tests observe: name -> list of calls.
calls = {}
_lock = threading.Lock()


def record(name, value):
    with _lock:
        calls.setdefault(name, []).append(value)


@task
def add(a, b):
    return a + b


@task
def remember(name, value):
    record(name, value)
    return value


@task(takes_context=True)
def attempt_number(context, name):
    record(name, context.attempt)
    return context.attempt


@task
def fail_until(name, succeed_on_attempt):
    """Fails (ValueError) until its `succeed_on_attempt`-th call for this name."""
    record(name, time.monotonic())
    if len(calls[name]) < succeed_on_attempt:
        raise ValueError(f"attempt {len(calls[name])} of {name} fails")
    return len(calls[name])


@task
def always_fails(name):
    record(name, time.monotonic())
    raise RuntimeError(f"{name} always fails")


@task(max_attempts=1)
def fails_once_only(name):
    record(name, time.monotonic())
    raise RuntimeError("no retries for me")


@task
async def async_double(name, value):
    await asyncio.sleep(0)
    record(name, value * 2)
    return value * 2


@task
def sleep_then_count(key, seconds):
    """Sleeps, then increments a cache counter: visible across processes."""
    time.sleep(seconds)
    cache = caches["default"]
    cache.add(key, 0, None)
    return cache.incr(key)


@task
def echo_size(payload):
    return len(payload)


@task
def big_return(size):
    return "x" * size


@task
def returns_unserialisable():
    return object()


@task(takes_context=True)
def attempt_until(context, name, succeed_on_attempt):
    """Records the attempt number its context gives; fails before `succeed_on_attempt`."""
    record(name, context.attempt)
    if context.attempt < succeed_on_attempt:
        raise ValueError(f"attempt {context.attempt} fails")
    return context.attempt


@task
def record_time(name):
    """Records when it ran, as epoch seconds of the wall clock (to compare with run_after)."""
    record(name, time.time())


@task
def random_text(name, size):
    """Returns `size` characters no compressor can shrink much, and records them."""
    import base64
    import os

    text = base64.b64encode(os.urandom(size * 3 // 4)).decode()
    record(name, text)
    return text


@task
def noop():
    pass


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("this exception cannot be printed")


@task(max_attempts=1)
def fails_unprintably():
    raise Unprintable()


#: Set by a test to let `held` tasks end (tests clear it first and set it when done).
release = threading.Event()


@task
def held(name, seconds):
    """Records that it started, then waits up to `seconds` for `release`."""
    record(name, "started")
    release.wait(seconds)
    return name


# -- time limits, progress, cancellation ----------------------------------------------------
@task(time_limit=0.5, max_attempts=2)
def overruns(name, seconds):
    """Runs past its time limit without looking at should_stop(), until `release`."""
    record(name, "started")
    release.wait(seconds)
    record(name, "returned")
    return "late"


@task(time_limit=0.5, max_attempts=1)
def overruns_once(name, seconds):
    """As `overruns`, with no retry."""
    record(name, "started")
    release.wait(seconds)
    record(name, "returned")
    return "late"


@task(time_limit=0.5, max_attempts=1)
def stops_when_asked(name):
    """Works in small steps until asked to stop, then records why and stops."""
    record(name, "started")
    deadline = time.monotonic() + 30
    while not should_stop() and time.monotonic() < deadline:
        time.sleep(0.01)
    record(name, stop_reason())
    raise_if_stopped()


@task
def reports_progress(name, steps):
    """Reports each of `steps` steps as done, then returns."""
    for step in range(1, steps + 1):
        report_progress(step, steps, f"step {step}")
    record(name, steps)
    return steps


@task
def reports_then_waits(name, seconds):
    """Reports 1 of 2, waits for `release`, reports 2 of 2."""
    report_progress(1, 2, "half way")
    record(name, "reported")
    release.wait(seconds)
    report_progress(2, 2, "done")
    return 2


@task(takes_context=True)
def runs_until_cancelled(context, name, seconds):
    """Works in small steps for up to `seconds`, checking its context for a stop."""
    record(name, "started")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        context.raise_if_stopped()
        time.sleep(0.02)
    record(name, "not stopped")
    return "ran to the end"


@task(unique_for=60)
def unique_add(a, b):
    return a + b


@task
def reports_until_released(name, seconds):
    """Reports one more step every 50 ms until `release` (or `seconds`)."""
    step = 0
    while not release.wait(0.05) and step < seconds * 20:
        step += 1
        report_progress(step)
    return step
