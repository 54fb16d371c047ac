"""deploy/stratus.yaml agrees with the code and with the local fleet.

The scaling targets, the health check and the worker's metric are the local fleet's
(localaws/fleet.py, localaws/autoscaling/policy.py, localaws/balancer/config.py); the
timeouts keep their order (docs/deploy.md, "Stopping in order"); the queues, tables and
bucket rules are those the code names and provision_aws makes. The code's side is read in a
process of its own with no STRATUS_, DJANGO_ or GUNICORN_ variable set: what a node gets
for every setting its stack.env leaves out.
"""

import ast
import json
import operator
import os
import re
import subprocess
import sys

import pytest

from localaws.autoscaling import policy
from localaws.balancer.config import ALB_HEALTH_CHECK
from localaws.fleet import WORKER_HOOK, FleetConfig
from storage_backends import provisioning
from storage_backends.dynamodb.client import EXPIRY

from .template import ROOT, load, resources
from .units import stop_timeout

#: The prefix the code is given below; in the template it is `${AWS::StackName}-`.
PREFIX = "prefix-"
STACK_PREFIX = "${AWS::StackName}-"

CODE_FACTS = """
import json, runpy
import django
django.setup()
from django.conf import settings
from storage_backends import resources
from storage_backends.tasks.options import parse

tasks = settings.TASKS["default"]
options = parse(tasks["OPTIONS"], tasks["QUEUES"])
gunicorn = runpy.run_path("gunicorn.conf.py")
print(json.dumps({
    "queues": options.sqs_names(),
    "max_receive_count": options.max_receive_count,
    "visibility_timeout": options.visibility_timeout,
    "wait_seconds": options.wait_seconds,
    "shutdown_grace": options.shutdown_grace,
    "lifecycle_poll": settings.STRATUS_WORKER_LIFECYCLE_POLL,
    "graceful_timeout": gunicorn["graceful_timeout"],
    "request_timeout": gunicorn["timeout"],
    "tables": resources.tables(),
    "domains": resources.domains(),
    "spill_prefixes": resources.spill_prefixes(settings.STRATUS_MEDIA_BUCKET),
}))
"""


def code_facts(state_store):
    """The code's names and timeouts under the stack's settings, with `PREFIX` for every
    name prefix, read by a fresh process."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("STRATUS_", "DJANGO_", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update(STRATUS_STATE_STORE=state_store, STRATUS_SQS_QUEUE_PREFIX=PREFIX,
               STRATUS_SIMPLEDB_DOMAIN_PREFIX=PREFIX, STRATUS_DYNAMODB_TABLE_PREFIX=PREFIX,
               DJANGO_SETTINGS_MODULE="project.settings")
    result = subprocess.run([sys.executable, "-c", CODE_FACTS], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def code():
    return code_facts("dynamodb")


@pytest.fixture(scope="module")
def code_on_simpledb():
    return code_facts("simpledb")


@pytest.fixture(scope="module")
def template():
    return load()


def default(template, parameter):
    return template["Parameters"][parameter]["Default"]


def properties(template, name):
    return template["Resources"][name]["Properties"]


def stack_named(sub):
    """`${AWS::StackName}-x` → `prefix-x`: a stack-named resource as the code names it."""
    text = sub["Fn::Sub"]
    assert text.startswith(STACK_PREFIX), text
    return PREFIX + text[len(STACK_PREFIX):]


def user_data(template, launch_template):
    """(script, variables) of a launch template's user data `!Sub`."""
    sub = properties(template, launch_template)["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    return sub["Fn::Sub"]


# -- scaling -----------------------------------------------------------------------------------

def test_web_target_is_the_local_fleets_requests_per_node_per_minute(template):
    assert float(default(template, "WebRequestsPerTarget")) == FleetConfig().web_target


def test_worker_target_is_the_local_fleets_acceptable_backlog(template):
    assert float(default(template, "WorkerBacklogPerInstance")) == FleetConfig().worker_target
    assert FleetConfig().worker_target == policy.acceptable_backlog_per_instance(10.0, 0.5)


def test_group_sizes_are_the_local_fleets(template):
    fleet = FleetConfig()
    assert [int(default(template, name)) for name in
            ("WebMinSize", "WebMaxSize", "WorkerMinSize", "WorkerMaxSize")] == [
        fleet.web_min, fleet.web_max, fleet.worker_min, fleet.worker_max]


def test_web_group_tracks_alb_request_count_per_target(template):
    scaling = properties(template, "WebScaling")
    tracking = scaling["TargetTrackingConfiguration"]
    assert scaling["AutoScalingGroupName"] == {"Ref": "WebGroup"}
    assert tracking["TargetValue"] == {"Ref": "WebRequestsPerTarget"}
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "ALBRequestCountPerTarget"


def test_worker_group_tracks_its_backlog_per_instance(template):
    scaling = properties(template, "WorkerScaling")
    assert scaling["AutoScalingGroupName"] == {"Ref": "WorkerGroup"}
    assert scaling["TargetTrackingConfiguration"]["TargetValue"] == {
        "Ref": "WorkerBacklogPerInstance"}


@pytest.mark.parametrize("visible, in_service", [
    ({"DefaultQueue": 1500, "DefaultHighQueue": 0}, 10),  # the Auto Scaling guide's example
    ({"DefaultQueue": 1000, "DefaultHighQueue": 500}, 10),
    ({"DefaultQueue": 7, "DefaultHighQueue": 3}, 1),
    ({"DefaultQueue": 0, "DefaultHighQueue": 0}, 3),
    ({"DefaultQueue": 41, "DefaultHighQueue": 2}, 3),
])
def test_worker_metric_math_is_the_local_controllers_backlog_per_instance(
        template, visible, in_service):
    expression, inputs = worker_metric(template)
    values = {}
    for metric_id, source in inputs.items():
        values[metric_id] = in_service if source == "in service" else visible[source]
    expected = policy.backlog_per_instance(sum(visible.values()), in_service)
    assert evaluate(expression, values) == pytest.approx(expected)


def test_worker_metric_counts_every_queue_the_workers_poll_and_no_dead_letter_queue(
        template, code):
    _expression, inputs = worker_metric(template)
    counted = {stack_named(properties(template, source)["QueueName"])
               for source in inputs.values() if source != "in service"}
    assert counted == set(code["queues"])


def test_worker_group_keeps_one_instance_for_its_metric_to_exist(template):
    """With no worker in service the metric divides by zero and has no datapoint (what
    policy.backlog_per_instance counts as one instance locally)."""
    assert template["Parameters"]["WorkerMinSize"]["MinValue"] >= 1


# -- health check and timeouts ------------------------------------------------------------

def test_target_group_health_check_is_the_local_balancers(template):
    group = properties(template, "WebTargetGroup")
    check = ALB_HEALTH_CHECK
    assert (group["HealthCheckPath"], group["HealthCheckIntervalSeconds"],
            group["HealthCheckTimeoutSeconds"], group["HealthyThresholdCount"],
            group["UnhealthyThresholdCount"]) == (
        check.path, check.interval, check.timeout, check.healthy_threshold,
        check.unhealthy_threshold)
    assert group["Matcher"] == {"HttpCode": "200"}
    assert group["HealthCheckPort"] == "traffic-port" and group["Port"] == 8000


def deregistration_delay(template):
    attributes = {attribute["Key"]: attribute["Value"]
                  for attribute in properties(template, "WebTargetGroup")["TargetGroupAttributes"]}
    return int(attributes["deregistration_delay.timeout_seconds"])


def test_deregistration_delay_outlasts_gunicorns_graceful_stop(template, code):
    assert deregistration_delay(template) > code["graceful_timeout"]


def test_deregistration_delay_outlasts_the_longest_request(template, code):
    """A request may run for gunicorn's timeout, and nginx waits 5 s more for its answer
    (apps.ops.node.Node.render_config, proxy_read_timeout)."""
    assert deregistration_delay(template) > code["request_timeout"] + 5


def test_deregistration_delay_outlasts_the_web_units_ordered_stop(template):
    """The balancer stops sending first; then systemd stops nginx, then gunicorn, within
    the unit's TimeoutStopSec (deploy/systemd/stratus-web.service)."""
    assert deregistration_delay(template) > stop_timeout("stratus-web.service")


def worker_hook(template):
    [hook] = properties(template, "WorkerGroup")["LifecycleHookSpecificationList"]
    return hook


def test_worker_hook_holds_terminating_workers_and_then_lets_them_go(template):
    hook = worker_hook(template)
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert hook["DefaultResult"] == "CONTINUE"


def test_worker_hook_outlasts_the_drain_and_a_message_coming_back(template, code):
    assert worker_hook(template)["HeartbeatTimeout"] > \
        code["shutdown_grace"] + code["visibility_timeout"]


def test_worker_hook_outlasts_the_worker_units_stop(template):
    assert worker_hook(template)["HeartbeatTimeout"] > stop_timeout("stratus-worker.service")


def test_worker_hook_outlasts_the_drain_after_a_metadata_poll(template, code):
    """docs/tasks.md: above SHUTDOWN_GRACE plus one poll of the instance metadata."""
    assert worker_hook(template)["HeartbeatTimeout"] > \
        code["shutdown_grace"] + code["lifecycle_poll"]


def test_worker_is_told_the_hooks_name_which_is_the_local_fleets(template):
    script, variables = user_data(template, "WorkerLaunchTemplate")
    assert "STRATUS_WORKER_LIFECYCLE_HOOK=${WorkerHook}" in script
    assert variables["WorkerHook"] == worker_hook(template)["LifecycleHookName"] == WORKER_HOOK


def test_worker_is_told_its_groups_name(template):
    script, _variables = user_data(template, "WorkerLaunchTemplate")
    group = properties(template, "WorkerGroup")["AutoScalingGroupName"]["Fn::Sub"]
    assert f"STRATUS_WORKER_AUTOSCALING_GROUP={group}\n" in script


# -- names and shapes ---------------------------------------------------------------------------

def test_queues_are_the_task_backends_with_their_dead_letter_queues(template, code):
    names = {stack_named(queue["Properties"]["QueueName"])
             for queue in resources(template, "AWS::SQS::Queue").values()}
    assert names == {name + suffix for name in code["queues"] for suffix in ("", "-dlq")}


def test_each_queue_is_configured_as_the_task_backend_expects(template, code):
    queues = resources(template, "AWS::SQS::Queue")
    by_name = {queue["Properties"]["QueueName"]["Fn::Sub"]: logical
               for logical, queue in queues.items()}
    for logical, queue in queues.items():
        settings = queue["Properties"]
        if settings["QueueName"]["Fn::Sub"].endswith("-dlq"):
            assert settings["MessageRetentionPeriod"] == \
                provisioning.resources.DEAD_LETTER_RETENTION_SECONDS
            continue
        dead_letters = by_name[settings["QueueName"]["Fn::Sub"] + "-dlq"]
        assert settings["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dead_letters, "Arn"]},
            "maxReceiveCount": code["max_receive_count"]}
        assert (settings["VisibilityTimeout"], settings["ReceiveMessageWaitTimeSeconds"]) == (
            code["visibility_timeout"], code["wait_seconds"])


def test_dynamodb_tables_are_those_the_code_uses(template, code):
    names = {stack_named(table["Properties"]["TableName"])
             for table in resources(template, "AWS::DynamoDB::Table").values()}
    assert names == set(code["tables"])


def test_dynamodb_tables_have_the_shape_provisioning_gives_them(template):
    for table in resources(template, "AWS::DynamoDB::Table").values():
        settings = table["Properties"]
        assert table["Condition"] == "UseDynamoDB"
        assert settings["KeySchema"] == provisioning.TABLE_KEY["KeySchema"]
        assert settings["AttributeDefinitions"] == provisioning.TABLE_KEY["AttributeDefinitions"]
        assert settings["BillingMode"] == "PAY_PER_REQUEST"
        assert settings["TimeToLiveSpecification"] == {"AttributeName": EXPIRY, "Enabled": True}
        assert settings["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True}


def test_one_simpledb_domain_per_domain_the_code_uses_each_told_to_the_nodes(
        template, code_on_simpledb):
    """CloudFormation names SimpleDB domains itself, so each one's name goes to the nodes
    in a variable of its own, named for the code's domain."""
    domains = resources(template, "AWS::SDB::Domain")
    assert all(domain["Condition"] == "UseSimpleDB" for domain in domains.values())
    script, variables = user_data(template, "WebLaunchTemplate")
    told = {}
    for line in script.splitlines():
        found = re.fullmatch(r"STRATUS_SIMPLEDB_([A-Z_]+)_DOMAIN=\$\{(\w+)\}", line)
        if found:
            told[found.group(1).lower().replace("_", "-")] = \
                variables[found.group(2)]["Fn::If"][1]["Ref"]
    assert set(told) == {name[len(PREFIX):] for name in code_on_simpledb["domains"]}
    assert set(told.values()) == set(domains)


def test_media_bucket_expires_every_spill_prefix_after_the_codes_days(template, code):
    rules = properties(template, "MediaBucket")["LifecycleConfiguration"]["Rules"]
    expiring = {rule["Prefix"]: rule["ExpirationInDays"] for rule in rules if "Prefix" in rule}
    assert expiring == {prefix: provisioning.resources.SPILL_EXPIRY_DAYS
                        for prefix in code["spill_prefixes"]}


def test_both_buckets_abort_incomplete_multipart_uploads_as_provisioning_does(template):
    for bucket in ("MediaBucket", "StaticBucket"):
        rules = properties(template, bucket)["LifecycleConfiguration"]["Rules"]
        assert {"AbortIncompleteMultipartUpload": {
            "DaysAfterInitiation": provisioning.ABORT_INCOMPLETE_UPLOADS_DAYS}}.items() <= \
            next(rule for rule in rules if "AbortIncompleteMultipartUpload" in rule).items()


def test_every_mention_of_the_sites_url_is_the_same(template):
    """The site's origin is written out where it is needed (CloudFormation has no variables):
    the buckets' CORS, both nodes' STRATUS_SITE_URL and the SiteUrl output."""
    site_url = template["Outputs"]["SiteUrl"]["Value"]
    for bucket in ("MediaBucket", "StaticBucket"):
        for rule in properties(template, bucket)["CorsConfiguration"]["CorsRules"]:
            assert rule["AllowedOrigins"] == [site_url]
    for launch_template in ("WebLaunchTemplate", "WorkerLaunchTemplate"):
        script, variables = user_data(template, launch_template)
        assert "STRATUS_SITE_URL=${SiteUrl}\n" in script
        assert variables["SiteUrl"] == site_url


# -- the worker metric's expression ------------------------------------------------------------

def worker_metric(template):
    """(expression, {metric id: queue logical id or "in service"}) of WorkerScaling."""
    queries = properties(template, "WorkerScaling")["TargetTrackingConfiguration"][
        "CustomizedMetricSpecification"]["Metrics"]
    [returned] = [query for query in queries if query.get("ReturnData")]
    inputs = {}
    for query in queries:
        if "MetricStat" not in query:
            continue
        metric = query["MetricStat"]["Metric"]
        [dimension] = metric["Dimensions"]
        if (metric["Namespace"], metric["MetricName"]) == (
                "AWS/SQS", "ApproximateNumberOfMessagesVisible"):
            assert dimension["Name"] == "QueueName"
            inputs[query["Id"]] = dimension["Value"]["Fn::GetAtt"][0]
        else:
            assert (metric["Namespace"], metric["MetricName"], dimension) == (
                "AWS/AutoScaling", "GroupInServiceInstances",
                {"Name": "AutoScalingGroupName", "Value": {"Ref": "WorkerGroup"}})
            inputs[query["Id"]] = "in service"
    return returned["Expression"], inputs


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv}


def evaluate(expression, values):
    """A metric math expression of + - * / and metric ids, with one number per id."""
    def value(node):
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        raise ValueError(f"not arithmetic on metrics: {ast.dump(node)}")

    return value(ast.parse(expression, mode="eval").body)
