"""Fixtures of the periodic-task tests: the `tasks` backend's claim store, schedules of
their own (a fresh name per test: claims are named by schedule), a clock to set."""

import uuid

import pytest

from storage_backends.provisioning import Provisioner
from storage_backends.tasks.schedules import entries
from storage_backends.tasks.schedules.claims import claim_store


@pytest.fixture
def claims(tasks):
    """The ClaimStore of the `tasks` backend, in the store its results are in."""
    config = tasks.config
    if config.results_store == "dynamodb":
        Provisioner().ensure_table(config.schedules_table)
    else:
        Provisioner().ensure_domain(config.schedules_domain)
    return claim_store(tasks)


@pytest.fixture
def schedule(tasks):
    """`schedule(TASK=..., INTERVAL=...)`: a Schedule of the `tasks` backend, named afresh."""
    def make(**entry):
        entry.setdefault("TASK", "tests.tasks.jobs.noop")
        [made], problems = entries.read(tasks.alias, {f"s-{uuid.uuid4().hex[:12]}": entry})
        assert problems == []
        return made
    return make


class Clock:
    """A wall clock the test sets: epoch seconds."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock(1_800_000_000.25)  # 2027-01-15 08:00:00.25 UTC
