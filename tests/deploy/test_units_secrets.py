"""deploy/write-secrets, each unit's first ExecStartPre: Secrets Manager (moto, over real
HTTP) to /run/stratus/secrets.env, read back as systemd and a shell read it."""

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import dj_database_url
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "write-secrets"
#: A secret key using every character an environment file treats specially.
NASTY_KEY = 'k$HOME`id`"q\'s\\n #; =x%%{}!*'
#: RDS-generated passwords avoid / @ " and space, but an operator's may not.
NASTY_PASSWORD = 'p@ss:w/rd?#%&"\' $x`'


@pytest.fixture
def secretsmanager(local_aws):
    return boto3.client("secretsmanager", endpoint_url=local_aws.moto_url,
                        region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local")


@pytest.fixture
def secrets(secretsmanager):
    """ARNs of a secret key and of RDS-style database credentials, made anew per test."""
    suffix = uuid.uuid4().hex[:8]
    key = secretsmanager.create_secret(Name=f"stratus-key-{suffix}", SecretString=NASTY_KEY)
    database = secretsmanager.create_secret(
        Name=f"stratus-db-{suffix}",
        SecretString=json.dumps({"username": "stratus admin", "password": NASTY_PASSWORD,
                                 "engine": "postgres"}))
    return {"key": key["ARN"], "database": database["ARN"]}


def node_environment(local_aws, secrets, **overrides):
    """What a unit's ExecStartPre sees: stack.env's variables, the stack as Secrets Manager."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("AWS_", "STRATUS_"))}
    env.update({
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": local_aws.moto_url,
        "STRATUS_SECRET_KEY_SECRET_ARN": secrets["key"],
        "STRATUS_DATABASE_SECRET_ARN": secrets["database"],
        "STRATUS_DATABASE_HOST": "stratus.abc123.eu-west-1.rds.amazonaws.com",
        "STRATUS_DATABASE_PORT": "5432",
        "STRATUS_DATABASE_NAME": "stratus",
    })
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def write_secrets(output, env):
    return subprocess.run([sys.executable, str(SCRIPT), "--output", str(output)], env=env,
                          capture_output=True, text=True, timeout=60)


def read_as_shell(path):
    """The variables a POSIX shell gets from sourcing `path` (systemd reads quoting the same)."""
    script = (f'set -a; . "{path}"; exec "{sys.executable}" -c '
              '"import json, os; print(json.dumps({k: os.environ[k] for k in '
              "('DJANGO_SECRET_KEY', 'DATABASE_URL')}))\"")
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={},
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_writes_the_secret_key_and_database_url(local_aws, secrets, tmp_path):
    output = tmp_path / "run" / "stratus" / "secrets.env"
    result = write_secrets(output, node_environment(local_aws, secrets))
    assert result.returncode == 0, result.stderr
    values = read_as_shell(output)
    assert values["DJANGO_SECRET_KEY"] == NASTY_KEY
    database = dj_database_url.parse(values["DATABASE_URL"])
    assert (database["USER"], database["PASSWORD"]) == ("stratus admin", NASTY_PASSWORD)
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "stratus.abc123.eu-west-1.rds.amazonaws.com", 5432, "stratus")
    assert database["ENGINE"] == "django.db.backends.postgresql"


def test_the_file_is_readable_by_its_owner_alone(local_aws, secrets, tmp_path):
    output = tmp_path / "secrets.env"
    assert write_secrets(output, node_environment(local_aws, secrets)).returncode == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_a_second_start_replaces_the_file(local_aws, secrets, secretsmanager, tmp_path):
    output = tmp_path / "secrets.env"
    assert write_secrets(output, node_environment(local_aws, secrets)).returncode == 0
    secretsmanager.put_secret_value(SecretId=secrets["key"], SecretString="rotated-key")
    assert write_secrets(output, node_environment(local_aws, secrets)).returncode == 0
    assert read_as_shell(output)["DJANGO_SECRET_KEY"] == "rotated-key"
    assert [path.name for path in tmp_path.iterdir()] == ["secrets.env"]


def test_missing_variables_are_named_together(local_aws, secrets, tmp_path):
    env = node_environment(local_aws, secrets, STRATUS_DATABASE_HOST=None,
                           STRATUS_SECRET_KEY_SECRET_ARN=None)
    result = write_secrets(tmp_path / "secrets.env", env)
    assert result.returncode == 1
    assert "STRATUS_SECRET_KEY_SECRET_ARN, STRATUS_DATABASE_HOST" in result.stderr
    assert not (tmp_path / "secrets.env").exists()


def test_an_unknown_secret_is_a_one_line_error(local_aws, secrets, tmp_path):
    missing = secrets["key"].rsplit(":", 1)[0] + ":no-such-secret-AbCdEf"
    result = write_secrets(tmp_path / "secrets.env",
                           node_environment(local_aws, secrets,
                                            STRATUS_SECRET_KEY_SECRET_ARN=missing))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"write-secrets: cannot read the secret key ({missing}): ResourceNotFoundException"]


def test_database_secret_without_a_password_is_refused_without_showing_it(
        local_aws, secrets, secretsmanager, tmp_path):
    secretsmanager.put_secret_value(SecretId=secrets["database"],
                                    SecretString=json.dumps({"username": "u-secretive"}))
    result = write_secrets(tmp_path / "secrets.env", node_environment(local_aws, secrets))
    assert result.returncode == 1
    assert "lacks a username or a password" in result.stderr
    assert "u-secretive" not in result.stderr


def test_a_secret_key_spanning_lines_is_refused(local_aws, secrets, secretsmanager, tmp_path):
    secretsmanager.put_secret_value(SecretId=secrets["key"], SecretString="two\nlines")
    result = write_secrets(tmp_path / "secrets.env", node_environment(local_aws, secrets))
    assert result.returncode == 1
    assert "spans lines" in result.stderr
    assert "two" not in result.stderr
