"""Tasks the task tests enqueue: module-level, as django.tasks requires."""

import asyncio
import threading
import time

from django.core.cache import caches
from django.tasks import task

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
