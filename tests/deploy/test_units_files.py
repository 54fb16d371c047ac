"""The unit files as systemd reads them (`systemd-analyze verify` and `security`, offline,
in a scratch root shaped like an instance), and what each runs."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .units import UNITS, WEB, WORKER, read_unit, value

#: Where the host keeps systemd's own units (sysinit.target ...), which verify loads.
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
#: The most exposure `systemd-analyze security` may score (0 best, 10 worst; "OK" < 2).
MAX_EXPOSURE = 2.0


@pytest.fixture(scope="module")
def instance_root(tmp_path_factory):
    """A root with the units, systemd's own units and every command the units run."""
    analyze = shutil.which("systemd-analyze")
    if not analyze or not SYSTEM_UNITS.is_dir():
        pytest.skip("systemd-analyze and systemd's units are needed (Debian's systemd package)")
    root = tmp_path_factory.mktemp("instance")
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in (WEB, WORKER):
        shutil.copy(UNITS / unit, root / "etc/systemd/system" / unit)
    release = root / "opt/stratus/releases/test"
    for command in ("venv/bin/python", "bin/start-node"):
        placeholder(release / command)
    (root / "opt/stratus/current").symlink_to("releases/test")
    placeholder(root / "usr/bin/rm")
    return root


def placeholder(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


def analyze(root, *args):
    return subprocess.run(["systemd-analyze", *args, f"--root={root}", "--no-pager"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("unit", [WEB, WORKER])
def test_systemd_reads_the_unit_without_a_complaint(instance_root, unit):
    result = analyze(instance_root, "verify", "--man=no", unit)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("unit", [WEB, WORKER])
def test_the_unit_is_hardened(instance_root, unit):
    result = analyze(instance_root, "security", "--offline=true", unit)
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert exposure, result.stdout + result.stderr
    assert float(exposure.group(1)) <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("unit", [WEB, WORKER])
def test_the_unit_reads_the_stack_and_the_secrets_it_wrote(unit):
    service = read_unit(unit)["Service"]
    assert service["EnvironmentFile"] == ["/etc/stratus/stack.env",
                                          "-/run/stratus/secrets.env"]
    assert service["ExecStartPre"][0] == (
        "+/opt/stratus/current/venv/bin/python /opt/stratus/current/deploy/write-secrets")
    assert service["ExecStopPost"] == ["+/usr/bin/rm -f /run/stratus/secrets.env"]
    assert value(unit, "User") == "stratus"


def test_web_unit_prepares_the_release_then_serves_on_port_8000():
    service = read_unit(WEB)["Service"]
    assert service["ExecStartPre"][1:] == [
        "/opt/stratus/current/venv/bin/python manage.py prepare_release"]
    assert value(WEB, "ExecStart").startswith("/opt/stratus/current/bin/start-node --port 8000 ")


def test_worker_unit_waits_for_its_migrations_then_runs_the_tasks():
    service = read_unit(WORKER)["Service"]
    assert service["ExecStartPre"][1:] == [
        "/opt/stratus/current/venv/bin/python manage.py migrate --check"]
    assert value(WORKER, "ExecStart") == "/opt/stratus/current/venv/bin/python manage.py sqs_worker"


@pytest.mark.parametrize("unit", [WEB, WORKER])
def test_the_unit_logs_to_the_file_the_cloudwatch_agent_ships(unit):
    role = unit.removeprefix("stratus-").removesuffix(".service")
    assert value(unit, "StandardOutput") == f"append:/var/log/stratus/{role}.log"
    assert value(unit, "StandardError") == "inherit"
