"""Readiness checks: each dependency probed with a short timeout and one retry."""

from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection

from storage_backends import aws, resources
from storage_backends.dynamodb.client import KEY

#: A check slower than this counts as failed: readiness must answer within the ALB's timeout
#: (5 s by default), two attempts included.
TIMEOUT_SECONDS = 2.0
#: A second attempt, so that one throttled or failed call (SimpleDB answers 503 under load)
#: does not take a healthy node out: two failed probes in a row do, and every node shares
#: the same services, so a node taken out for one blip costs capacity for nothing.
ATTEMPTS = 2


def _client(service):
    # Shared with every later probe: making a boto3 client costs far more than the probe.
    return aws.client(service, connect_timeout=TIMEOUT_SECONDS, read_timeout=TIMEOUT_SECONDS,
                      retries={"mode": "standard", "total_max_attempts": ATTEMPTS})


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close()  # this ran on a checker thread: don't leave its connection behind


def check_s3():
    _client("s3").head_bucket(Bucket=settings.STRATUS_MEDIA_BUCKET)


def check_sqs():
    queue = resources.queues()[0]
    _client("sqs").get_queue_url(QueueName=queue.name)


def check_simpledb():
    _client("sdb").domain_metadata(DomainName=settings.SIMPLEDB_SESSIONS_DOMAIN)


#: A key no session has (session keys are letters and digits): the read finds nothing.
PROBE_KEY = "readyz-probe"


def check_dynamodb():
    # One eventually consistent read of a small absent item: half a read unit, and it
    # fails as the sessions would (table missing, throttled, unreachable).
    _client("dynamodb").get_item(TableName=settings.DYNAMODB_SESSIONS_TABLE,
                                 Key={KEY: {"S": PROBE_KEY}}, ProjectionExpression=KEY)


BASE_CHECKS = {"database": check_database, "s3": check_s3, "sqs": check_sqs}
#: The check of each state store (settings.STRATUS_STATE_STORE): only the one in use.
STATE_CHECKS = {"simpledb": check_simpledb, "dynamodb": check_dynamodb}


def checks():
    """{name: check} of what this site depends on."""
    store = getattr(settings, "STRATUS_STATE_STORE", "simpledb")
    return {**BASE_CHECKS, store: STATE_CHECKS[store]}


def run_checks():
    """{name: "ok" or an error description}, all checks run in parallel."""
    def run(check):
        try:
            check()
            return "ok"
        except Exception as error:  # any failure means not ready; say which
            return f"{type(error).__name__}: {error}"[:300]

    selected = checks()
    with ThreadPoolExecutor(max_workers=len(selected)) as pool:
        futures = {name: pool.submit(run, check) for name, check in selected.items()}
        return {name: future.result() for name, future in futures.items()}
