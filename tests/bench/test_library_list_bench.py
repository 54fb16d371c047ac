"""The library list benchmark still runs end to end on PostgreSQL with a few rows: every
page measured with and without the indexes, within the query budget, and EXPLAIN naming the
list's own indexes (timings are not checked)."""

import json
import subprocess
import sys
import uuid

import pytest

from tests.cluster.conftest import ROOT

pytestmark = pytest.mark.slow


def test_library_bench_measures_every_page_with_and_without_indexes(tmp_path):
    figures_path = tmp_path / "figures.json"
    database = f"stratus_test_library_bench_{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, "bench/library_list.py", "--files", "300", "--others", "40",
         "--requests", "1", "--database", database, "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    output = result.stdout + result.stderr[-3000:]
    assert result.returncode == 0, output
    assert "| page | with indexes, ms | without, ms | without/with |" in result.stdout
    figures = json.loads(figures_path.read_text())
    assert figures["with"].keys() == figures["without"].keys()
    for label, page in figures["with"].items():
        assert page["queries"] == figures["without"][label]["queries"] <= 6, label
    # Even at a few hundred rows a page of 25 in name or size order is read off its index.
    assert "library_owner_name" in figures["with"]["name A-Z"]["index"], output
    assert "library_owner_size" in figures["with"]["size, largest"]["index"], output
    drop_database(database)


def drop_database(name):
    import psycopg

    from bench.library_list import POSTGRES_URL

    with psycopg.connect(POSTGRES_URL + "postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
