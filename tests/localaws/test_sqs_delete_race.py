"""The local stack's moto keeps a message sent while another is being deleted."""

import threading

import boto3
from moto.sqs.models import Queue

from localaws import sqs_delete_race

#: Seconds the send is given to slip into a delete in progress (it must not manage to).
SLIP_WINDOW = 0.5


def test_a_message_sent_during_a_delete_is_kept(local_aws, monkeypatch):
    sqs = boto3.client("sqs", endpoint_url=local_aws.moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    url = sqs.create_queue(QueueName="delete-race")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]

    sent = threading.Event()
    sender = threading.Thread(
        target=lambda: (sqs.send_message(QueueUrl=url, MessageBody="second"), sent.set()))
    # moto's own method, under the fix the stack installed at start (functools.wraps).
    original = getattr(Queue.delete_message, "__wrapped__", Queue.delete_message)

    def delete_while_a_send_arrives(self, receipt_handle):
        # moto rebuilds the list while deleting: send another message during that moment.
        messages = self._messages
        self._messages = _SendsWhileRead(messages, sender, sent)
        return original(self, receipt_handle)

    monkeypatch.setattr(Queue, "delete_message", delete_while_a_send_arrives)
    monkeypatch.setattr(sqs_delete_race, "_done", False)
    sqs_delete_race.install()  # wraps the instrumented delete in the fix, as at start-up
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    sender.join(timeout=30)

    assert sent.is_set()
    bodies = [m["Body"] for m in sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
    assert bodies == ["second"]


class _SendsWhileRead(list):
    """A message list whose second walk (moto's rebuild, after its check for the handle)
    ends by letting a send try to append: the moment between the rebuild's reading of
    the list and the new list's assignment, where moto loses a message."""

    def __init__(self, messages, sender, sent):
        super().__init__(messages)
        self.sender, self.sent = sender, sent
        self.walks = 0

    def __iter__(self):
        self.walks += 1
        yield from list(super().__iter__())
        if self.walks == 2:
            self.sender.start()
            self.sent.wait(SLIP_WINDOW)  # with the fix the send waits for the lock
