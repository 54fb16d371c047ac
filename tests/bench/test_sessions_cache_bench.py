"""The sessions and cache benchmark still runs end to end: SimpleDB, DynamoDB and
PostgreSQL side by side, at both latencies (few requests; timings not checked, calls are)."""

import subprocess
import sys

import pytest

ROWS = ("SimpleDB, 0 ms", "SimpleDB, 10 ms", "DynamoDB, 0 ms", "DynamoDB, 10 ms",
        "PostgreSQL (db sessions + DatabaseCache)",
        "(5 bare boto3 GetAttributes, 0 ms)", "(5 bare boto3 GetAttributes, 10 ms)",
        "(5 bare boto3 GetItem, 0 ms)", "(5 bare boto3 GetItem, 10 ms)")
OPERATIONS = ("get", "set", "get_many(20)", "incr")


@pytest.mark.slow
def test_benchmark_prints_every_store_at_0_and_10_ms_within_its_call_budget():
    result = subprocess.run(
        [sys.executable, "bench/sessions_cache.py", "--requests", "5", "--seconds", "0.05"],
        capture_output=True, text=True, timeout=240,
    )
    output = result.stdout + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for row in ROWS:
        assert any(line.startswith(row + " ") for line in lines), (row, output)
    rates = {line.split()[0]: line.split()[1:] for line in lines
             if line.split() and line.split()[0] in OPERATIONS}
    assert {name: len(figures) for name, figures in rates.items()} == dict.fromkeys(
        OPERATIONS, 5), output
    # Calls are counted, not timed: the budgets hold at any size of run.
    for store in ("SimpleDB", "DynamoDB"):
        for latency in (0, 10):
            assert f"{store}, {latency} ms: 5.0 calls per request, 1.0 of them consistent " \
                   f"reads (budget: 5 calls, 1 consistent read): met" in result.stdout, output
    assert result.returncode in (0, 1) and ("Targets met" in result.stdout
                                            or "TARGETS MISSED" in result.stdout), output
