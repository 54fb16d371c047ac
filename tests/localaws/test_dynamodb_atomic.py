"""The local stack's moto applies DynamoDB item operations one at a time, as DynamoDB
applies each write to an item atomically."""

import threading

import boto3
from moto.dynamodb.models import DynamoDBBackend

from localaws import dynamodb_atomic
from tests.fixtures.dynamodb import create_table

#: Seconds a second operation is given to slip into a write in progress (it must not).
SLIP_WINDOW = 0.5


def test_an_operation_waits_for_a_write_in_progress_on_the_table(django_on_local_aws,
                                                                 monkeypatch):
    dynamodb = boto3.client("dynamodb", endpoint_url=django_on_local_aws.moto_url,
                            region_name="us-east-1", aws_access_key_id="local",
                            aws_secret_access_key="local")
    table = create_table("atomic-writes")
    key = {"k": {"S": "counter"}}
    inside, release = threading.Event(), threading.Event()
    update = getattr(DynamoDBBackend.update_item, "__wrapped__", DynamoDBBackend.update_item)

    def update_held_open(*args, **kwargs):
        inside.set()  # moto is part-way through the write...
        release.wait(30)  # ...and stays there until the test has tried to slip in
        return update(*args, **kwargs)

    for name in dynamodb_atomic.OPERATIONS:  # all restored after the test
        monkeypatch.setattr(DynamoDBBackend, name, getattr(DynamoDBBackend, name))
    monkeypatch.setattr(DynamoDBBackend, "update_item", update_held_open)
    monkeypatch.setattr(dynamodb_atomic, "_done", False)
    dynamodb_atomic.install()  # wraps the held-open update in the fix, as at start-up

    writer = threading.Thread(target=lambda: dynamodb.update_item(
        TableName=table, Key=key, UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}}))
    writer.start()
    assert inside.wait(30)
    read = threading.Event()
    reader = threading.Thread(target=lambda: (
        dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True), read.set()))
    reader.start()

    assert not read.wait(SLIP_WINDOW)  # the read waits for the write to finish
    release.set()
    writer.join(30)
    assert read.wait(30)
    reader.join(30)
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "1"}
