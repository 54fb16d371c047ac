"""Real Stratus nodes (bin/start-node: nginx + gunicorn) behind the local ALB (HAProxy)."""

import shutil
import tempfile
import time

import pytest

from localaws import free_port
from localaws.autoscaling.processes import kill_tree
from localaws.balancer import Balancer, BalancerConfig, HealthCheck

from .conftest import Cluster, logged_in_session, require_haproxy

pytestmark = pytest.mark.slow

PASSWORD = "fleet-pass-123"
DEADLINE = 30
#: /readyz asks every service, so once a second per node rather than every 100 ms.
CHECKS = HealthCheck(interval=1, timeout=5, healthy_threshold=2, unhealthy_threshold=2)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Two nodes on the local stack behind a balancer, with a user `rover`."""
    require_haproxy()
    cluster = Cluster(tmp_path_factory.mktemp("fleet"))
    balancer = Balancer(BalancerConfig(run_dir=tempfile.mkdtemp(prefix="stratus-lb-"),
                                       port=free_port(), slots=4, health=CHECKS))
    try:
        cluster.start_simpledb()
        cluster.create_user("rover", PASSWORD)
        balancer.start()
        cluster.nodes = []  # (index in cluster.processes, balancer slot)
        for _ in range(2):
            index = len(cluster.processes)
            url = cluster.start_node()
            cluster.nodes.append(
                (index, balancer.runtime.add_server("127.0.0.1", int(url.rsplit(":", 1)[1]))))
        cluster.balancer = balancer
        yield cluster
    finally:
        balancer.stop()
        shutil.rmtree(balancer.config.run_dir, ignore_errors=True)
        cluster.stop()


def kill_node(process):
    """SIGKILL a node's whole process tree (start-node, nginx, gunicorn): a machine dying."""
    kill_tree(process, timeout=DEADLINE)


def test_a_logged_in_user_sees_no_failure_when_a_node_is_killed(fleet):
    url = fleet.balancer.url
    session = logged_in_session(url, "rover", PASSWORD, DEADLINE)
    assert session.get(url + "/library/", timeout=DEADLINE, allow_redirects=False).status_code == 200
    process_index, slot = fleet.nodes[1]
    kill_node(fleet.processes[process_index])
    responses = [session.get(url + "/library/", timeout=DEADLINE, allow_redirects=False)
                 for _ in range(20)]
    # Not one error, not one redirect to the log-in page: retried on the other node, which
    # knows the session (it lives in SimpleDB, not on the dead node).
    assert [r.status_code for r in responses] == [200] * 20, [
        (r.status_code, r.text[:300]) for r in responses if r.status_code != 200]
    deadline = time.monotonic() + DEADLINE
    while fleet.balancer.runtime.server(slot).status != "DOWN":
        assert time.monotonic() < deadline, "the health check never took the dead node out"
        time.sleep(0.05)  # polling the balancer's view, which changes on its own clock
