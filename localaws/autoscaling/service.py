"""The groups as moto's Auto Scaling holds them: launch template, group, hook, instances.

Auto Scaling's own API is the record of which instances exist, so a worker completing its
lifecycle action (through `aws.client("autoscaling")`, as on AWS) changes the same state the
controller reads. moto launches an instance (an id) when the desired capacity rises or an
instance is terminated without decrement; the controller gives each id a process.
"""

from dataclasses import dataclass

import boto3
from botocore.config import Config

#: An AMI moto knows; no machine image is ever booted locally.
IMAGE_ID = "ami-12c6146b"
ZONE = "us-east-1a"
TERMINATE_HOOK = "autoscaling:EC2_INSTANCE_TERMINATING"
#: Lifecycle states of instances that are, or are becoming, in service.
SERVING_STATES = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")


@dataclass(frozen=True)
class GroupSpec:
    """One Auto Scaling group: its name, bounds and (for workers) its terminate hook."""

    name: str
    min_size: int
    max_size: int
    #: The terminate lifecycle hook's name, or "" for none.
    terminate_hook: str = ""
    #: The hook's HeartbeatTimeout: how long a terminating instance may take to complete it.
    hook_timeout: int = 60


def local_client(service, endpoint_url, region="us-east-1"):
    """A boto3 client of the local stack's `service` (moto accepts any credentials)."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region,
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"mode": "standard", "max_attempts": 3},
                                      connect_timeout=2, read_timeout=10))


class AutoScalingService:
    """Calls on moto's Auto Scaling (and EC2, for the launch template) at `endpoint_url`."""

    def __init__(self, endpoint_url):
        self.autoscaling = local_client("autoscaling", endpoint_url)
        self.ec2 = local_client("ec2", endpoint_url)

    def create_group(self, spec):
        """The group at its minimum size (and its hook); returns the instance ids launched."""
        template = f"{spec.name}-template"
        self.ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
            "ImageId": IMAGE_ID, "InstanceType": "t3.micro"})
        self.autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=spec.name, MinSize=spec.min_size, MaxSize=spec.max_size,
            DesiredCapacity=spec.min_size, AvailabilityZones=[ZONE],
            LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"})
        if spec.terminate_hook:
            self.autoscaling.put_lifecycle_hook(
                AutoScalingGroupName=spec.name, LifecycleHookName=spec.terminate_hook,
                LifecycleTransition=TERMINATE_HOOK, HeartbeatTimeout=spec.hook_timeout,
                DefaultResult="CONTINUE")

    def instances(self, group):
        """{instance id: lifecycle state} of the group's instances."""
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        groups = found["AutoScalingGroups"]
        if not groups:
            return {}
        return {i["InstanceId"]: i["LifecycleState"] for i in groups[0].get("Instances", [])}

    def desired_capacity(self, group):
        found = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        return found["AutoScalingGroups"][0]["DesiredCapacity"]

    def set_desired_capacity(self, group, capacity):
        self.autoscaling.set_desired_capacity(AutoScalingGroupName=group,
                                              DesiredCapacity=capacity)

    def terminate(self, instance_id, *, replace):
        """Terminate one instance; `replace`: launch another in its place (no decrement).

        In a group with a terminate hook the instance waits in Terminating:Wait until its
        lifecycle action is completed (`localaws.lifecycle_actions`).
        """
        self.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=instance_id, ShouldDecrementDesiredCapacity=not replace)

    def set_unhealthy(self, instance_id):
        self.autoscaling.set_instance_health(InstanceId=instance_id, HealthStatus="Unhealthy")

    def abandon(self, group, hook, instance_id):
        """End a waiting termination as the hook's timeout would (the instance is gone)."""
        self.autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group, LifecycleHookName=hook, InstanceId=instance_id,
            LifecycleActionResult="ABANDON")
