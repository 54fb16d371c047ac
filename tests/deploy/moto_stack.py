"""deploy/stratus.yaml as a stack in moto's CloudFormation (the suite's local stack).

moto's CloudFormation creates only the resource types it has a model for; for the others it
logs a warning and leaves every reference to them empty, and a `Fn::GetAtt` of one fails the
whole stack. So the stack deployed here is the template without the types moto lacks
(`MOTO_LACKS`), each reference to a removed resource replaced by the text
`moto-lacks-<logical id>`. Everything else is the template as written.

Of the resources it does create, moto's CloudFormation also skips some properties (it
creates the bucket but not its CORS rules, the table but not its TTL). `apply_skipped`
makes, for exactly those properties, the API call CloudFormation itself makes, with the
template's values, so that the stack can be checked as a whole (`provision_aws --check`).
"""

import base64
import json
import re
import uuid

from localaws.autoscaling.service import local_client

from .template import SUB_NAME

#: Resource types of the template that moto 5.2's CloudFormation has no model for.
MOTO_LACKS = frozenset({
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudWatch::Alarm",
    "AWS::S3::BucketPolicy",
    "AWS::SDB::Domain",
    "AWS::SNS::Subscription",
    "AWS::SecretsManager::Secret",
})
#: What stands in for a reference to a removed resource.
PLACEHOLDER = "moto-lacks-{}"


def without(template, kinds):
    """A copy of `template` without its resources of the types `kinds`; each Ref, Fn::GetAtt
    or Fn::Sub name of a removed resource becomes PLACEHOLDER, and DependsOn forgets it."""
    removed = {name for name, resource in template["Resources"].items()
               if resource["Type"] in kinds}

    def rewrite(value):
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        if not isinstance(value, dict):
            return value
        if value.keys() == {"Ref"} and value["Ref"] in removed:
            return PLACEHOLDER.format(value["Ref"])
        if value.keys() == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in removed:
            return PLACEHOLDER.format(value["Fn::GetAtt"][0])
        if value.keys() == {"Fn::Sub"}:
            sub = value["Fn::Sub"]
            text, names = (sub, None) if isinstance(sub, str) else sub
            text = SUB_NAME.sub(lambda m: PLACEHOLDER.format(m.group(1))
                                if m.group(1) in removed else m.group(0), text)
            return {"Fn::Sub": text if names is None else [text, rewrite(names)]}
        copied = {key: rewrite(item) for key, item in value.items()}
        if "DependsOn" in copied:
            depends = copied["DependsOn"]
            depends = [depends] if isinstance(depends, str) else depends
            copied["DependsOn"] = [name for name in depends if name not in removed]
        return copied

    return {**template,
            "Resources": {name: rewrite(resource)
                          for name, resource in template["Resources"].items()
                          if name not in removed},
            "Outputs": rewrite(template.get("Outputs", {}))}


class MotoStack:
    """One deployment of the template into moto's CloudFormation, and what it made."""

    def __init__(self, moto_url, template, parameters):
        self.moto_url = moto_url
        self.template = template
        # Unique, so that the stack's queues, tables and groups are its own beside the suite's.
        self.name = f"stratus-{uuid.uuid4().hex[:10]}"
        self.parameters = parameters
        self.cloudformation = self.client("cloudformation")

    def client(self, service):
        return local_client(service, self.moto_url)

    def create(self):
        """Create the stack from the template less MOTO_LACKS; returns self."""
        body = json.dumps(without(self.template, MOTO_LACKS))
        self.cloudformation.create_stack(
            StackName=self.name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
            Parameters=[{"ParameterKey": key, "ParameterValue": value}
                        for key, value in self.parameters.items()])
        return self

    def description(self):
        return self.cloudformation.describe_stacks(StackName=self.name)["Stacks"][0]

    def outputs(self):
        return {output["OutputKey"]: output["OutputValue"]
                for output in self.description().get("Outputs", [])}

    def delete(self):
        self.cloudformation.delete_stack(StackName=self.name)

    def physical_ids(self):
        """{logical id: physical id} of every resource the stack made (moto also lists each
        resource a condition left out, with no logical id)."""
        paginator = self.cloudformation.get_paginator("list_stack_resources")
        return {summary["LogicalResourceId"]: summary["PhysicalResourceId"]
                for page in paginator.paginate(StackName=self.name)
                for summary in page["StackResourceSummaries"] if summary["LogicalResourceId"]}

    def stack_env(self, launch_template):
        """The KEY=VALUE lines a launch template's user data writes to /etc/stratus/stack.env."""
        ec2 = self.client("ec2")
        data = ec2.describe_launch_template_versions(
            LaunchTemplateId=self.physical_ids()[launch_template], Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        script = base64.b64decode(data["UserData"]).decode()
        block = re.search(r"cat > /etc/stratus/stack\.env <<EOF\n(.*?)\nEOF\n", script, re.S)
        return dict(line.split("=", 1) for line in block.group(1).splitlines())

    def apply_skipped(self):
        """Make the calls CloudFormation makes for the template's properties that moto's
        CloudFormation skips: a bucket's public access block, versioning, CORS and lifecycle
        rules; a table's TTL and point-in-time recovery; a target group's attributes; an
        Auto Scaling group's lifecycle hooks."""
        made = self.physical_ids()
        for name, resource in self.template["Resources"].items():
            if name not in made:
                continue
            properties = resource.get("Properties", {})
            apply = _SKIPPED_BY_MOTO.get(resource["Type"])
            if apply:
                apply(self, made[name], properties)

    def site_origin(self):
        return self.outputs()["SiteUrl"]


def _bucket(stack, bucket, properties):
    s3 = stack.client("s3")
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"])
    if "VersioningConfiguration" in properties:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=properties[
            "VersioningConfiguration"])
    if "CorsConfiguration" in properties:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
            _cors_rule(stack, rule) for rule in properties["CorsConfiguration"]["CorsRules"]]})
    if "LifecycleConfiguration" in properties:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [_lifecycle_rule(rule)
                      for rule in properties["LifecycleConfiguration"]["Rules"]]})


def _cors_rule(stack, rule):
    """A CorsRule of the template as S3's API takes it. Its origin is the site's URL (a test
    checks that the template says so), resolved here as the stack's SiteUrl output."""
    return {"AllowedOrigins": [stack.site_origin()], "AllowedMethods": rule["AllowedMethods"],
            "AllowedHeaders": rule["AllowedHeaders"], "ExposeHeaders": rule["ExposedHeaders"],
            "MaxAgeSeconds": rule["MaxAge"]}


def _lifecycle_rule(rule):
    """A lifecycle Rule of the template (CloudFormation's shape) as S3's API takes it."""
    api = {"ID": rule["Id"], "Status": rule["Status"],
           "Filter": {"Prefix": rule.get("Prefix", "")}}
    expiration = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = rule["ExpirationInDays"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = rule["ExpiredObjectDeleteMarker"]
    if expiration:
        api["Expiration"] = expiration
    for key in ("AbortIncompleteMultipartUpload", "NoncurrentVersionExpiration"):
        if key in rule:
            api[key] = rule[key]
    return api


def _table(stack, table, properties):
    dynamodb = stack.client("dynamodb")
    if "TimeToLiveSpecification" in properties:
        dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=properties[
            "TimeToLiveSpecification"])
    if "PointInTimeRecoverySpecification" in properties:
        dynamodb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification=properties["PointInTimeRecoverySpecification"])


def _target_group(stack, arn, properties):
    if "TargetGroupAttributes" in properties:
        stack.client("elbv2").modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=properties["TargetGroupAttributes"])


def _group(stack, name, properties):
    autoscaling = stack.client("autoscaling")
    for hook in properties.get("LifecycleHookSpecificationList", []):
        autoscaling.put_lifecycle_hook(AutoScalingGroupName=name, **hook)


_SKIPPED_BY_MOTO = {
    "AWS::S3::Bucket": _bucket,
    "AWS::DynamoDB::Table": _table,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _target_group,
    "AWS::AutoScaling::AutoScalingGroup": _group,
}
