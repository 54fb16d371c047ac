"""A release artefact built once per test session by bin/build-release, for the tests that
read it (test_release_artefact) and install it (test_release_install_node).

Test modules import `built_release` (and `target_python`); the artefact itself is built
once however many modules import them.
"""

import importlib.machinery
import importlib.util
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build_release_module():
    """bin/build-release, imported (it is a script without a .py name)."""
    loader = importlib.machinery.SourceFileLoader("build_release", str(ROOT / "bin/build-release"))
    spec = importlib.util.spec_from_loader("build_release", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Release:
    path: Path  # the .tar.gz
    version: str
    names: tuple  # every entry's name, without the top folder

    @property
    def top(self):
        return f"stratus-{self.version}"


@cache
def _build(out_dir):
    result = subprocess.run([sys.executable, "bin/build-release", "--out", str(out_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        return result.stderr.strip()
    path = Path(result.stdout.strip().splitlines()[-1])
    with tarfile.open(path) as tar:
        names = tuple(tar.getnames())
    version = path.name.removeprefix("stratus-").removesuffix(".tar.gz")
    return Release(path, version, tuple(name.split("/", 1)[1] for name in names if "/" in name))


@pytest.fixture(scope="session")
def built_release(tmp_path_factory):
    """The `Release` bin/build-release makes of this checkout's HEAD."""
    out_dir = tmp_path_factory.getbasetemp() / "releases"
    release = _build(out_dir)
    if isinstance(release, str):
        # Only a missing CPython 3.12 may stop the build; anything else is a failure.
        if "no CPython 3.12 found" in release:
            pytest.skip(release)
        pytest.fail(f"bin/build-release failed: {release}")
    return release


@pytest.fixture(scope="session")
def target_python():
    """The CPython 3.12 interpreter bin/build-release resolves wheels with."""
    module = build_release_module()
    try:
        return module.find_target_python(None)
    except module.BuildError as error:
        pytest.skip(str(error))
