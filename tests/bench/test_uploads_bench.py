"""The upload benchmark still runs end to end at tiny sizes: a presigned POST and a multipart
upload straight to S3 beside the form, the table printed, and no file bytes through the node
on the direct path (figures other than bytes are not checked)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.cluster.conftest import ROOT

pytestmark = pytest.mark.slow

#: One file under the API's multipart threshold (16 MiB), one over it.
SMALL, BIG = 1_000, 17 * 2**20
#: More than signing and completing a file could take, far less than any file here.
NO_FILE_BYTES = 64 * 1024


def test_uploads_bench_prints_both_paths_and_the_direct_path_moves_no_file_through_the_node(
        tmp_path):
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        pytest.skip("nginx is not installed (bin/install-system-packages installs it)")
    figures_path = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "bench/uploads.py", "--sizes", "1KB,17MiB", "--workers", "1",
         "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    # Tiny files miss the per-GB and speed targets (a fixed cost per file): exit 1 says so.
    assert result.returncode in (0, 1), result.stdout + result.stderr[-3000:]
    assert "| 1 KB proxied | direct | direct/proxied | 17 MiB proxied |" in result.stdout
    assert "bytes through the node" in result.stdout and "direct is at least as fast" in (
        result.stdout)
    figures = {(row["path"], row["size"]): row for row in json.loads(figures_path.read_text())}
    for size in (SMALL, BIG):
        direct, proxied = figures[("direct", size)], figures[("proxied", size)]
        assert proxied["request_body"] >= size, proxied
        assert direct["request_body"] + direct["response_body"] < NO_FILE_BYTES, direct
