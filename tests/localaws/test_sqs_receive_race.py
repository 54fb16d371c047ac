"""The local stack's moto hands a message to one receive, however two receives interleave."""

import threading

import boto3
from moto.sqs.models import Message

#: Seconds a second receive is given to slip into the first (it must not manage to).
SLIP_WINDOW = 0.5


def test_a_message_is_not_handed_to_a_second_receive_while_the_first_takes_it(
        local_aws, monkeypatch):
    sqs = boto3.client("sqs", endpoint_url=local_aws.moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    url = sqs.create_queue(QueueName="receive-race")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="only")

    second = []
    received = threading.Event()
    receiver = threading.Thread(target=lambda: (second.extend(sqs.receive_message(
        QueueUrl=url, VisibilityTimeout=60).get("Messages", [])), received.set()))
    mark_received = Message.mark_received

    def second_receive_slips_in(self, visibility_timeout=None):
        # moto found the message visible and is about to mark it: a second receive now.
        if not receiver.is_alive() and not received.is_set():
            receiver.start()
            received.wait(SLIP_WINDOW)  # with the fix the second receive waits for the lock
        return mark_received(self, visibility_timeout)

    monkeypatch.setattr(Message, "mark_received", second_receive_slips_in)
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60).get("Messages", [])
    receiver.join(timeout=30)

    assert received.is_set()
    assert [m["Body"] for m in first + second] == ["only"]
