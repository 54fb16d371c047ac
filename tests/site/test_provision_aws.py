"""`manage.py provision_aws`: idempotent creation, and --check listing what is wrong."""

import json
import uuid

import pytest
from django.core.management import CommandError, call_command

from storage_backends import aws


@pytest.fixture
def fresh_names(settings):
    """Resource names no other test uses, so each test provisions from nothing; the state in
    SimpleDB, whichever store the settings chose (tests/dynamodb covers DynamoDB's)."""
    tag = uuid.uuid4().hex[:8]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"],
                    "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"],
                                "bucket_name": f"media-{tag}"}},
    }
    settings.TASKS = {"default": {**settings.TASKS["default"], "QUEUES": ["default", "thumbnails"],
                                  "OPTIONS": {**settings.TASKS["default"]["OPTIONS"],
                                              "QUEUE_PREFIX": f"t{tag}-",
                                              "RESULTS_STORE": "simpledb",
                                              "RESULTS_DOMAIN": f"t{tag}-task-results",
                                              "METRICS_DOMAIN": f"t{tag}-task-metrics",
                                              "PAYLOAD_BUCKET": f"media-{tag}"}}}
    settings.SIMPLEDB_SESSIONS_DOMAIN = f"t{tag}-sessions"
    settings.SESSION_ENGINE = "storage_backends.simpledb.sessions"
    settings.CACHES = {alias: {**cache, "LOCATION": f"t{tag}-{alias}",
                               "BACKEND": "storage_backends.simpledb.cache.SimpleDBCache"}
                       for alias, cache in settings.CACHES.items()}
    return tag


def provision(*args):
    from io import StringIO

    out = StringIO()
    call_command("provision_aws", *args, stdout=out)
    return out.getvalue()


def test_provision_creates_every_resource(fresh_names, settings):
    output = provision()
    assert f"bucket media-{fresh_names}: created" in output
    assert f"created t{fresh_names}-default-dlq, t{fresh_names}-default" in output
    assert f"created t{fresh_names}-default-high-dlq, t{fresh_names}-default-high" in output
    assert f"SimpleDB domain t{fresh_names}-sessions: created" in output
    assert f"SimpleDB domain t{fresh_names}-task-results: created" in output
    assert "All AWS resources are in place." in provision("--check")


def test_provision_twice_changes_nothing_and_says_so(fresh_names):
    provision()
    output = provision()
    assert "created" not in output
    # the bucket, two queues in two priority bands, five domains: sessions, each CACHES
    # alias's (default, login_failures), task results and workers' reports (only domains
    # in use)
    assert output.count("exists") == 1 + 4 + 5
    assert "All AWS resources are in place." in provision("--check")


def test_bucket_blocks_public_access_and_allows_the_site_origin(fresh_names, settings):
    provision()
    s3 = aws.client("s3")
    block = s3.get_public_access_block(Bucket=f"media-{fresh_names}")
    assert all(block["PublicAccessBlockConfiguration"].values())
    [rule] = s3.get_bucket_cors(Bucket=f"media-{fresh_names}")["CORSRules"]
    assert rule["AllowedOrigins"] == [settings.SITE_URL]
    assert {"GET", "PUT", "POST"} <= set(rule["AllowedMethods"])


def test_each_queue_dead_letters_to_its_own_queue(fresh_names, settings):
    provision()
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"t{fresh_names}-thumbnails")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=f"t{fresh_names}-thumbnails-dlq")["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert policy["deadLetterTargetArn"] == dlq_arn
    assert int(policy["maxReceiveCount"]) == settings.STRATUS_SQS_MAX_RECEIVE_COUNT


def test_queues_get_the_backends_visibility_and_wait_and_dead_letters_keep_14_days(
        fresh_names, settings):
    provision()
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"t{fresh_names}-default")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    options = settings.TASKS["default"]["OPTIONS"]
    assert attributes["VisibilityTimeout"] == str(options["VISIBILITY_TIMEOUT"])
    assert attributes["ReceiveMessageWaitTimeSeconds"] == str(options["WAIT_SECONDS"])
    dlq = sqs.get_queue_url(QueueName=f"t{fresh_names}-default-dlq")["QueueUrl"]
    retention = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["MessageRetentionPeriod"])["Attributes"]
    assert retention["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def test_check_reports_a_changed_visibility_timeout(fresh_names):
    provision()
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"t{fresh_names}-thumbnails")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "7"})
    with pytest.raises(CommandError,
                       match=f"queue t{fresh_names}-thumbnails has VisibilityTimeout '7'"):
        provision("--check")


def test_check_on_nothing_lists_every_missing_resource(fresh_names):
    with pytest.raises(CommandError) as caught:
        provision("--check")
    message = str(caught.value)
    for missing in (f"bucket media-{fresh_names} is missing",
                    f"queue t{fresh_names}-default is missing",
                    f"queue t{fresh_names}-thumbnails-dlq is missing",
                    f"SimpleDB domain t{fresh_names}-default is missing"):
        assert missing in message


def test_check_finds_drift_and_provision_repairs_it(fresh_names):
    provision()
    s3, sqs = aws.client("s3"), aws.client("sqs")
    s3.delete_bucket_cors(Bucket=f"media-{fresh_names}")
    s3.delete_public_access_block(Bucket=f"media-{fresh_names}")
    url = sqs.get_queue_url(QueueName=f"t{fresh_names}-default")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    aws.client("sdb").delete_domain(DomainName=f"t{fresh_names}-default")
    with pytest.raises(CommandError) as caught:
        provision("--check")
    message = str(caught.value)
    assert "has no CORS rule" in message
    assert "does not block all public access" in message
    assert f"queue t{fresh_names}-default does not send dead letters" in message
    assert f"SimpleDB domain t{fresh_names}-default is missing" in message
    provision()
    assert "All AWS resources are in place." in provision("--check")


def test_unreachable_endpoint_is_a_clear_error(fresh_names, settings):
    settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS, "s3": "http://127.0.0.1:9"}
    aws.reset()
    try:
        with pytest.raises(CommandError, match="AWS call failed"):
            provision()
    finally:
        aws.reset()


def test_the_cache_spill_prefix_expires_by_lifecycle_rule(fresh_names, settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "OPTIONS": {
        **settings.CACHES["default"]["OPTIONS"],
        "SPILL_BUCKET": f"media-{fresh_names}", "SPILL_PREFIX": "spill/"}}}
    provision()
    rules = aws.client("s3").get_bucket_lifecycle_configuration(
        Bucket=f"media-{fresh_names}")["Rules"]
    days = {rule["Filter"]["Prefix"]: rule["Expiration"]["Days"] for rule in rules
            if "Expiration" in rule}
    # The cache's spilled values, and the task backend's large payloads and results.
    assert days == {"spill/": 30, "task-payloads/": 30}
    aws.client("s3").delete_bucket_lifecycle(Bucket=f"media-{fresh_names}")
    with pytest.raises(CommandError, match="no lifecycle rule expiring spill/"):
        provision("--check")


def test_every_bucket_aborts_incomplete_multipart_uploads(fresh_names):
    provision()
    rules = aws.client("s3").get_bucket_lifecycle_configuration(
        Bucket=f"media-{fresh_names}")["Rules"]
    assert {"DaysAfterInitiation": 1} in [rule.get("AbortIncompleteMultipartUpload")
                                          for rule in rules]
    aws.client("s3").delete_bucket_lifecycle(Bucket=f"media-{fresh_names}")
    with pytest.raises(CommandError, match="no lifecycle rule aborting incomplete"):
        provision("--check")


def test_check_finds_a_cors_rule_that_hides_the_etag_uploads_need(fresh_names, settings):
    provision()
    bucket = f"media-{fresh_names}"
    aws.client("s3").put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [settings.SITE_URL], "AllowedMethods": ["GET", "PUT", "POST"]}]})
    with pytest.raises(CommandError) as caught:
        provision("--check")
    assert f"bucket {bucket} has no CORS rule letting {settings.SITE_URL} upload" in str(
        caught.value)
