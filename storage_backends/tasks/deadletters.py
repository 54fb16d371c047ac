"""Dead letters for the admin: list, show, redrive and delete the messages of the DLQs.

SQS cannot read a message without receiving it, and acting on one (deleting it, changing
its visibility) takes the receipt handle of its latest receive. So:

- **Looking** (the list, one message) receives the dead-letter queue's messages with a
  short visibility (`LOOK_VISIBILITY`), long enough that the receives of one scan never
  return the same message twice, so a scan pages through the queue ten at a time; then it
  hands them all back at once (visibility 0). A page shows message ids and keeps no
  receipt handle: a reload or a second operator sees the same messages straight away.
- **Acting** (redrive, delete) goes by message id, which never changes. Only a message that
  can run (a task message this site reads, naming a task it has) may be redriven; any
  message may be deleted. It receives the
  queue again until it holds every selected message (or has seen as many as the queue
  holds, `MAX_SCANNED`, or `SCAN_SECONDS` have passed), acts with the receipt handles it
  has just got, and hands back the rest. A receipt handle kept from the page would be
  stale after any later receive (a delete with it may do nothing), and keeping the
  messages hidden from the page until the action would make them vanish on a reload.
  While one action holds a message another does not find it, and says so: two operators
  redriving the same message do not send it twice.

Every receive counts: each look adds one to a message's ApproximateReceiveCount. A message
the worker dead-lettered carries its reason (`stratus-reason`) and source queue
(`stratus-source-queue`); one that SQS moved itself, after the source queue's
maxReceiveCount receives without a delete, carries neither, and its source is the queue
whose `-dlq` this is.

A scan costs one GetQueueAttributes (how many messages are visible), then one
ReceiveMessage per ten messages (WaitTimeSeconds=1 while fewer are held than that count, so
SQS asks all its servers rather than a sample; one last short poll for any the lagging count
missed) and one ChangeMessageVisibilityBatch per ten to hand them back. Redriving sends
each message with its own SendMessage, so that each is deleted from the dead-letter queue
only once its own send succeeded; results are read in batches (one Select per 20, or one
BatchGetItem per 100) and reset in batches of 25; deletes go ten to a DeleteMessageBatch.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.tasks import TaskResultStatus

from .. import resources
from . import messages
from .messages import BadMessage
from .queues import MAX_BATCH, REASON, SOURCE
from .results import epoch
from .worker import SERVICE_ERRORS

logger = logging.getLogger("storage_backends.tasks.admin")

#: Seconds a message received to be looked at or acted on stays hidden if handing it back
#: fails; longer than a scan, so that one scan never receives a message twice.
LOOK_VISIBILITY = 30
#: Seconds one scan may go on receiving.
SCAN_SECONDS = 15
#: Most messages a page lists.
MAX_LISTED = 100
#: Most messages an action receives while looking for the selected ones.
MAX_SCANNED = 1000
#: Long-poll wait of each receive of a scan: SQS then asks all its servers, not a sample.
SCAN_WAIT_SECONDS = 1


def dead_letter_queue(name):
    """The DeadLetterQueue called `name`, or None if it is no task queue's DLQ."""
    for queue in resources.queues():
        if queue.dead_letter_name == name:
            return DeadLetterQueue(queue)
    return None


def rerun_record(record, retention):
    """Attributes that make a result READY to run again, with all its attempts ahead.

    The worker counts a task's attempts as len(worker_ids) - base (worker/running.py,
    `Runner._running_record`), so `base` is the number of attempts made so far; worker ids
    and errors are kept, as the history of the earlier runs.
    """
    try:
        worker_ids = json.loads(record.get("worker_ids") or "[]")
    except (ValueError, RecursionError):
        worker_ids = []
    if not isinstance(worker_ids, list):
        worker_ids = []  # a record nobody wrote: its history is lost either way
    return {"status": TaskResultStatus.READY.value, "base": str(len(worker_ids)),
            "finished_at": "", "lease": "", "mid": "",
            "expires": epoch(time.time() + retention)}


@dataclass
class DeadLetter:
    """One message of a dead-letter queue, as one receive returned it."""

    message_id: str
    receipt: str
    body: str
    reason: str
    source: str
    moved_by_sqs: bool
    sent_at: datetime | None
    receive_count: int
    payload: messages.Payload | None  # None if the body is no task message this site reads
    problem: str  # why the message can never run here (bad body, unknown task); "" if it can

    @property
    def can_run(self):
        """Whether a worker would run it: only such a message may be redriven."""
        return not self.problem

    @property
    def result_id(self):
        return self.payload.id if self.payload else None

    @property
    def task_path(self):
        return self.payload.task_path if self.payload else None

    def pretty_body(self):
        """The body, indented if it is a task message's JSON (the payload inside it too); as
        it came otherwise (it may nest too deeply to parse, or to print again)."""
        if not self.payload:
            return self.body
        try:
            envelope = json.loads(self.body)
            if isinstance(envelope.get("payload"), str):
                envelope = {**envelope, "payload": json.loads(envelope["payload"])}
            return json.dumps(envelope, indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            return self.body


@dataclass
class Outcome:
    """What an action did: message ids done, and {message id: why not} for the others."""

    done: list = field(default_factory=list)
    problems: dict = field(default_factory=dict)


class _Hold:
    """Messages received by a scan: the latest receive of each by id, and every receipt."""

    def __init__(self):
        self.messages = {}
        self.receipts = []
        self.settled = set()  # receipts deleted, not to be handed back


class DeadLetterQueue:
    """The dead-letter queue of one task queue (see the module docstring)."""

    def __init__(self, queue):
        self.queue = queue
        self.backend = queue.backend
        self.name = queue.dead_letter_name
        self.sqs = self.backend.sqs

    def counts(self):
        return self.sqs.counts(self.name)

    # -- looking ------------------------------------------------------------------------------
    def look(self, limit=MAX_LISTED):
        """Up to `limit` messages, newest sent first; all are handed back at once."""
        hold = _Hold()
        try:
            self._scan(hold, limit)
            letters = [self._describe(m) for m in hold.messages.values()]
        finally:
            self._hand_back(hold)
        return sorted(letters, key=lambda letter: letter.sent_at or datetime.min.replace(
            tzinfo=UTC), reverse=True)

    def get(self, message_id):
        """The message with this id, or None if the scan did not find it."""
        hold = _Hold()
        try:
            self._scan(hold, MAX_SCANNED, {message_id})
            found = hold.messages.get(message_id)
            return self._describe(found) if found else None
        finally:
            self._hand_back(hold)

    # -- acting ---------------------------------------------------------------------------------
    def redrive(self, message_ids):
        """Send the messages back to their source queues, then delete them here.

        Only a message that can run is redriven: one whose body is no task message this
        site reads, or whose task is unknown here, would only be dead-lettered again (under
        a new id, its receive history lost), so it is refused.

        A message whose task has a result is redriven only if that result is not
        SUCCESSFUL (a worker would just delete it), and its result is first made READY with
        fresh attempts (`rerun_record`): a worker deletes a message whose result is FAILED
        without running it, so the reset must be written before the message is sent.
        """
        outcome = Outcome()
        hold = _Hold()
        try:
            known = set(self.backend.config.sqs_names())
            letters = []
            for letter in self._find(hold, message_ids, outcome):
                if not letter.can_run:
                    self._refuse(outcome, letter, f"it can never run ({letter.problem}), so "
                                 f"a worker would only dead-letter it again; inspect or "
                                 f"delete it")
                elif letter.source in known:
                    letters.append(letter)
                else:
                    self._refuse(outcome, letter, f"its source queue {letter.source!r} is not "
                                 f"one of this backend's queues")
            records = self.backend.results.records_of(
                [letter.result_id for letter in letters if letter.payload])
            resets, sendable = {}, []
            for letter in letters:
                record = records.get(letter.result_id) if letter.payload else None
                if record and record.get("status") == TaskResultStatus.SUCCESSFUL:
                    self._refuse(outcome, letter, f"its task already succeeded (result "
                                 f"{letter.result_id}): a worker would only delete it")
                    continue
                if record:
                    resets[letter.result_id] = self.backend.results.revised(
                        record, rerun_record(record, self.backend.config.result_retention))
                sendable.append(letter)
            self.backend.results.put_many(resets)
            sent = []
            for letter in sendable:
                try:
                    self.sqs.send(letter.source, letter.body)
                except SERVICE_ERRORS as error:
                    self._refuse(outcome, letter, f"not sent to {letter.source}: {error}")
                    continue
                sent.append(letter)
            undeleted = self._delete(hold, sent)
            for letter in sent:
                if letter.receipt in undeleted:
                    self._refuse(outcome, letter, f"sent to {letter.source}, but not deleted "
                                 f"from {self.name}: it is now in both")
                else:
                    outcome.done.append(letter.message_id)
                    logger.info("redrive dlq=%s message=%s queue=%s result=%s", self.name,
                                letter.message_id, letter.source, letter.result_id)
        finally:
            self._hand_back(hold)
        return outcome

    def delete(self, message_ids):
        """Delete the messages. Their results stay as they are; a payload kept in S3 is
        left to the bucket's lifecycle rule (another copy of the message may still need it)."""
        outcome = Outcome()
        hold = _Hold()
        try:
            letters = self._find(hold, message_ids, outcome)
            undeleted = self._delete(hold, letters)
            for letter in letters:
                if letter.receipt in undeleted:
                    self._refuse(outcome, letter, "SQS did not delete it")
                else:
                    outcome.done.append(letter.message_id)
                    logger.info("delete dlq=%s message=%s result=%s", self.name,
                                letter.message_id, letter.result_id)
        finally:
            self._hand_back(hold)
        return outcome

    # -- the scan -------------------------------------------------------------------------------
    def _scan(self, hold, limit, wanted=None):
        """Receive until `limit` messages (or all of `wanted`) are held, or a receive
        returns none. Receives long-poll while fewer are held than SQS counts as visible,
        then one short poll looks for any the (approximate, lagging) count missed."""
        url = self.sqs.url(self.name)
        expected = self.counts()["ApproximateNumberOfMessages"]
        deadline = time.monotonic() + SCAN_SECONDS
        while len(hold.messages) < limit and time.monotonic() < deadline:
            if wanted is not None and wanted <= hold.messages.keys():
                return
            wait = SCAN_WAIT_SECONDS if len(hold.messages) < expected else 0
            received = self.sqs.receive(url, min(MAX_BATCH, limit - len(hold.messages)),
                                        wait, LOOK_VISIBILITY)
            if not received:
                return
            for message in received:
                hold.receipts.append(message["ReceiptHandle"])
                hold.messages[message["MessageId"]] = message

    def _find(self, hold, message_ids, outcome):
        wanted = set(message_ids)
        self._scan(hold, MAX_SCANNED, wanted)
        for message_id in sorted(wanted - hold.messages.keys()):
            outcome.problems[message_id] = (
                "not found: it is gone, or held by someone else's look for the next "
                f"{LOOK_VISIBILITY} seconds")
        return [self._describe(hold.messages[m]) for m in message_ids if m in hold.messages]

    def _delete(self, hold, letters):
        """Delete by the held receipts; returns those SQS did not delete."""
        receipts = [letter.receipt for letter in letters]
        if not receipts:
            return set()
        failed = set(self.sqs.delete_many(self.sqs.url(self.name), receipts))
        hold.settled.update(set(receipts) - failed)
        return failed

    def _hand_back(self, hold):
        receipts = [r for r in hold.receipts if r not in hold.settled]
        if not receipts:
            return
        try:
            failed = self.sqs.set_visibility_many(self.sqs.url(self.name),
                                                  [(r, 0) for r in receipts])
        except SERVICE_ERRORS as error:
            failed, reason = receipts, repr(error)
        else:
            reason = "refused"
        if failed:
            # They come back by themselves when LOOK_VISIBILITY ends.
            logger.warning("dlq=%s hand-back %s messages=%d", self.name, reason, len(failed))

    @staticmethod
    def _refuse(outcome, letter, reason):
        outcome.problems[letter.message_id] = reason

    def _describe(self, message):
        attributes = message.get("MessageAttributes", {})
        system = message.get("Attributes", {})
        reason = attributes.get(REASON, {}).get("StringValue")
        moved = reason is None
        if moved:
            reason = (f"moved by SQS after {self.queue.max_receive_count} receives without a "
                      f"delete (the source queue's maxReceiveCount)")
        sent = system.get("SentTimestamp")
        body = message.get("Body", "")
        payload, problem = None, ""
        try:
            payload = messages.decode(body, self.backend.payloads)
            messages.resolve_task(payload.task_path)
        except BadMessage as error:
            problem = error.reason
        except SERVICE_ERRORS as error:
            problem = f"its payload in S3 could not be read: {error}"
        return DeadLetter(
            message_id=message["MessageId"], receipt=message["ReceiptHandle"], body=body,
            reason=reason, source=attributes.get(SOURCE, {}).get("StringValue") or self.queue.name,
            moved_by_sqs=moved,
            sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
            receive_count=int(system.get("ApproximateReceiveCount", 0)),
            payload=payload, problem=problem,
        )
