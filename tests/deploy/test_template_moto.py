"""deploy/stratus.yaml deployed into moto's CloudFormation on the suite's local stack.

moto's CloudFormation lacks some of the template's resource types (moto_stack.MOTO_LACKS:
scaling policies, CloudFront, alarms, bucket policies, SimpleDB domains, the SNS
subscription, Secrets Manager secrets): the stack deployed is the template without them,
each reference to one replaced by a `moto-lacks-<name>` text (tests.deploy.moto_stack).
Everything else is created by moto from the template as written, with each test's own stack
name, so its queues, tables and groups are its own. What moto's CloudFormation skips of the
resources it does make (bucket CORS and lifecycle rules, table TTL, target group attributes,
the worker group's lifecycle hook) is checked on the `completed` stack only, after
`MotoStack.apply_skipped` made the calls CloudFormation makes for those properties.
"""

import json
import os
import subprocess
import sys

import pytest

from localaws.autoscaling.service import local_client
from storage_backends.tasks.lifecycle import InstanceMetadata, LifecycleHook
from storage_backends.tasks.options import parse

from .moto_stack import MOTO_LACKS, MotoStack
from .template import ROOT, load

#: moto's own region and account: the stack's ARNs and queue URLs are in them.
REGION = "us-east-1"


@pytest.fixture(scope="module")
def network(local_aws):
    """A VPC of moto's with public and private subnets in two zones: the stack's parameters."""
    ec2 = local_client("ec2", local_aws.moto_url)
    vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]

    def subnets(third_octets):
        return ",".join(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.80.{octet}.0/24",
                                          AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                        for octet, zone in zip(third_octets, "ab"))

    return {"VpcId": vpc, "PublicSubnetIds": subnets((0, 1)),
            "PrivateSubnetIds": subnets((10, 11)), "ReleaseBucket": "stratus-releases"}


@pytest.fixture(scope="module")
def deploy(local_aws, network):
    """deploy(**parameters): a new stack of the template; all are deleted at the end."""
    made = []

    def deploy(**parameters):
        made.append(MotoStack(local_aws.moto_url, load(), {**network, **parameters}).create())
        return made[-1]

    yield deploy
    for stack in made:
        stack.delete()


@pytest.fixture(scope="module")
def stack(deploy):
    """The stack as moto's CloudFormation makes it, on DynamoDB."""
    return deploy(StateStore="dynamodb")


@pytest.fixture(scope="module")
def completed(deploy):
    """Another such stack, with what moto's CloudFormation skips applied from the template."""
    deployed = deploy(StateStore="dynamodb")
    deployed.apply_skipped()
    return deployed


def test_moto_lacks_exactly_the_types_the_deployed_stack_leaves_out():
    from moto.cloudformation.parsing import get_model_map

    used = {resource["Type"] for resource in load()["Resources"].values()}
    assert used - set(get_model_map()) == MOTO_LACKS


def test_the_stack_is_created(stack):
    assert stack.description()["StackStatus"] == "CREATE_COMPLETE"


def test_every_resource_moto_supports_is_created(stack):
    template = load()
    wanted = {name for name, resource in template["Resources"].items()
              if resource["Type"] not in MOTO_LACKS
              # conditional on the choices this stack did not make
              and resource.get("Condition") not in ("UseSimpleDB", "HasCertificate",
                                                    "HasAlarmEmail")}
    assert set(stack.physical_ids()) == wanted


def test_task_queues_are_those_the_task_backend_names_for_the_stack_prefix(stack):
    stack_env = stack.stack_env("WebLaunchTemplate")
    options = parse({"QUEUE_PREFIX": stack_env["STRATUS_SQS_QUEUE_PREFIX"]}, ["default"])
    sqs = stack.client("sqs")
    made = sqs.list_queues(QueueNamePrefix=stack.name)["QueueUrls"]
    names = {url.rsplit("/", 1)[1] for url in made}
    assert names == {name + suffix for name in options.sqs_names() for suffix in ("", "-dlq")}


def test_each_task_queue_sends_dead_letters_to_its_own_dead_letter_queue(stack):
    sqs = stack.client("sqs")
    for name in (f"{stack.name}-default", f"{stack.name}-default-high"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"].endswith(f":{name}-dlq")
        assert int(redrive["maxReceiveCount"]) == 10
        assert attributes["VisibilityTimeout"] == "60"
        assert attributes["ReceiveMessageWaitTimeSeconds"] == "20"


def test_dead_letter_queues_keep_messages_fourteen_days(stack):
    sqs = stack.client("sqs")
    for name in (f"{stack.name}-default-dlq", f"{stack.name}-default-high-dlq"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        retention = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
        assert retention["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_dynamodb_tables_are_keyed_by_k_and_billed_on_demand(stack):
    dynamodb = stack.client("dynamodb")
    for suffix in ("sessions", "cache", "login-failures", "task-results", "task-metrics",
                   "task-schedules"):
        table = dynamodb.describe_table(TableName=f"{stack.name}-{suffix}")["Table"]
        assert table["KeySchema"] == [{"AttributeName": "k", "KeyType": "HASH"}]
        assert table["AttributeDefinitions"] == [{"AttributeName": "k", "AttributeType": "S"}]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_buckets_are_encrypted(stack):
    s3 = stack.client("s3")
    made = stack.physical_ids()
    for bucket in (made["MediaBucket"], made["StaticBucket"]):
        [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_target_group_checks_readyz_on_the_node_port(stack):
    elbv2 = stack.client("elbv2")
    [group] = elbv2.describe_target_groups(
        TargetGroupArns=[stack.physical_ids()["WebTargetGroup"]])["TargetGroups"]
    assert (group["Port"], group["HealthCheckPath"], group["Matcher"]) == (
        8000, "/readyz", {"HttpCode": "200"})
    assert group["LoadBalancerArns"] == [stack.physical_ids()["LoadBalancer"]]


def test_without_a_certificate_port_80_forwards_to_the_nodes(stack):
    elbv2 = stack.client("elbv2")
    [listener] = elbv2.describe_listeners(
        LoadBalancerArn=stack.physical_ids()["LoadBalancer"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")
    assert listener["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": stack.physical_ids()["WebTargetGroup"]}]


def test_web_group_is_replaced_by_the_balancer_health_check_after_a_grace_period(stack):
    autoscaling = stack.client("autoscaling")
    [group] = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.outputs()["WebGroupName"]])["AutoScalingGroups"]
    assert (group["HealthCheckType"], group["HealthCheckGracePeriod"]) == ("ELB", 420)
    assert group["TargetGroupARNs"] == [stack.physical_ids()["WebTargetGroup"]]
    assert (group["MinSize"], group["MaxSize"]) == (2, 4)


def test_worker_group_is_the_one_its_stack_env_names(stack):
    stack_env = stack.stack_env("WorkerLaunchTemplate")
    autoscaling = stack.client("autoscaling")
    [group] = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack_env["STRATUS_WORKER_AUTOSCALING_GROUP"]])[
        "AutoScalingGroups"]
    assert group["AutoScalingGroupName"] == stack.outputs()["WorkerGroupName"]
    assert (group["MinSize"], group["MaxSize"]) == (1, 3)


def test_stack_env_names_the_stacks_own_resources(stack):
    made = stack.physical_ids()
    for launch_template, role, log_group in (("WebLaunchTemplate", "web", "WebLogGroup"),
                                             ("WorkerLaunchTemplate", "worker", "WorkerLogGroup")):
        stack_env = stack.stack_env(launch_template)
        assert stack_env["STRATUS_ROLE"] == role
        assert stack_env["STRATUS_MEDIA_BUCKET"] == made["MediaBucket"]
        assert stack_env["STRATUS_STATIC_BUCKET"] == made["StaticBucket"]
        assert stack_env["STRATUS_LOG_GROUP"] == made[log_group]
        assert stack_env["STRATUS_SITE_URL"] == stack.outputs()["SiteUrl"]
        assert stack_env["STRATUS_DATABASE_NAME"] == "stratus"
        assert stack_env["DJANGO_ENV"] == "production"


def test_provision_check_finds_the_stack_as_the_settings_need_it(completed, local_aws):
    """`manage.py provision_aws --check` (storage_backends.provisioning) under the settings a
    web node gets from its stack.env: every bucket, queue and table it names is there, with
    public access blocked, CORS for the site, the lifecycle rules, redrive, TTL and
    point-in-time recovery."""
    result = provision_check(completed.stack_env("WebLaunchTemplate"), local_aws)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All AWS resources are in place." in result.stdout


def test_worker_completes_the_stacks_hook_by_the_names_its_stack_env_gives(
        completed, metadata_server):
    """A scaled-in worker instance waits in Terminating:Wait until the worker, knowing only
    its stack.env's hook and group, completes the action."""
    stack_env = completed.stack_env("WorkerLaunchTemplate")
    autoscaling = completed.client("autoscaling")
    group = stack_env["STRATUS_WORKER_AUTOSCALING_GROUP"]
    instance_id = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    metadata = metadata_server.add_instance(instance_id)
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=instance_id, ShouldDecrementDesiredCapacity=True)
    metadata.target_lifecycle_state = "Terminated"
    assert lifecycle_state(autoscaling, instance_id) == "Terminating:Wait"

    hook = LifecycleHook(stack_env["STRATUS_WORKER_LIFECYCLE_HOOK"], group=group,
                         metadata=InstanceMetadata(metadata.base_url))
    assert hook.finish()
    assert lifecycle_state(autoscaling, instance_id) in (None, "Terminating:Proceed",
                                                        "Terminated")


def test_on_simpledb_the_stack_makes_no_tables(deploy):
    simpledb = deploy(StateStore="simpledb")
    made = simpledb.physical_ids()
    assert not {"SessionsTable", "CacheTable", "LoginFailuresTable", "TaskResultsTable",
                "TaskMetricsTable"} & set(made)
    assert simpledb.stack_env("WebLaunchTemplate")["STRATUS_STATE_STORE"] == "simpledb"


def test_with_a_certificate_port_80_redirects_to_https_on_443(deploy, local_aws):
    acm = local_client("acm", local_aws.moto_url)
    certificate = acm.request_certificate(DomainName="stratus.example.com")["CertificateArn"]
    secure = deploy(DomainName="stratus.example.com", CertificateArn=certificate)
    elbv2 = secure.client("elbv2")
    listeners = {listener["Port"]: listener for listener in elbv2.describe_listeners(
        LoadBalancerArn=secure.physical_ids()["LoadBalancer"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == certificate
    [redirect] = listeners[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert (redirect["RedirectConfig"]["Protocol"], redirect["RedirectConfig"]["Port"],
            redirect["RedirectConfig"]["StatusCode"]) == ("HTTPS", "443", "HTTP_301")
    assert secure.outputs()["SiteUrl"] == "https://stratus.example.com"


def lifecycle_state(autoscaling, instance_id):
    found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])
    states = [instance["LifecycleState"] for instance in found["AutoScalingInstances"]]
    return states[0] if states else None


def provision_check(stack_env, local_aws):
    """`manage.py provision_aws --check` in production mode with `stack_env`, against the
    local stack. The secrets a node reads at start stand in as a throwaway key and SQLite."""
    inherited = {name: value for name, value in os.environ.items()
                 if not name.startswith(("STRATUS_", "DJANGO_", "AWS_", "DATABASE_"))}
    env = {**inherited, **stack_env, **local_aws.environment,
           "DATABASE_URL": "sqlite://:memory:", "DJANGO_SECRET_KEY": "test-only-" + "k" * 50}
    return subprocess.run([sys.executable, "manage.py", "provision_aws", "--check"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
