"""Unique tasks: a second enqueue of the same work within a window returns the first result.

A task is unique when it has a window, `@task(unique_for=seconds)` or
`task.unique(key, within=seconds)`. Its key is `unique_key` if given, else the task's
arguments (their JSON, sorted); the task path, the backend's alias and its QUEUE_PREFIX are
always part of it. Enqueueing it claims
the key in the result store: one conditional write of the item `unique-<digest>` (SimpleDB
PutAttributes with Expected, DynamoDB PutItem with a ConditionExpression) holding the new
result's id, the claim time and its end (`expires`). If the write fails, another enqueue
holds the key and its result is returned instead; nothing is sent.

A claim ends at the end of its window, and early if its result no longer exists: pruned,
or never written because the transaction that enqueued it rolled back (a result is
written when its transaction commits; a claim without a result is taken for a commit
still to come for PENDING_GRACE seconds, and returned as READY). Taking over such a claim
is conditional on the result id it holds, so two enqueues racing for it cannot both win.
"""

import hashlib
import json
import re
import time

from django.tasks import TaskResultStatus
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist

from .results import UNIQUE_PREFIX, SQSTaskResult, epoch

#: Seconds of a window when `unique()` is given none and the task has no `unique_for`.
DEFAULT_WINDOW = 3600
#: The longest window (30 days): a claim is an item kept that long.
MAX_WINDOW = 30 * 24 * 3600
#: Characters of a unique key, at most.
MAX_KEY = 500
#: Seconds a claim whose result is not written yet is taken to wait for its transaction's
#: commit; after that it is stale (rolled back) and the next enqueue takes it over.
PENDING_GRACE = 60
#: Rounds of claim, read and take-over before giving up (only a storm of enqueues of one
#: key, each taking the claim over, gets that far).
MAX_ROUNDS = 3
#: A result id, as the backend makes them.
ID = re.compile(r"[A-Za-z0-9]{1,64}")


class UniqueKeyContended(RuntimeError):
    """The key's claim changed hands MAX_ROUNDS times while this enqueue tried to read it."""


def validate(task):
    """InvalidTask if the task's unique options are wrong."""
    window = getattr(task, "unique_for", None)
    key = getattr(task, "unique_key", None)
    if window is not None and (isinstance(window, bool) or not isinstance(window, int)
                               or not 1 <= window <= MAX_WINDOW):
        raise InvalidTask(f"unique_for must be a whole number of seconds from 1 to "
                          f"{MAX_WINDOW}, not {window!r}")
    if key is not None:
        if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
            raise InvalidTask(f"a unique key must be text of 1 to {MAX_KEY} characters")
        if window is None:
            raise InvalidTask("a unique key needs a window (unique_for)")


def claim_name(backend, task, args, kwargs):
    """The item that claims this enqueue's key: named by the backend (its alias and queue
    prefix: sites sharing a result store do not share keys), the task and the key."""
    key = task.unique_key
    if key is None:
        # TaskResult normalises arguments to JSON the same way; sorted, so that keyword
        # order does not matter.
        key = json.dumps([args, kwargs], sort_keys=True, separators=(",", ":"), default=str)
    scope = f"{backend.config.queue_prefix}\0{backend.alias}\0{task.module_path}"
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()
    return UNIQUE_PREFIX + digest


def enqueue_many(backend, task, calls):
    """Enqueue each call unless its key is claimed; the results, in order (the first's
    for a claimed key)."""
    results, items = [], []
    for args, kwargs in calls:
        payload, result = backend._prepare(task, args, kwargs)
        first = claim(backend.results, claim_name(backend, task, result.args, result.kwargs),
                      result, task.unique_for)
        if first is None:
            items.append((payload, result))
            results.append(result)
        else:
            results.append(first)
    backend.dispatch(items)
    return results


def claim(store, name, result, window):
    """Claim `name` for `result` for `window` seconds: None if claimed, else the result
    holding the claim (a TaskResult)."""
    for _round in range(MAX_ROUNDS):
        now = time.time()
        mine = {"result": result.id, "claimed_at": epoch(now), "expires": epoch(now + window)}
        if store.put_new(name, mine):
            return None
        held = store.record(name)
        first = held.get("result")
        if not first:
            continue  # gone meanwhile (pruned, or expired on DynamoDB): claim again
        holder = _holder(store, held, first, result, now)
        if holder is not None:
            return holder
        if store.put_if(name, mine, "result", first):
            return None
    raise UniqueKeyContended(f"the unique key of {result.task.module_path} changed hands "
                             f"{MAX_ROUNDS} times while it was being claimed")


def _holder(store, held, first, result, now):
    """The result a live claim holds, or None if the claim may be taken over: past its
    window (SimpleDB keeps an item until it is pruned), its result gone or unreadable, or
    not a claim this code wrote."""
    if held.get("expires", "") <= epoch(now) or not ID.fullmatch(first):
        return None
    record = store.record(first)
    if record:
        try:
            return store.task_result(first, record)
        except TaskResultDoesNotExist:
            return None
    claimed_at = held.get("claimed_at", "")
    if claimed_at.isdigit() and now - int(claimed_at) < PENDING_GRACE:
        return _pending(result, first)
    return None


def _pending(result, first_id):
    """The READY result of a claim whose transaction has not committed yet, as far as this
    enqueue knows it (its own arguments: the same ones, unless the key was given)."""
    return SQSTaskResult(
        task=result.task, id=first_id, status=TaskResultStatus.READY,
        enqueued_at=result.enqueued_at, started_at=None, last_attempted_at=None,
        finished_at=None, args=result.args, kwargs=result.kwargs, backend=result.backend,
        errors=[], worker_ids=[],
    )
