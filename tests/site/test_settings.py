"""Settings come from the environment: local by default, production strict and complete."""

import os
import subprocess
import sys

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
])
def test_a_malformed_variable_stops_start_up_naming_it(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr
