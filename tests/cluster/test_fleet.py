"""The local fleet (`localaws.fleet`): real nodes, workers, HAProxy and moto's Auto Scaling.

Two web nodes and one worker on PostgreSQL, with the controller's clock shortened so that a
replacement and a scale-in happen within seconds. Each test waits on the controller's events.
"""

import os
import secrets
import subprocess
import sys
import threading
import time

import pytest
import requests

from localaws import free_port
from localaws.autoscaling.controller import IN_SERVICE, Timings
from localaws.balancer import HealthCheck
from localaws.fleet import Fleet, FleetConfig

from .conftest import ROOT, logged_in_session, require_haproxy

pytestmark = pytest.mark.slow

PASSWORD = "fleet-pass-123"
DEADLINE = 60
TIMINGS = Timings(tick=0.2, period=1.0, warmup=2.0, scale_in_cooldown=2.0,
                  scale_out_datapoints=1, scale_in_datapoints=2, deregistration_delay=15.0,
                  health_check_grace=5.0, launch_timeout=60.0, stop_timeout=20.0)
POSTGRES = "postgres://postgres@127.0.0.1:5432/"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Two web nodes (up to 3) and one worker (up to 2), with a user `rover`."""
    require_haproxy()
    database = f"stratus_fleet_test_{os.getpid()}_{secrets.token_hex(3)}"
    reset_database(database)
    config = FleetConfig(
        port=free_port(), run_dir=str(tmp_path_factory.mktemp("fleet")), web_min=2, web_max=3,
        worker_min=1, worker_max=2, timings=TIMINGS, worker_hook_timeout=30,
        # Far above the tests' load: scaling happens only when a test asks for capacity.
        web_target=1e9, worker_target=1e9,
        health=HealthCheck(interval=1, timeout=5, healthy_threshold=2, unhealthy_threshold=2),
        environment={"DATABASE_URL": POSTGRES + database,
                     "DJANGO_SETTINGS_MODULE": "tests.cluster.settings"})
    fleet = Fleet(config)
    try:
        fleet.start()
        manage(fleet, "shell", "--no-imports", "-c",
               "from django.contrib.auth import get_user_model; "
               f"get_user_model().objects.create_user('rover', password={PASSWORD!r})")
        yield fleet
    finally:
        fleet.stop()
        reset_database(database, "--drop")


def reset_database(name, *flags):
    result = subprocess.run([sys.executable, "bin/reset-database", *flags, POSTGRES + name],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def manage(fleet, *args):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                            env=fleet.environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def wait_for_event(fleet, since, group, what, detail="", timeout=DEADLINE):
    """The first event of `group` named `what` (its detail containing `detail`) after `since`."""
    deadline = time.monotonic() + timeout
    while True:
        for event in fleet.controller.events_since(since):
            if event.group == group.name and event.what == what and detail in event.detail:
                return event
        assert time.monotonic() < deadline, (
            f"no {what!r} event for {group.name}; events: {fleet.controller.events_since(since)}")
        time.sleep(0.1)  # the controller's loop moves on its own tick


class Load:
    """Logged-in users repeating GETs (and uploads) through the balancer until stopped."""

    def __init__(self, fleet, readers=2, uploaders=0, upload_bytes=0):
        self.url = fleet.url
        self.stop = threading.Event()
        self.outcomes = []  # (method, status or error text)
        self.uploaded = 0
        self._threads = [threading.Thread(target=self._read, daemon=True) for _ in range(readers)]
        self._threads += [threading.Thread(target=self._upload, args=(upload_bytes,), daemon=True)
                          for _ in range(uploaders)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=DEADLINE)

    def _session(self):
        return logged_in_session(self.url, "rover", PASSWORD, DEADLINE)

    def _record(self, method, call):
        try:
            response = call()
            self.outcomes.append((method, response.status_code))
            return response
        except requests.RequestException as error:
            self.outcomes.append((method, type(error).__name__))
            return None

    def _read(self):
        session = self._session()
        while not self.stop.is_set():
            self._record("GET", lambda: session.get(self.url + "/library/", timeout=DEADLINE,
                                                    allow_redirects=False))

    def _upload(self, size):
        session = self._session()
        while not self.stop.is_set():
            body = secrets.token_bytes(size)
            response = self._record("POST", lambda: session.post(
                self.url + "/library/upload/", files={"file": ("load.bin", body)},
                data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
                timeout=DEADLINE, allow_redirects=False))
            if response is not None and response.status_code == 302:
                self.uploaded += 1

    def failures(self):
        expected = {"GET": 200, "POST": 302}
        return [(method, outcome) for method, outcome in self.outcomes
                if outcome != expected[method]]


def test_the_fleet_serves_the_site_through_the_balancer_from_both_nodes(fleet):
    assert len(fleet.in_service(fleet.web)) == 2
    assert len(fleet.in_service(fleet.workers)) == 1
    session = logged_in_session(fleet.url, "rover", PASSWORD, DEADLINE)
    assert session.get(fleet.url + "/library/", timeout=DEADLINE).status_code == 200
    totals = {s.name: s.total_sessions for s in fleet.balancer.runtime.stats()
              if s.name in {m.slot for m in fleet.in_service(fleet.web)}}
    assert all(total > 0 for total in totals.values()), totals


def test_a_killed_web_node_is_replaced_while_users_see_no_failure(fleet):
    since = time.monotonic()
    with Load(fleet, readers=2) as load:
        killed = fleet.kill(fleet.web)
        wait_for_event(fleet, since, fleet.web, "replaced", "died")
        wait_for_event(fleet, since, fleet.web, "serving", "replacement")
    assert killed not in fleet.web.members
    assert len(fleet.in_service(fleet.web)) == 2
    assert load.outcomes and not load.failures(), load.failures()


def test_a_scale_in_drains_the_node_and_drops_no_request(fleet):
    since = time.monotonic()
    with Load(fleet, readers=2, uploaders=2, upload_bytes=2 * 1024 * 1024) as load:
        fleet.web.request_capacity(3)
        wait_for_event(fleet, since, fleet.web, "serving", "scale-out")
        # No load reaches the target: the policy itself scales back in to the minimum.
        wait_for_event(fleet, since, fleet.web, "scale-in", "3 -> 2")
        deregistered = wait_for_event(fleet, since, fleet.web, "deregistered")
        wait_for_event(fleet, since, fleet.web, "terminated")
    assert "failed=0" in deregistered.detail
    assert fleet.web.failed_while_scaling_in == 0
    assert load.uploaded > 0
    assert not load.failures(), load.failures()
    assert fleet.web.members and all(m.state == IN_SERVICE for m in fleet.web.members.values())


def test_a_scaled_in_worker_drains_and_completes_its_lifecycle_action(fleet):
    since = time.monotonic()
    fleet.workers.request_capacity(2)
    wait_for_event(fleet, since, fleet.workers, "launched", "scale-out")
    terminating = wait_for_event(fleet, since, fleet.workers, "terminating")
    terminated = wait_for_event(fleet, since, fleet.workers, "terminated")
    # Completed by the worker's own CompleteLifecycleAction, not abandoned at the timeout.
    assert terminated.instance_id == terminating.instance_id
    assert "completed by the worker" in terminated.detail
    assert terminated.instance_id not in fleet.controller.service.instances(fleet.workers.name)
    with open(os.path.join(fleet.config.run_dir, f"{terminated.instance_id}.log")) as log:
        assert "lifecycle=completed" in log.read()


def test_a_killed_worker_is_replaced(fleet):
    since = time.monotonic()
    killed = fleet.kill(fleet.workers)
    wait_for_event(fleet, since, fleet.workers, "replaced", "died")
    replacement = wait_for_event(fleet, since, fleet.workers, "launched", "replacement")
    assert replacement.instance_id != killed
    assert killed not in fleet.controller.service.instances(fleet.workers.name)


def test_a_node_failing_its_health_checks_is_drained_then_replaced(fleet):
    since = time.monotonic()
    node = fleet.in_service(fleet.web)[0]
    # Its /readyz answers 503 from now on: HAProxy marks it DOWN after two checks.
    with open(os.path.join(node.run_dir, "draining"), "w"):
        pass
    unhealthy = wait_for_event(fleet, since, fleet.web, "unhealthy")
    replaced = wait_for_event(fleet, since, fleet.web, "replaced")
    wait_for_event(fleet, since, fleet.web, "serving", "replacement")
    assert unhealthy.instance_id == replaced.instance_id == node.instance_id
    # Stopped by SIGTERM after its drain, not killed.
    assert replaced.detail == "exit status 0"
    assert node.instance_id not in fleet.controller.service.instances(fleet.web.name)
