"""Where schedulers agree on who enqueues a slot: records in the results' state store.

Two kinds of record, flat dicts of strings, in the backend's SCHEDULES_DOMAIN (SimpleDB) or
SCHEDULES_TABLE (DynamoDB), whichever RESULTS_STORE names:

- a **claim** per (schedule, slot), named `<alias>/<schedule>@<slot>`: `state` ("claimed",
  then "enqueued"), `token` (the claimer's, random), `worker`, `claimed_at`,
  `enqueued_at`, `result_id` (derived from the slot: see `result_id`) and `expires`. It is
  created by one conditional write that succeeds only if the record does not exist
  (SimpleDB: PutAttributes with Expected Exists=false; DynamoDB: PutItem with
  attribute_not_exists): of all the schedulers that try, exactly one succeeds. It expires a
  day after the slot stops being the latest (no scheduler tries it again by then).
- a **head** per schedule, named `<alias>/<schedule>`: `since` (when a scheduler first saw
  the schedule: "once" never makes up slots from before it) and the last run: `slot`,
  `result_id`, `run_at`, `worker`. It does not expire.

Whatever a record holds is read as hostile (anyone with the store's keys can write it):
`Claim.of` and `Head.of` check every field they use and turn the rest into None.
"""

import hashlib
import re
from dataclasses import dataclass

from ... import results

#: The states of a claim.
CLAIMED, ENQUEUED = "claimed", "enqueued"
#: A slot, as stored: fixed-width epoch seconds, so that text order is time order.
SLOT = re.compile(r"\d{12}")
#: Result ids a claim may name (those `result_id` makes).
RESULT_ID = re.compile(r"[0-9a-f]{32}")
#: The longest token or worker id read back.
MAX_TOKEN_CHARS = 200


def slot_text(slot):
    return f"{int(slot):012d}"


def head_key(schedule):
    return f"{schedule.alias}/{schedule.name}"


def claim_key(schedule, slot):
    return f"{head_key(schedule)}@{slot_text(slot)}"


def result_id(store_location, schedule, slot):
    """The id of the task a slot enqueues: the same for every scheduler and every retry, so
    that a retried enqueue writes the same result and the worker knows its message for a
    copy (32 hex digits, the length of the backend's random ids)."""
    text = f"{store_location}\n{head_key(schedule)}\n{slot_text(slot)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _epoch(text):
    if not isinstance(text, str) or not SLOT.fullmatch(text):
        return None
    return int(text)


def _time(text):
    try:
        return results.parse_time(text) if isinstance(text, str) and len(text) < 40 else None
    except ValueError:
        return None


def _short(text):
    return text if isinstance(text, str) and 0 < len(text) <= MAX_TOKEN_CHARS else None


@dataclass(frozen=True)
class Claim:
    """A claim record as read (fields it does not hold, or holds garbage in, are None)."""

    state: str | None
    token: str | None
    worker: str | None
    claimed_at: object
    result_id: str | None

    @classmethod
    def of(cls, record):
        if not record:
            return None
        state = record.get("state")
        found = record.get("result_id")
        return cls(state=state if state in (CLAIMED, ENQUEUED) else None,
                   token=_short(record.get("token")), worker=_short(record.get("worker")),
                   claimed_at=_time(record.get("claimed_at")),
                   result_id=found if isinstance(found, str) and RESULT_ID.fullmatch(found)
                   else None)


@dataclass(frozen=True)
class Head:
    """A schedule's head record as read: since when it is known, and its last run."""

    since: int | None
    slot: int | None
    result_id: str | None
    run_at: object
    worker: str | None

    @classmethod
    def of(cls, record):
        record = record or {}
        found = record.get("result_id")
        return cls(since=_epoch(record.get("since")), slot=_epoch(record.get("slot")),
                   result_id=found if isinstance(found, str) and RESULT_ID.fullmatch(found)
                   else None,
                   run_at=_time(record.get("run_at")), worker=_short(record.get("worker")))


class ClaimStore:
    """Claims and heads of one store; each method is one call unless it says otherwise.
    Its errors are the store's (`results.STORE_ERRORS`)."""

    #: Where the records are, for messages and for `result_id`.
    location = ""

    def claim(self, key, record):
        """Write `record` as `key` only if there is no such record; whether it was."""
        raise NotImplementedError

    def take_over(self, key, token, record):
        """Write `record` over `key` only if its token is still `token`; whether it was."""
        raise NotImplementedError

    def start(self, key, since):
        """Set the head `key`'s `since` unless it has one; whether it was set."""
        raise NotImplementedError

    def update(self, key, attributes):
        """Set these attributes of `key`, keeping the others."""
        raise NotImplementedError

    def get(self, key):
        """The record `key` ({} if none), read consistently."""
        raise NotImplementedError

    def get_many(self, keys):
        """{key: record} of those of `keys` that exist."""
        raise NotImplementedError

    def prune(self, now):
        """Delete the claims past their `expires`; how many went."""
        raise NotImplementedError


def claim_store(backend):
    """The ClaimStore of an SQSBackend: in the store its results are in."""
    from .dynamodb import DynamoDBClaimStore
    from .simpledb import SimpleDBClaimStore

    config = backend.config
    # The results' own client (one connection pool, one set of settings for the store).
    client = backend.results.client
    if config.results_store == "dynamodb":
        return backend._built_on("schedules", client, lambda made: DynamoDBClaimStore(
            made, config.schedules_table))
    return backend._built_on("schedules", client, lambda made: SimpleDBClaimStore(
        made, config.schedules_domain))
