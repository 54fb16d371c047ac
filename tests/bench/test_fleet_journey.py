"""The chaos run's virtual user, on one real node: a journey then verify() find nothing
wrong, on Stratus and on the baseline (a default project loses nothing on a single node)."""

import random

import pytest
import requests

from bench.fleet_journey import PASSWORD, Tally, VirtualUser, username_for, verify
from tests.cluster.conftest import cluster  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow

#: Small files keep the test fast; the run's own range goes to 20 MB.
SIZES = (1_000, 300_000)
#: Seconds verify() waits for facts: the worker has run before it looks.
FACTS_WAIT = 30
#: A seed whose two journeys keep two files and delete one.
SEED = 1
LOSSES = ("failed_requests", "sessions_lost", "uploads_lost", "uploads_corrupted",
          "tasks_lost", "duplicate_effects", "retry_duplicates", "logins_refused",
          "client_errors", "verify_errors")


def two_journeys(url):
    """A sign-up journey and a log-in journey by one user; their tally."""
    tally = Tally()
    user = VirtualUser(url, username_for(0), PASSWORD, random.Random(SEED), tally, timeout=30,
                       size_range=SIZES)
    user.run_journey()
    user.run_journey()
    return tally


def assert_nothing_lost(summary):
    assert summary["journeys"] == 2, summary
    assert {name: summary[name] for name in LOSSES} == dict.fromkeys(LOSSES, 0), summary
    assert summary["files_verified"] == summary["files_kept"] > 0, summary
    assert summary["files_deleted"] > 0, summary


def test_journey_on_a_stratus_node_loses_nothing(cluster):
    cluster.start_simpledb(DJANGO_SETTINGS_MODULE="bench.fleet_settings")
    url = cluster.start_node()
    tally = two_journeys(url)
    cluster.manage("sqs_worker", "--batch", "--wait-seconds", "0")  # records the facts
    assert_nothing_lost(verify(url, tally, FACTS_WAIT))


def test_journey_on_a_single_baseline_node_loses_nothing(cluster, tmp_path):
    cluster.start_simpledb(DJANGO_SETTINGS_MODULE="bench.baseline_settings",
                           STRATUS_BASELINE_DIR=str(tmp_path / "node"))
    url = cluster.start_node()
    # Ready for the balancer on its database alone: a default project uses no AWS service.
    ready = requests.get(url + "/readyz", timeout=30)
    assert (ready.status_code, ready.json()["checks"]) == (200, {"database": "ok"})
    tally = two_journeys(url)
    assert_nothing_lost(verify(url, tally, FACTS_WAIT))
    assert list((tmp_path / "node" / "media").rglob("*.bin")), "files are on the node's disk"

