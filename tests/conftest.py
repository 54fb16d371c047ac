"""Fixtures shared by the whole suite."""

import os

import pytest

# Processes the tests start (workers, nodes) run none of the site's own schedules: a
# daily or hourly slot falling mid-run would add a task to whichever test's queue a worker
# then polls. The tests of periodic tasks give their workers schedules of their own.
os.environ["STRATUS_TASK_SCHEDULES"] = "false"

pytest_plugins = ["tests.fixtures.simpledb", "tests.fixtures.localaws",
                  "tests.fixtures.lifecycle", "tests.fixtures.dynamodb", "tests.fixtures.tasks",
                  "tests.fixtures.state_store"]


@pytest.fixture(scope="session", autouse=True)
def django_on_local_aws(local_aws):
    """Point Django's AWS clients at the session's local stack, and provision it.

    Settings are imported before any fixture runs, so the endpoints are set on them here,
    before the first client or storage is made.
    """
    from django.conf import settings

    from storage_backends.provisioning import Provisioner
    from tests.fixtures.localaws import reset_aws_clients

    settings.AWS_ENDPOINT_URLS = {
        "s3": local_aws.moto_url, "sqs": local_aws.moto_url,
        "sdb": local_aws.simpledb.endpoint_url, "autoscaling": local_aws.moto_url,
        "dynamodb": local_aws.moto_url, "sesv2": local_aws.moto_url,
    }
    # The stack's SimpleDB checks signatures: sign with its key pair, not whatever AWS keys
    # the developer's shell exports.
    settings.AWS_ACCESS_KEY_ID = local_aws.environment["AWS_ACCESS_KEY_ID"]
    settings.AWS_SECRET_ACCESS_KEY = local_aws.environment["AWS_SECRET_ACCESS_KEY"]
    # Hashing real passwords costs most of a second per user; tests need no such strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_aws_clients()
    provisioner = Provisioner()
    provisioner.ensure_all()
    # Each store's own tests use its default domains or tables, whichever store the
    # settings choose (STRATUS_STATE_STORE): both stores get them.
    options = settings.TASKS["default"]["OPTIONS"]
    pairs = [(settings.SIMPLEDB_SESSIONS_DOMAIN, settings.DYNAMODB_SESSIONS_TABLE),
             (options["RESULTS_DOMAIN"], options["RESULTS_TABLE"]),
             (options["METRICS_DOMAIN"], options["METRICS_TABLE"]),
             (options["SCHEDULES_DOMAIN"], options["SCHEDULES_TABLE"]),
             *settings.COPY_STATE_CACHES.values()]
    for domain, table in pairs:
        provisioner.ensure_domain(domain)
        provisioner.ensure_table(table)
    return local_aws


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped test is a failure: CI must run everything."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"
