"""bin/build-release: what the artefact holds (HEAD's code, the uploader bundle, a wheel of
every requirement for the instances, its version) and what it must not (the venv, var/,
local secrets), and that a commit always gives the same bytes."""

import hashlib
import re
import subprocess
import sys
import tarfile

import pytest

from .release_fixtures import ROOT, built_release  # noqa: F401 (a fixture)

BUNDLE = "apps/uploads/static/uploads/"
#: name[extras]==version lines of a requirements file.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", re.MULTILINE)
#: A wheel's file name: distribution, version, [build,] python, abi, platform.
WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<python>[^-]+)"
                   r"-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl$")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


def head_files():
    return set(git("ls-tree", "-r", "--name-only", "HEAD").decode().splitlines())


def member(release, name):
    with tarfile.open(release.path) as tar:
        return tar.extractfile(f"{release.top}/{name}").read()


def files(release):
    with tarfile.open(release.path) as tar:
        return {info.name.split("/", 1)[1] for info in tar.getmembers() if info.isfile()}


def wheels(release):
    return [WHEEL.match(name.removeprefix("wheels/")) for name in files(release)
            if name.startswith("wheels/")]


def test_every_file_sits_in_one_top_folder_named_for_the_version(built_release):
    with tarfile.open(built_release.path) as tar:
        assert {name.split("/")[0] for name in tar.getnames()} == {built_release.top}


def test_it_holds_heads_code(built_release):
    assert head_files() <= files(built_release)
    for name in ("manage.py", "deploy/install-node", "project/settings.py"):
        assert member(built_release, name) == git("show", f"HEAD:{name}")


def test_beyond_heads_code_it_holds_only_the_bundle_the_wheels_and_release(built_release):
    extra = files(built_release) - head_files()
    assert {name for name in extra
            if not name.startswith((BUNDLE, "wheels/")) and name != "RELEASE"} == set()
    for name in files(built_release):
        assert not name.startswith((".venv/", "var/", "node_modules/", ".git/")), name
        assert "secret_key" not in name and not name.endswith(".env"), name


def test_install_node_keeps_its_execute_bit(built_release):
    with tarfile.open(built_release.path) as tar:
        for name in ("deploy/install-node", "deploy/write-secrets", "bin/start-node"):
            assert tar.getmember(f"{built_release.top}/{name}").mode == 0o755


def test_it_holds_the_built_uploader_bundle(built_release):
    for name in ("uploader.js", "uploader.css"):
        assert member(built_release, BUNDLE + name) == (ROOT / BUNDLE / name).read_bytes()


def test_it_holds_a_wheel_of_every_pinned_requirement_at_its_version(built_release):
    held = {canonical(wheel["name"]): wheel["version"] for wheel in wheels(built_release)}
    pins = PIN.findall((ROOT / "requirements.txt").read_text())
    assert pins
    for name, version in pins:
        assert held.get(canonical(name)) == version, name


def test_every_wheel_suits_cpython_312_on_x86_64_linux(built_release):
    for wheel in wheels(built_release):
        assert wheel, "a file in wheels/ is not a wheel"
        assert set(wheel["python"].split(".")) & {"py3", "py2", "cp312"}, wheel.string
        assert set(wheel["abi"].split(".")) & {"none", "abi3", "cp312"}, wheel.string
        assert all(platform == "any" or (platform.startswith("manylinux")
                                         and platform.endswith("_x86_64"))
                   for platform in wheel["platform"].split(".")), wheel.string


def test_release_names_heads_commit(built_release):
    sha = git("rev-parse", "--short=12", "HEAD").decode().strip()
    assert built_release.version in (sha, sha + "-dirty")
    assert member(built_release, "RELEASE").decode() == built_release.version + "\n"


def test_its_checksum_file_is_sha256sums(built_release):
    checksum = built_release.path.with_name(built_release.path.name + ".sha256")
    digest = hashlib.sha256(built_release.path.read_bytes()).hexdigest()
    assert checksum.read_text() == f"{digest}  {built_release.path.name}\n"
    assert subprocess.run(["sha256sum", "--check", "--status", checksum.name],
                          cwd=checksum.parent).returncode == 0


@pytest.mark.slow
def test_the_same_commit_builds_the_same_bytes(built_release, tmp_path):
    result = subprocess.run([sys.executable, "bin/build-release", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / built_release.path.name).read_bytes() == built_release.path.read_bytes()


def test_a_tree_with_uncommitted_changes_gets_a_dirty_version(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
                   check=True, capture_output=True)

    def version():
        return subprocess.run([sys.executable, "bin/build-release", "--print-version"],
                              cwd=clone, capture_output=True, text=True,
                              check=True).stdout.strip()

    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=clone,
                         capture_output=True, text=True, check=True).stdout.strip()
    (clone / "untracked.txt").write_text("not in git: not in a release either\n")
    assert version() == sha
    with open(clone / "README.md", "a") as readme:
        readme.write("\nan uncommitted line\n")
    assert version() == sha + "-dirty"


def test_a_missing_interpreter_is_named(tmp_path):
    fake = tmp_path / "python3.12"
    fake.write_text("#!/bin/sh\nexit 1\n")  # answers to the name, is no CPython 3.12
    fake.chmod(0o755)
    result = subprocess.run([sys.executable, "bin/build-release", "--python", str(fake),
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "no CPython 3.12 found" in result.stderr
    assert not list(tmp_path.glob("*.tar.gz"))
