"""The task benchmark still runs end to end: every system's row, the idle latency rows and
the targets, at 10 ms of added latency (small N; figures not checked; `make bench-tasks`
runs 0 ms too)."""

import subprocess
import sys

import pytest

SYSTEMS = ("Stratus (C=", "Celery 5.7 (", "django-tasks-sqs 0.2 (", "bare boto3 (4 loops)",
           "bare boto3 (1 loop)")
LATENCY_ROWS = ("Stratus (idle worker)", "bare boto3 (1 long-poll loop)")


@pytest.mark.slow
def test_benchmark_prints_every_system_side_by_side():
    result = subprocess.run(
        [sys.executable, "bench/tasks.py", "--tasks", "50", "--latency-samples", "3",
         "--latencies", "10"],
        capture_output=True, text=True, timeout=240,
    )
    rows = [line for line in result.stdout.splitlines() if line.startswith(SYSTEMS)]
    printed = {(system, line[30:34].strip()) for line in rows for system in SYSTEMS
               if line.startswith(system)}
    assert printed == {(system, ms) for system in SYSTEMS for ms in ("10",)}, (
        result.stdout + result.stderr[-3000:])
    latency_rows = {(line[:40].strip(), line[40:44].strip())
                    for line in result.stdout.splitlines() if line.startswith(LATENCY_ROWS)}
    assert latency_rows == {(row, ms) for row in LATENCY_ROWS for ms in ("10",)}, (
        result.stdout)
    # 50 tasks are too few for the throughput targets: exit 1 says so, as it may.
    assert result.returncode in (0, 1) and ("Targets met" in result.stdout
                                            or "TARGETS MISSED" in result.stdout)
