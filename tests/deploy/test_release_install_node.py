"""deploy/install-node, run as the user data runs it but into a scratch root (--root) and
without changing this machine (--skip-system: dnf, useradd, the agent and systemctl are
only printed). The venv is really built, from the artefact's wheels alone, with this
machine's CPython 3.12; what only Amazon Linux 2023 can show is listed in
docs/deploy-nodes.md."""

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from .release_fixtures import ROOT, built_release, target_python  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

INSTALL_NODE = ROOT / "deploy" / "install-node"
LOG_GROUP = "/stratus/prod/web"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", re.MULTILINE)


def stack_root(tmp_path, **values):
    """A scratch root holding the /etc/stratus/stack.env the user data writes."""
    root = tmp_path / "root"
    (root / "etc/stratus").mkdir(parents=True)
    env = {"DJANGO_ENV": "production", "STRATUS_LOG_GROUP": LOG_GROUP, **values}
    (root / "etc/stratus/stack.env").write_text(
        "".join(f"{key}={value}\n" for key, value in env.items()))
    return root


def install(root, *args, python=None):
    command = [str(INSTALL_NODE), "--root", str(root), "--skip-system", *args]
    if python:
        command += ["--python", python]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def web_node(built_release, target_python, tmp_path_factory):
    """A web node's root after install-node, and what it printed."""
    root = stack_root(tmp_path_factory.mktemp("web"), STRATUS_ROLE="web")
    result = install(root, "--role", "web", "--artifact", str(built_release.path),
                     python=target_python)
    assert result.returncode == 0, result.stdout + result.stderr
    return root, result.stdout


def test_the_release_is_unpacked_under_its_version_and_made_current(web_node, built_release):
    root, _ = web_node
    release = root / "opt/stratus/releases" / built_release.version
    assert (root / "opt/stratus/current").readlink() == Path("releases", built_release.version)
    assert (release / "RELEASE").read_text() == built_release.version + "\n"
    assert (release / "manage.py").is_file()
    assert (release / "apps/uploads/static/uploads/uploader.js").is_file()


def test_the_venv_holds_every_pinned_requirement_at_its_version(web_node):
    root, _ = web_node
    python = root / "opt/stratus/current/venv/bin/python"
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    installed = {re.sub(r"[-_.]+", "-", item["name"]).lower(): item["version"]
                 for item in json.loads(listed)}
    for name, version in PIN.findall((ROOT / "requirements.txt").read_text()):
        assert installed.get(re.sub(r"[-_.]+", "-", name).lower()) == version, name
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_the_installed_release_runs_django(web_node):
    root, _ = web_node
    current = root / "opt/stratus/current"
    python = current / "venv/bin/python"
    native = subprocess.run(
        [python, "-c", "import PIL.Image, pypdfium2, psycopg; "
                       "assert psycopg.pq.__impl__ == 'binary', psycopg.pq.__impl__"],
        capture_output=True, text=True)
    assert native.returncode == 0, native.stderr
    # Local mode: its SQLite and secret key go to a var/ of the scratch root's release.
    check = subprocess.run([python, "manage.py", "check"], cwd=current, capture_output=True,
                           text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert check.returncode == 0, check.stderr
    assert "System check identified no issues" in check.stdout


def test_the_code_is_compiled_ahead(web_node):
    root, _ = web_node
    assert list((root / "opt/stratus/current/apps/ops/__pycache__").glob("node.cpython-312.pyc"))


def test_the_roles_unit_is_installed_and_started(web_node):
    root, output = web_node
    unit = root / "etc/systemd/system/stratus-web.service"
    assert unit.read_text() == (ROOT / "deploy/systemd/stratus-web.service").read_text()
    assert not (root / "etc/systemd/system/stratus-worker.service").exists()
    assert "install-node: skipped: systemctl enable stratus-web.service" in output
    assert "install-node: skipped: systemctl restart stratus-web.service" in output


def test_os_packages_come_from_dnf(web_node):
    _, output = web_node
    assert ("install-node: skipped: dnf install -y -q python3.12 python3.12-pip nginx "
            "amazon-cloudwatch-agent logrotate") in output


def test_the_cloudwatch_agent_ships_the_service_log_to_the_stacks_log_group(web_node):
    root, output = web_node
    config = json.loads((root / "etc/stratus/cloudwatch-agent.json").read_text())
    collected = config["logs"]["logs_collected"]["files"]["collect_list"]
    assert {(item["file_path"], item["log_group_name"], item["log_stream_name"])
            for item in collected} == {
        ("/var/log/stratus/web.log", LOG_GROUP, "{instance_id}/web"),
        ("/var/log/cloud-init-output.log", LOG_GROUP, "{instance_id}/install")}
    assert ("amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "
            "file:/etc/stratus/cloudwatch-agent.json") in output


def test_logs_are_rotated_without_reopening(web_node):
    root, _ = web_node
    rules = (root / "etc/logrotate.d/stratus").read_text()
    assert rules.startswith("/var/log/stratus/*.log {")
    assert "copytruncate" in rules


def test_installing_the_same_release_again_changes_nothing(web_node, built_release,
                                                           target_python):
    root, _ = web_node
    marker = root / "opt/stratus/releases" / built_release.version / ".installed"
    before = marker.stat().st_mtime_ns
    result = install(root, "--role", "web", "--artifact", str(built_release.path),
                     python=target_python)
    assert result.returncode == 0, result.stderr
    assert f"release {built_release.version} is installed already" in result.stdout
    assert marker.stat().st_mtime_ns == before


def test_a_worker_gets_the_worker_unit(built_release, target_python, tmp_path):
    root = stack_root(tmp_path, STRATUS_ROLE="worker")
    result = install(root, "--role", "worker", "--artifact", str(built_release.path),
                     python=target_python)
    assert result.returncode == 0, result.stderr
    assert (root / "etc/systemd/system/stratus-worker.service").is_file()
    assert not (root / "etc/systemd/system/stratus-web.service").exists()
    config = json.loads((root / "etc/stratus/cloudwatch-agent.json").read_text())
    assert config["logs"]["logs_collected"]["files"]["collect_list"][0]["file_path"] == (
        "/var/log/stratus/worker.log")


def test_a_role_other_than_the_stacks_is_refused(built_release, tmp_path):
    root = stack_root(tmp_path, STRATUS_ROLE="worker")
    result = install(root, "--role", "web", "--artifact", str(built_release.path))
    assert result.returncode == 1
    assert "--role web, but stack.env says STRATUS_ROLE=worker" in result.stderr


def test_an_unknown_role_is_a_usage_error(built_release, tmp_path):
    result = install(stack_root(tmp_path), "--role", "scheduler",
                     "--artifact", str(built_release.path))
    assert result.returncode == 2
    assert result.stderr.startswith("usage: deploy/install-node --role web|worker")


def test_without_stack_env_nothing_is_installed(built_release, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    result = install(root, "--role", "web", "--artifact", str(built_release.path))
    assert result.returncode == 1
    assert "no " + str(root) + "/etc/stratus/stack.env" in result.stderr
    assert list(root.iterdir()) == []


def test_a_log_group_name_cloudwatch_would_refuse_is_refused(built_release, tmp_path):
    root = stack_root(tmp_path, STRATUS_LOG_GROUP='bad"name')
    result = install(root, "--role", "web", "--artifact", str(built_release.path))
    assert result.returncode == 1
    assert "STRATUS_LOG_GROUP in stack.env is not a log group name" in result.stderr


def test_a_tarball_that_is_no_release_is_refused(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    with tarfile.open(bogus, "w:gz") as tar:
        tar.add(__file__, arcname="something/else.py")
    result = install(stack_root(tmp_path), "--role", "web", "--artifact", str(bogus))
    assert result.returncode == 1
    assert "is not a Stratus release" in result.stderr
