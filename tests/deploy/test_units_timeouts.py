"""The units' stop timeouts against what they stop: a web node's ordered stop (nginx, then
gunicorn, each given the graceful timeout) and a worker's drain. The template's tests
compare its deregistration delay and hook timeout with the same numbers (tests/deploy/units.py)."""

import re

from django.conf import settings

from apps.ops.node import Node, graceful_timeout

from .units import WEB, WORKER, read_unit, seconds, start_timeout, stop_timeout, value

#: What `Node.stop` adds to the graceful timeout before it kills a process that has not
#: stopped (apps/ops/node.py): nginx, then gunicorn, each waited for this long at most.
NODE_STOP_MARGIN = 5


def environment(unit):
    """The Environment= assignments of a unit."""
    pairs = " ".join(read_unit(unit)["Service"].get("Environment", [])).split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_units_leave_the_graceful_timeout_and_the_drain_grace_at_their_defaults():
    for unit in (WEB, WORKER):
        assert not {"GUNICORN_GRACEFUL_TIMEOUT", "STRATUS_TASK_SHUTDOWN_GRACE"} & set(
            environment(unit))


def test_web_unit_outlasts_the_nodes_ordered_stop(monkeypatch):
    monkeypatch.delenv("GUNICORN_GRACEFUL_TIMEOUT", raising=False)
    node_stop_bound = 2 * (graceful_timeout() + NODE_STOP_MARGIN)
    assert stop_timeout(WEB) > node_stop_bound


def test_nginx_shutdown_fits_within_the_graceful_timeout_and_the_unit(monkeypatch, tmp_path):
    monkeypatch.delenv("GUNICORN_GRACEFUL_TIMEOUT", raising=False)
    config = Node(8000, run_dir=tmp_path).render_config()
    nginx_shutdown = seconds(re.search(r"worker_shutdown_timeout (\w+);", config).group(1))
    assert nginx_shutdown <= graceful_timeout() < stop_timeout(WEB)


def test_worker_unit_outlasts_the_drain():
    grace = settings.TASKS["default"]["OPTIONS"]["SHUTDOWN_GRACE"]
    # After the grace: handing back what is left, then completing the lifecycle action,
    # each one AWS call within its connect and read timeouts.
    calls = 2 * (settings.AWS_CONNECT_TIMEOUT + settings.AWS_READ_TIMEOUT)
    assert stop_timeout(WORKER) > grace + calls


def test_web_unit_waits_longer_to_start_than_prepare_release_waits_for_the_lock():
    from apps.ops.management.commands.prepare_release import Command

    parser = Command().create_parser("manage.py", "prepare_release")
    assert start_timeout(WEB) > parser.get_default("lock_timeout")


def test_sigterm_reaches_the_main_process_alone():
    # serve_node stops nginx before gunicorn, and sqs_worker drains its own threads: a
    # SIGTERM to the whole group (KillMode=control-group) would stop nginx at once.
    for unit in (WEB, WORKER):
        assert value(unit, "KillMode") == "mixed"
        assert value(unit, "KillSignal", default="SIGTERM") == "SIGTERM"


def test_units_restart_after_a_failure():
    for unit in (WEB, WORKER):
        assert value(unit, "Restart") == "on-failure"
        assert seconds(value(unit, "RestartSec")) > 0


def test_time_spans_read_as_systemd_reads_them():
    assert seconds("75") == seconds("75s") == seconds("1min 15s") == 75
