"""Settings come from the environment: local by default, production strict and complete."""

import os
import subprocess
import sys
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 60 + "-not-a-real-secret-but-long-and-random-enough-3f9",
    "DJANGO_ALLOWED_HOSTS": "stratus.example.com",
    "STRATUS_SITE_URL": "https://stratus.example.com",
    "DATABASE_URL": "postgres://stratus:secret@db.internal:5432/stratus",
    "AWS_REGION": "eu-west-1",
    "STRATUS_MEDIA_BUCKET": "stratus-media-prod",
    "STRATUS_STATIC_BUCKET": "stratus-static-prod",
    "STRATUS_STATIC_URL": "https://cdn.example.com/",
    "STRATUS_TRUSTED_PROXY_COUNT": "1",
}


def manage(*args, **env):
    """Run manage.py in a fresh process with only `env` (plus PATH) as its environment."""
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def setting(name, **env):
    result = manage("shell", "--no-imports", "-c",
                    f"from django.conf import settings; print(settings.{name})",
                    **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_local_mode_needs_no_variables():
    assert manage("check").returncode == 0


def test_local_mode_defaults_to_debug_sqlite_and_the_local_stack():
    assert setting("DEBUG") == "True"
    assert "sqlite3" in setting("DATABASES['default']['ENGINE']")
    assert setting("AWS_ENDPOINT_URLS['sdb']") == "http://127.0.0.1:4567"


def test_production_without_variables_names_every_missing_one():
    result = manage("check", DJANGO_ENV="production")
    assert result.returncode != 0
    for name in PRODUCTION:
        if name != "DJANGO_ENV":
            assert name in result.stderr
    assert "Traceback" not in result.stderr.split("ImproperlyConfigured")[-1]


def security(**env):
    """SECURE_SSL_REDIRECT, SESSION_COOKIE_SECURE and SECURE_HSTS_SECONDS > 0, as printed."""
    result = manage("shell", "--no-imports", "-c", (
        "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, "
        "s.SESSION_COOKIE_SECURE, int(s.SECURE_HSTS_SECONDS > 0))"), **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_on_an_https_url_redirects_to_https_and_sends_secure_cookies():
    assert security(**PRODUCTION) == "True True 1"


def test_production_on_a_plain_http_url_neither_redirects_nor_sends_secure_cookies():
    """A trial stack without a certificate (docs/deploy.md): there is no HTTPS to go to."""
    env = {**PRODUCTION, "STRATUS_SITE_URL": "http://stratus-alb.example.com"}
    assert security(**env) == "False False 0"
    result = manage("check", "--deploy", **env)
    assert "security.W008" in result.stderr  # Django's own warning says so


def test_production_with_one_variable_missing_names_just_that_one():
    env = dict(PRODUCTION)
    del env["DATABASE_URL"]
    result = manage("check", **env)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.endswith("which are not set: DATABASE_URL")


def test_production_passes_check_deploy_with_nothing_to_report():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_uses_postgresql_from_database_url():
    assert setting("DATABASES['default']['ENGINE']", **PRODUCTION) == \
        "django.db.backends.postgresql"


def test_production_keeps_no_state_on_the_node():
    assert setting("STORAGES['default']['BACKEND']", **PRODUCTION) == \
        "storage_backends.s3.MediaStorage"
    assert setting("STORAGES['staticfiles']['BACKEND']", **PRODUCTION) == \
        "storage_backends.s3.StaticStorage"
    assert setting("SESSION_ENGINE", **PRODUCTION) != "django.contrib.sessions.backends.file"
    assert "FileBasedCache" not in setting("CACHES['default']['BACKEND']", **PRODUCTION)


def test_production_logs_json_lines():
    assert setting("LOGGING['handlers']['stdout']['formatter']", **PRODUCTION) == "json"


def test_production_refuses_a_local_endpoint():
    result = manage("check", "--deploy", AWS_ENDPOINT_URL_SIMPLEDB="http://127.0.0.1:4567",
                    **PRODUCTION)
    assert result.returncode != 0
    assert "storage_backends.E001" in result.stderr


@pytest.mark.parametrize("name, value", [
    ("AWS_RETRY_MODE", "legacy"),
    ("AWS_MAX_ATTEMPTS", "many"),
    ("DJANGO_DEBUG", "perhaps"),
    ("STRATUS_UPLOAD_MAX_BYTES", "-1"),
    ("STRATUS_STATE_STORE", "redis"),
])
def test_a_malformed_variable_stops_start_up_naming_it(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


# -- the state store --------------------------------------------------------------------------
def state_settings(**env):
    """Where sessions, both caches and task results are, as `manage.py shell` prints them."""
    result = manage("shell", "--no-imports", "-c", (
        "from django.conf import settings as s; o = s.TASKS['default']['OPTIONS']; "
        "print(s.STRATUS_STATE_STORE, s.SESSION_ENGINE, s.DYNAMODB_SESSIONS_TABLE, "
        "*(s.CACHES[a][k] for a in ('default', 'login_failures') for k in ('BACKEND', "
        "'LOCATION')), o['RESULTS_STORE'], o['RESULTS_TABLE'])"), **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_state_is_in_simpledb_by_default():
    assert state_settings() == [
        "simpledb", "storage_backends.simpledb.sessions", "stratus-sessions",
        "storage_backends.simpledb.cache.SimpleDBCache", "stratus-cache",
        "storage_backends.simpledb.cache.SimpleDBCache", "stratus-login-failures",
        "simpledb", "stratus-task-results"]


def test_state_store_dynamodb_moves_sessions_both_caches_and_task_results_together():
    assert state_settings(STRATUS_STATE_STORE="dynamodb",
                          STRATUS_DYNAMODB_TABLE_PREFIX="shop-") == [
        "dynamodb", "storage_backends.dynamodb.sessions", "shop-sessions",
        "storage_backends.dynamodb.cache.DynamoDBCache", "shop-cache",
        "storage_backends.dynamodb.cache.DynamoDBCache", "shop-login-failures",
        "dynamodb", "shop-task-results"]


def test_each_simpledb_domain_may_be_named_whole_as_cloudformation_names_them():
    result = manage("shell", "--no-imports", "-c", (
        "from django.conf import settings as s; o = s.TASKS['default']['OPTIONS']; "
        "print(s.SIMPLEDB_SESSIONS_DOMAIN, s.CACHES['default']['LOCATION'], "
        "s.CACHES['login_failures']['LOCATION'], o['RESULTS_DOMAIN'])"),
        STRATUS_SIMPLEDB_SESSIONS_DOMAIN="app-SessionsDomain-1A",
        STRATUS_SIMPLEDB_CACHE_DOMAIN="app-CacheDomain-2B",
        STRATUS_SIMPLEDB_LOGIN_FAILURES_DOMAIN="app-LoginFailuresDomain-3C",
        STRATUS_SIMPLEDB_TASK_RESULTS_DOMAIN="app-TaskResultsDomain-4D")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["app-SessionsDomain-1A", "app-CacheDomain-2B",
                                     "app-LoginFailuresDomain-3C", "app-TaskResultsDomain-4D"]


@pytest.fixture
def dynamodb_modules():
    """The DynamoDB session engine and cache, which `check` and `provision_aws` load."""
    pytest.importorskip("storage_backends.dynamodb.sessions")
    pytest.importorskip("storage_backends.dynamodb.cache")


def test_with_the_state_in_dynamodb_check_passes(dynamodb_modules):
    result = manage("check", STRATUS_STATE_STORE="dynamodb")
    assert result.returncode == 0, result.stderr


def test_with_the_state_in_dynamodb_provision_aws_makes_tables_and_no_domain(
        dynamodb_modules, local_aws):
    from storage_backends import aws

    prefix = f"s{uuid.uuid4().hex[:8]}-"
    result = manage("provision_aws", **local_aws.environment, STRATUS_STATE_STORE="dynamodb",
                    STRATUS_DYNAMODB_TABLE_PREFIX=prefix, STRATUS_SIMPLEDB_DOMAIN_PREFIX=prefix,
                    STRATUS_SQS_QUEUE_PREFIX=prefix)
    assert result.returncode == 0, result.stderr
    tables = [name for page in aws.client("dynamodb").get_paginator("list_tables").paginate()
              for name in page["TableNames"] if name.startswith(prefix)]
    assert sorted(tables) == [f"{prefix}{name}" for name in (
        "cache", "login-failures", "sessions", "task-metrics", "task-results",
        "task-schedules")]
    domains = [name for page in aws.client("sdb").get_paginator("list_domains").paginate()
               for name in page.get("DomainNames", []) if name.startswith(prefix)]
    assert domains == []
    assert "SimpleDB" not in result.stdout
