"""`python -m localaws` and its in-process twin serve S3, SQS and SimpleDB together."""

import os
import signal
import subprocess
import sys
import uuid

import boto3
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_s3_through_the_endpoint_variable(aws_env):
    s3 = boto3.client("s3")
    bucket = f"stack-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read() == b"hello"


def test_sqs_through_the_endpoint_variable(aws_env):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"stack-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="job")
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "job"


def test_simpledb_through_the_endpoint_variable(aws_env, local_aws):
    sdb = boto3.client("sdb")
    assert sdb.meta.endpoint_url == local_aws.simpledb.endpoint_url
    domain = f"stack-{uuid.uuid4().hex[:8]}"
    sdb.create_domain(DomainName=domain)
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=[{"Name": "k", "Value": "v"}])
    assert sdb.select(SelectExpression=f"select * from `{domain}`",
                      ConsistentRead=True)["Items"][0]["Name"] == "i"


@pytest.fixture
def stack_process():
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "localaws", "--moto-port", "0", "--simpledb-port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    endpoints = {}
    for line in process.stdout:
        if "=" in line:
            name, url = line.strip().split("=", 1)
            endpoints[name] = url
        if len(endpoints) == 3:
            break
    yield process, endpoints
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def test_command_prints_the_three_endpoints(stack_process):
    _process, endpoints = stack_process
    assert set(endpoints) == {
        "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_SIMPLEDB"
    }
    sdb = boto3.client("sdb", endpoint_url=endpoints["AWS_ENDPOINT_URL_SIMPLEDB"],
                       region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    assert sdb.list_domains()["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_command_exits_cleanly_on_signal(stack_process, signum):
    process, _endpoints = stack_process
    process.send_signal(signum)
    assert process.wait(timeout=30) == 0
    assert "Local AWS stack stopped." in process.stdout.read()
