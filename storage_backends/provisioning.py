"""Create, idempotently, or verify the buckets, queues, domains and tables the settings name.

Each `ensure_*` makes the resource match what Stratus needs and says what it did; each
`check_*` changes nothing and returns the problems it found. `provision_aws` is a thin
command over `Provisioner`.

A DynamoDB table is made on demand (no capacity to plan), keyed by `k` (a string), with its
TTL on `x` and, in production (settings.PRODUCTION), point-in-time recovery. What cannot be
changed in place (the key of an existing table, a TTL on another attribute) is
`Unfixable`: provisioning stops and says what to do.
"""

import json

from botocore.exceptions import ClientError
from django.conf import settings

from . import aws, resources
from .dynamodb.client import EXPIRY, KEY

CORS_METHODS = ["GET", "HEAD", "PUT", "POST"]
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _code(error):
    return error.response.get("Error", {}).get("Code", "")


def _cors_rule(origins):
    return {
        "AllowedOrigins": origins,
        "AllowedMethods": CORS_METHODS,
        "AllowedHeaders": ["*"],
        # The uploader reads each part's ETag, and a POST upload's Location.
        "ExposeHeaders": ["ETag", "Location"],
        "MaxAgeSeconds": 3000,
    }


def _spill_rule(prefix):
    return {
        "ID": f"expire-{prefix.strip('/')}",
        "Filter": {"Prefix": prefix},
        "Status": "Enabled",
        "Expiration": {"Days": resources.SPILL_EXPIRY_DAYS},
    }


#: Days after which S3 aborts a multipart upload nobody completed (an upload through a node
#: that died, or ran out of its time, mid-transfer), so its parts stop being billed.
ABORT_INCOMPLETE_UPLOADS_DAYS = 1

ABORT_INCOMPLETE_UPLOADS_RULE = {
    "ID": "abort-incomplete-multipart-uploads",
    "Filter": {"Prefix": ""},
    "Status": "Enabled",
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_INCOMPLETE_UPLOADS_DAYS},
}


#: The key schema of every Stratus table.
TABLE_KEY = {"KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
             "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}]}
#: How long provisioning waits for a new table to become ACTIVE (it takes seconds).
TABLE_WAIT = {"Delay": 1, "MaxAttempts": 120}


class Unfixable(Exception):
    """A resource differs from what Stratus needs in a way provisioning must not change."""


class Provisioner:
    """Provisioning and checking against the clients of `storage_backends.aws`."""

    def __init__(self, s3=None, sqs=None, sdb=None, dynamodb=None):
        """Clients default to storage_backends.aws's; pass False for a service not used."""
        self.s3 = aws.client("s3") if s3 is None else s3
        self.sqs = aws.client("sqs") if sqs is None else sqs
        self.sdb = aws.client("sdb") if sdb is None else sdb
        self.dynamodb = aws.client("dynamodb") if dynamodb is None else dynamodb

    # -- S3 ------------------------------------------------------------------------------
    def ensure_bucket(self, name, origins):
        try:
            self.s3.head_bucket(Bucket=name)
            action = "exists"
        except ClientError as error:
            if _code(error) not in ("404", "NoSuchBucket", "NotFound"):
                raise
            region = self.s3.meta.region_name
            kwargs = {"Bucket": name}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            self.s3.create_bucket(**kwargs)
            action = "created"
        self.s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK
        )
        self.s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(origins)]})
        prefixes = resources.spill_prefixes(name)
        self.s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={
            "Rules": [ABORT_INCOMPLETE_UPLOADS_RULE, *(_spill_rule(p) for p in prefixes)]})
        expiring = f", {', '.join(prefixes)} expiring after {resources.SPILL_EXPIRY_DAYS} days" \
            if prefixes else ""
        return (f"bucket {name}: {action}, public access blocked, CORS for "
                f"{', '.join(origins)}, incomplete multipart uploads aborted after "
                f"{ABORT_INCOMPLETE_UPLOADS_DAYS} day{expiring}")

    def check_bucket(self, name, origins):
        try:
            self.s3.head_bucket(Bucket=name)
        except ClientError:
            return [f"bucket {name} is missing"]
        problems = []
        try:
            block = self.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        except ClientError:
            block = {}
        if any(not block.get(key) for key in PUBLIC_ACCESS_BLOCK):
            problems.append(f"bucket {name} does not block all public access")
        try:
            rules = self.s3.get_bucket_cors(Bucket=name)["CORSRules"]
        except ClientError:
            rules = []
        if not any(set(origins) <= set(rule.get("AllowedOrigins", []))
                   and {"GET", "PUT", "POST"} <= set(rule.get("AllowedMethods", []))
                   and "ETag" in rule.get("ExposeHeaders", []) for rule in rules):
            # Browsers upload with POST and PUT, and the uploader reads each part's ETag.
            problems.append(f"bucket {name} has no CORS rule letting {', '.join(origins)} "
                            f"upload (POST, PUT, ETag exposed)")
        try:
            rules = self.s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        except ClientError:
            rules = []
        enabled = [rule for rule in rules if rule.get("Status") == "Enabled"]
        if not any("AbortIncompleteMultipartUpload" in rule for rule in enabled):
            problems.append(f"bucket {name} has no lifecycle rule aborting incomplete "
                            f"multipart uploads")
        covered = {rule.get("Filter", {}).get("Prefix") for rule in enabled
                   if "Expiration" in rule}
        for prefix in resources.spill_prefixes(name):
            if prefix not in covered:
                problems.append(f"bucket {name} has no lifecycle rule expiring {prefix}")
        return problems

    # -- SQS -----------------------------------------------------------------------------
    def _queue_url(self, name):
        try:
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if "NonExistentQueue" in _code(error) or _code(error) == "QueueDoesNotExist":
                return None
            raise

    def _arn(self, url):
        return self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    def _redrive(self, queue, dead_letter_url):
        return json.dumps({"deadLetterTargetArn": self._arn(dead_letter_url),
                           "maxReceiveCount": str(queue.max_receive_count)})

    def ensure_queue(self, queue):
        dead_letter_attributes = {
            "MessageRetentionPeriod": str(resources.DEAD_LETTER_RETENTION_SECONDS)
        }
        dead_letter_url = self._queue_url(queue.dead_letter_name)
        created = []
        if dead_letter_url is None:
            dead_letter_url = self.sqs.create_queue(
                QueueName=queue.dead_letter_name, Attributes=dead_letter_attributes
            )["QueueUrl"]
            created.append(queue.dead_letter_name)
        else:
            self.sqs.set_queue_attributes(QueueUrl=dead_letter_url,
                                          Attributes=dead_letter_attributes)
        attributes = {"RedrivePolicy": self._redrive(queue, dead_letter_url),
                      **queue.attributes()}
        url = self._queue_url(queue.name)
        if url is None:
            self.sqs.create_queue(QueueName=queue.name, Attributes=attributes)
            created.append(queue.name)
        else:
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return (f"queue {queue.name} (visibility {queue.visibility_timeout} s, dead letters: "
                f"{queue.dead_letter_name}, after {queue.max_receive_count} receives): "
                f"{'created ' + ', '.join(created) if created else 'exists'}")

    def check_queue(self, queue):
        dead_letter_url = self._queue_url(queue.dead_letter_name)
        url = self._queue_url(queue.name)
        problems = [f"queue {name} is missing" for name, found in
                    ((queue.dead_letter_name, dead_letter_url), (queue.name, url)) if not found]
        if url and dead_letter_url:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["RedrivePolicy", *queue.attributes()]
            ).get("Attributes", {})
            for name, wanted in queue.attributes().items():
                if attributes.get(name) != wanted:
                    problems.append(f"queue {queue.name} has {name} "
                                    f"{attributes.get(name)!r}, not {wanted!r}")
            retention = self.sqs.get_queue_attributes(
                QueueUrl=dead_letter_url, AttributeNames=["MessageRetentionPeriod"]
            ).get("Attributes", {}).get("MessageRetentionPeriod")
            if retention != str(resources.DEAD_LETTER_RETENTION_SECONDS):
                problems.append(f"queue {queue.dead_letter_name} keeps messages for "
                                f"{retention} s, not {resources.DEAD_LETTER_RETENTION_SECONDS}")
            policy = json.loads(attributes.get("RedrivePolicy", "{}"))
            if policy.get("deadLetterTargetArn") != self._arn(dead_letter_url) or \
                    str(policy.get("maxReceiveCount")) != str(queue.max_receive_count):
                problems.append(
                    f"queue {queue.name} does not send dead letters to {queue.dead_letter_name} "
                    f"after {queue.max_receive_count} receives"
                )
        return problems

    # -- SimpleDB ------------------------------------------------------------------------
    def ensure_domain(self, name):
        existed = name in self._domains()
        self.sdb.create_domain(DomainName=name)  # idempotent: an existing domain is kept
        return f"SimpleDB domain {name}: {'exists' if existed else 'created'}"

    def check_domain(self, name):
        return [] if name in self._domains() else [f"SimpleDB domain {name} is missing"]

    def _domains(self):
        names = []
        for page in self.sdb.get_paginator("list_domains").paginate():
            names += page.get("DomainNames", [])
        return names

    # -- DynamoDB ------------------------------------------------------------------------
    @staticmethod
    def _recovery_wanted():
        # A local stack is thrown away at each start: nothing to recover.
        return bool(getattr(settings, "PRODUCTION", False))

    def _table(self, name):
        """The table's description, or None if there is no such table."""
        try:
            return self.dynamodb.describe_table(TableName=name)["Table"]
        except ClientError as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise

    @staticmethod
    def _key_problem(name, table):
        schema = table.get("KeySchema", [])
        types = {d["AttributeName"]: d["AttributeType"]
                 for d in table.get("AttributeDefinitions", [])}
        if schema != TABLE_KEY["KeySchema"] or types.get(KEY) != "S":
            found = ", ".join(f"{k['AttributeName']} ({k['KeyType']}, "
                              f"{types.get(k['AttributeName'], '?')})" for k in schema)
            return (f"DynamoDB table {name} is keyed by {found or 'nothing'}, not by {KEY} "
                    f"alone (a string)")
        return ""

    def _ttl(self, name):
        """(status, attribute) of the table's TTL."""
        found = self.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        return found.get("TimeToLiveStatus", "DISABLED"), found.get("AttributeName")

    def _recovery(self, name):
        found = self.dynamodb.describe_continuous_backups(TableName=name)
        return found["ContinuousBackupsDescription"].get(
            "PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")

    def ensure_table(self, name):
        table = self._table(name)
        if table is None:
            self.dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                       **TABLE_KEY)
            self.dynamodb.get_waiter("table_exists").wait(TableName=name,
                                                          WaiterConfig=TABLE_WAIT)
            action, billing = "created", "PAY_PER_REQUEST"
        else:
            problem = self._key_problem(name, table)
            if problem:
                raise Unfixable(f"{problem}: a table's key cannot be changed; delete the table "
                                f"or name another")
            action = "exists"
            billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        status, attribute = self._ttl(name)
        if status in ("ENABLED", "ENABLING") and attribute != EXPIRY:
            raise Unfixable(f"DynamoDB table {name} has its TTL on {attribute!r}, not "
                            f"{EXPIRY!r}: disable it first (DynamoDB allows one TTL change "
                            f"an hour), then provision again")
        if status not in ("ENABLED", "ENABLING"):
            self.dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True,
                                                         "AttributeName": EXPIRY})
        recovery = ""
        if self._recovery_wanted():
            if self._recovery(name) != "ENABLED":
                self.dynamodb.update_continuous_backups(
                    TableName=name,
                    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
            recovery = ", point-in-time recovery on"
        capacity = "on demand" if billing == "PAY_PER_REQUEST" else "provisioned capacity"
        return f"DynamoDB table {name}: {action}, {capacity}, TTL on {EXPIRY}{recovery}"

    def check_table(self, name):
        table = self._table(name)
        if table is None:
            return [f"DynamoDB table {name} is missing"]
        problem = self._key_problem(name, table)
        if problem:
            return [problem]
        problems = []
        status, attribute = self._ttl(name)
        if status not in ("ENABLED", "ENABLING") or attribute != EXPIRY:
            problems.append(f"DynamoDB table {name} has no TTL on {EXPIRY} (expired items "
                            f"would never be deleted)")
        if self._recovery_wanted() and self._recovery(name) != "ENABLED":
            problems.append(f"DynamoDB table {name} has point-in-time recovery off, in "
                            f"production")
        return problems

    # -- all -----------------------------------------------------------------------------
    def ensure_all(self):
        """Make every resource the settings name; returns one line per resource."""
        origins = resources.cors_origins()
        lines = [self.ensure_bucket(name, origins) for name in resources.buckets()]
        lines += [self.ensure_queue(queue) for queue in resources.queues()]
        lines += [self.ensure_domain(name) for name in resources.domains()]
        lines += [self.ensure_table(name) for name in resources.tables()]
        return lines

    def check_all(self):
        """Every problem found, without changing anything; [] when all is in place."""
        origins = resources.cors_origins()
        problems = []
        for name in resources.buckets():
            problems += self.check_bucket(name, origins)
        for queue in resources.queues():
            problems += self.check_queue(queue)
        for name in resources.domains():
            problems += self.check_domain(name)
        for name in resources.tables():
            problems += self.check_table(name)
        return problems
