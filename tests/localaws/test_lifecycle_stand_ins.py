"""The local stand-ins a worker on a scaled-in instance talks to: moto's Auto Scaling with
lifecycle actions (`localaws.lifecycle_actions`) and instance metadata (`localaws.imds`)."""

import urllib.request
from urllib.error import HTTPError

import boto3
import pytest
from botocore.exceptions import ClientError

from storage_backends import aws


def complete(group, result="CONTINUE"):
    aws.client("autoscaling").complete_lifecycle_action(
        LifecycleHookName=group.hook, AutoScalingGroupName=group.name,
        InstanceId=group.instance_id, LifecycleActionResult=result)


def test_a_terminate_hook_holds_a_scaled_in_instance_in_terminating_wait(scaling_group):
    scaling_group.scale_in()
    assert scaling_group.lifecycle_state() == "Terminating:Wait"


def test_completing_the_lifecycle_action_lets_the_instance_terminate(scaling_group, local_aws):
    scaling_group.scale_in()
    complete(scaling_group)
    assert scaling_group.lifecycle_state() is None
    # EC2 is no service of the site's: a plain client of the stack's moto.
    ec2 = boto3.client("ec2", endpoint_url=local_aws.moto_url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    [reservation] = ec2.describe_instances(
        InstanceIds=[scaling_group.instance_id])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "terminated"


def test_completing_an_action_no_hook_holds_is_a_validation_error(scaling_group):
    with pytest.raises(ClientError) as raised:
        complete(scaling_group)
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert "No active Lifecycle Action" in raised.value.response["Error"]["Message"]
    assert scaling_group.lifecycle_state() == "InService"


def test_a_heartbeat_is_accepted_only_while_the_hook_holds_the_instance(scaling_group):
    client = aws.client("autoscaling")
    names = {"LifecycleHookName": scaling_group.hook,
             "AutoScalingGroupName": scaling_group.name,
             "InstanceId": scaling_group.instance_id}
    with pytest.raises(ClientError):
        client.record_lifecycle_action_heartbeat(**names)
    scaling_group.scale_in()
    client.record_lifecycle_action_heartbeat(**names)
    assert scaling_group.lifecycle_state() == "Terminating:Wait"


def imds_request(url, method="GET", headers=None):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except HTTPError as error:
        return error.code, ""


def test_the_metadata_stand_in_serves_an_instance_its_items_with_a_token(metadata_server):
    instance = metadata_server.add_instance("i-0123456789abcdef0")
    status, token = imds_request(f"{instance.base_url}/latest/api/token", "PUT",
                                 {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200
    item = f"{instance.base_url}/latest/meta-data/autoscaling/target-lifecycle-state"
    assert imds_request(item, headers={"X-aws-ec2-metadata-token": token}) == (200, "InService")
    instance.target_lifecycle_state = "Terminated"
    assert imds_request(item, headers={"X-aws-ec2-metadata-token": token}) == (200, "Terminated")
    assert imds_request(f"{instance.base_url}/latest/meta-data/instance-id",
                        headers={"X-aws-ec2-metadata-token": token}) == (
        200, "i-0123456789abcdef0")


def test_the_metadata_stand_in_refuses_reads_without_a_token_as_imdsv2_does(metadata_server):
    instance = metadata_server.add_instance("i-0123456789abcdef1")
    assert imds_request(f"{instance.base_url}/latest/meta-data/instance-id")[0] == 401
    assert imds_request(f"{instance.base_url}/latest/api/token", "PUT")[0] == 400
