"""`manage.py prepare_release`, the web unit's second ExecStartPre: migrations and static
files once per release, under a PostgreSQL advisory lock. Run as a node runs it: a
process in production mode, on PostgreSQL, collecting into the local stack's S3."""

import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from apps.ops.management.commands.prepare_release import LOCK_KEY

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://postgres@127.0.0.1:5432/"
TIMEOUT = 120


def reset_database(url, *flags):
    result = subprocess.run([sys.executable, "bin/reset-database", *flags, url], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.skip(f"PostgreSQL is needed: {result.stdout}{result.stderr}")


@pytest.fixture
def database():
    """An empty PostgreSQL database on this machine, dropped afterwards."""
    url = POSTGRES + f"stratus_prepare_{os.getpid()}_{secrets.token_hex(3)}"
    reset_database(url)
    yield url
    reset_database(url, "--drop")


@pytest.fixture
def s3(local_aws):
    return boto3.client("s3", endpoint_url=local_aws.moto_url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


@pytest.fixture
def static_bucket(s3):
    name = f"stratus-static-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def node_env(local_aws, database, static_bucket):
    """A web node's environment (stack.env and secrets.env), on the local stack's S3."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "STRATUS_", "DJANGO_", "DATABASE_"))}
    env.update({
        "DJANGO_ENV": "production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database, "STRATUS_SITE_URL": "https://stratus.example",
        "DJANGO_ALLOWED_HOSTS": "stratus.example", "STRATUS_TRUSTED_PROXY_COUNT": "1",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": local_aws.moto_url,
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "STRATUS_MEDIA_BUCKET": "stratus-media", "STRATUS_STATIC_BUCKET": static_bucket,
        "STRATUS_STATIC_URL": "https://d111111abcdef8.cloudfront.net/",
    })
    return env


def prepare(env, *args):
    return subprocess.Popen([sys.executable, "manage.py", "prepare_release", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def prepared(env, *args):
    """Run prepare_release to the end; its last line of output."""
    process = prepare(env, *args)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    return out.strip().splitlines()[-1]


def recorded(database):
    import psycopg

    with psycopg.connect(database) as connection:
        return [version for (version,) in connection.execute(
            "SELECT version FROM ops_preparedrelease ORDER BY id")]


def static_keys(s3, bucket):
    return {item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])}


def test_the_first_node_migrates_collects_and_records_the_release(
        node_env, database, s3, static_bucket):
    assert prepared(node_env, "--release", "r1") == (
        "prepare_release: prepared release r1 (migrations, static files)")
    assert recorded(database) == ["r1"]
    keys = static_keys(s3, static_bucket)
    assert "staticfiles.json" in keys
    assert any(key.startswith("uploads/uploader.") and key.endswith(".js") for key in keys)


def test_a_prepared_release_is_not_prepared_again(node_env, database, s3, static_bucket):
    prepared(node_env, "--release", "r1")
    s3.delete_object(Bucket=static_bucket, Key="staticfiles.json")
    assert prepared(node_env, "--release", "r1") == (
        "prepare_release: release r1 is prepared already")
    assert "staticfiles.json" not in static_keys(s3, static_bucket)
    assert recorded(database) == ["r1"]


def test_nodes_starting_together_prepare_the_release_once(node_env, database):
    processes = [prepare(node_env, "--release", "r1") for _ in range(3)]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, err
        outputs.append(out.strip().splitlines()[-1])
    assert sorted(outputs) == [
        "prepare_release: prepared release r1 (migrations, static files)",
        "prepare_release: release r1 is prepared already",
        "prepare_release: release r1 is prepared already"]
    assert recorded(database) == ["r1"]


def record(database, version):
    """As if `version` had been prepared after the others (without its minute of work)."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("INSERT INTO ops_preparedrelease (version, prepared_at) "
                           "VALUES (%s, now())", [version])


def test_a_rollback_prepares_the_earlier_release_again(node_env, database, s3, static_bucket):
    prepared(node_env, "--release", "r1")
    record(database, "r2")
    s3.delete_object(Bucket=static_bucket, Key="staticfiles.json")
    assert prepared(node_env, "--release", "r1") == (
        "prepare_release: prepared release r1 (migrations, static files)")
    assert recorded(database) == ["r1", "r2", "r1"]
    assert "staticfiles.json" in static_keys(s3, static_bucket)


def test_a_lock_held_too_long_fails_the_start_and_prepares_nothing(node_env, database):
    import psycopg

    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        process = prepare(node_env, "--release", "r1", "--lock-timeout", "0.5")
        out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1
    assert "another node held the release lock for over 0.5 s" in err
    with psycopg.connect(database) as connection:
        assert connection.execute("SELECT to_regclass('ops_preparedrelease')").fetchone() == (None,)


def test_a_checkout_without_a_release_file_asks_for_the_version(node_env):
    process = prepare(node_env)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1
    assert "no RELEASE file here" in err


def test_sqlite_takes_no_lock(node_env, tmp_path):
    env = {**node_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    assert prepared(env, "--release", "r1") == (
        "prepare_release: prepared release r1 (migrations, static files)")


def test_a_worker_does_not_start_before_a_web_node_migrated(node_env):
    # The worker unit's ExecStartPre: non-zero, so systemd starts it again later.
    check = subprocess.run([sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT,
                           env=node_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 1
    prepared(node_env, "--release", "r1")
    check = subprocess.run([sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT,
                           env=node_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 0, check.stdout + check.stderr


def test_an_earlier_release_starts_with_a_later_releases_migrations_applied(node_env, database):
    import psycopg

    # A later release migrated the database (its static files do not matter here)...
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                   env=node_env, capture_output=True, check=True, timeout=TIMEOUT)
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute("INSERT INTO django_migrations (app, name, applied) "
                           "VALUES ('ops', '9999_from_a_later_release', now())")
    # The worker's ExecStartPre, then the web node's: neither minds a migration it lacks.
    check = subprocess.run([sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT,
                           env=node_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 0, check.stdout + check.stderr
    assert prepared(node_env, "--release", "r1") == (
        "prepare_release: prepared release r1 (migrations, static files)")
