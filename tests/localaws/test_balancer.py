"""HAProxy as the local ALB: real haproxy, real node processes, real sockets."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from localaws import free_port
from localaws.balancer import (
    ALB_HEALTH_CHECK,
    Balancer,
    BalancerConfig,
    BalancerError,
    HealthCheck,
    RuntimeAPI,
)
from localaws.balancer.process import haproxy_binary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 30
#: Checks every 200 ms, out after 2 failures: a node's health changes within a second. The
#: timeout is generous so that a loaded machine does not take a healthy node out.
QUICK_CHECKS = HealthCheck(interval=0.2, timeout=2, healthy_threshold=2, unhealthy_threshold=2)

pytestmark = pytest.mark.slow


def wait_for(condition, what, timeout=TIMEOUT):
    """Poll `condition` (a state change in another process) until true, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling another process's state, not sleeping for an outcome


class Node:
    """One tests/localaws/http_backend.py process."""

    def __init__(self, name):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.localaws.http_backend", "--port", str(self.port),
             "--name", name], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, f"node {name} to answer")

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"node {self.name} exited with {self.process.returncode}")
        try:
            return requests.get(self.url + "/whoami", timeout=2).ok
        except requests.ConnectionError:
            return False

    def inflight(self):
        return int(requests.get(self.url + "/inflight", timeout=5).text)

    def post(self, path):
        requests.post(self.url + path, timeout=5).raise_for_status()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def start_node():
    nodes = []

    def start(name):
        nodes.append(Node(name))
        return nodes[-1]

    yield start
    for node in nodes:
        if node.process.poll() is None:
            node.kill()


@pytest.fixture
def haproxy():
    """HAProxy's path; the test is skipped (a failure under CI=true) without it."""
    try:
        return haproxy_binary()
    except BalancerError as missing:
        pytest.skip(str(missing))


@pytest.fixture
def start_balancer(haproxy):
    balancers = []

    def start(*nodes, health=QUICK_CHECKS, slots=4, **options):
        # A unix socket's path must stay short; pytest's tmp_path can be too deep.
        run_dir = tempfile.mkdtemp(prefix="stratus-lb-")
        balancer = Balancer(BalancerConfig(run_dir=run_dir, port=free_port(), slots=slots,
                                           health=health, **options))
        balancers.append(balancer)
        balancer.start()
        slots_by_node = {node.name: balancer.runtime.add_server("127.0.0.1", node.port)
                         for node in nodes}
        return balancer, slots_by_node

    yield start
    for balancer in balancers:
        balancer.stop()
        shutil.rmtree(balancer.config.run_dir, ignore_errors=True)


def whoami(balancer, count, session=None):
    session = session or requests.Session()
    answers = []
    for _ in range(count):
        response = session.get(balancer.url + "/whoami", timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        answers.append(response.text)
    return answers


def in_background(function, *args, **kwargs):
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(function, *args, **kwargs)
    pool.shutdown(wait=False)
    return future


def slow_request_on(balancer, nodes, method="GET"):
    """Start a /slow request through the balancer; its future and the node holding it."""
    future = in_background(requests.request, method, balancer.url + "/slow", timeout=TIMEOUT)
    wait_for(lambda: any(node.inflight() for node in nodes), "the slow request to arrive")
    return future, next(node for node in nodes if node.inflight())


# -- configuration -------------------------------------------------------------------------
def test_rendered_configuration_is_valid_for_haproxy(haproxy, tmp_path):
    config = BalancerConfig(run_dir=str(tmp_path), port=free_port())
    Balancer(config).check()
    text = open(config.config_path).read()
    assert f"bind 127.0.0.1:{config.port}" in text
    assert "inter 30000ms" in text and "rise 5 fall 2" in text  # the ALB's defaults


def test_alb_health_check_defaults_are_the_target_groups():
    assert (ALB_HEALTH_CHECK.path, ALB_HEALTH_CHECK.interval, ALB_HEALTH_CHECK.timeout,
            ALB_HEALTH_CHECK.healthy_threshold, ALB_HEALTH_CHECK.unhealthy_threshold) == (
        "/readyz", 30, 5, 5, 2)


def test_a_run_directory_too_deep_for_a_unix_socket_is_refused():
    with pytest.raises(ValueError, match="too deep"):
        BalancerConfig(run_dir="/" + "d" * 120, port=8000)


def test_a_port_already_taken_is_a_clear_error(haproxy):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run_dir = tempfile.mkdtemp(prefix="stratus-lb-")
        try:
            with pytest.raises(BalancerError, match="exited at start"):
                Balancer(BalancerConfig(run_dir=run_dir, port=taken.getsockname()[1])).start()
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)


# -- routing ------------------------------------------------------------------------------
def test_requests_on_one_connection_spread_across_two_nodes(start_node, start_balancer):
    balancer, _ = start_balancer(start_node("a"), start_node("b"))
    answers = whoami(balancer, 20)
    assert answers.count("a") >= 5 and answers.count("b") >= 5


def test_a_node_killed_with_sigkill_costs_no_failed_get(start_node, start_balancer):
    # The ALB's slow health checks: the balancer still thinks the dead node is up, so only
    # its retries keep users from seeing it.
    a, b = start_node("a"), start_node("b")
    balancer, _ = start_balancer(a, b, health=ALB_HEALTH_CHECK)
    session = requests.Session()
    whoami(balancer, 4, session)
    b.kill()
    assert whoami(balancer, 20, session) == ["a"] * 20


def test_a_get_in_flight_on_a_killed_node_is_retried_on_another(start_node, start_balancer):
    a, b = start_node("a"), start_node("b")
    balancer, _ = start_balancer(a, b, health=ALB_HEALTH_CHECK)
    future, victim = slow_request_on(balancer, [a, b])
    survivor = a if victim is b else b
    survivor.post("/release")
    victim.kill()
    response = future.result(timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, survivor.name)


def test_a_post_in_flight_on_a_killed_node_is_not_retried(start_node, start_balancer):
    a, b = start_node("a"), start_node("b")
    balancer, _ = start_balancer(a, b, health=ALB_HEALTH_CHECK)
    future, victim = slow_request_on(balancer, [a, b], method="POST")
    (a if victim is b else b).post("/release")
    victim.kill()
    assert future.result(timeout=TIMEOUT).status_code == 502


def test_a_get_that_times_out_on_a_hung_node_is_retried_on_another(start_node, start_balancer):
    a, b = start_node("a"), start_node("b")
    balancer, _ = start_balancer(a, b, health=ALB_HEALTH_CHECK, server_timeout=1)
    future, hung = slow_request_on(balancer, [a, b])
    survivor = a if hung is b else b
    survivor.post("/release")
    response = future.result(timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, survivor.name)


def test_a_server_added_at_run_time_starts_receiving(start_node, start_balancer):
    balancer, _ = start_balancer(start_node("a"))
    assert set(whoami(balancer, 4)) == {"a"}
    balancer.runtime.add_server("127.0.0.1", start_node("b").port)
    assert "b" in whoami(balancer, 4)


def test_a_drained_server_takes_no_new_request_while_its_slow_one_completes(
        start_node, start_balancer):
    a, b = start_node("a"), start_node("b")
    balancer, slots = start_balancer(a, b)
    future, busy = slow_request_on(balancer, [a, b])
    other = a if busy is b else b
    balancer.runtime.drain(slots[busy.name])
    assert whoami(balancer, 10) == [other.name] * 10
    busy.post("/release")
    response = future.result(timeout=TIMEOUT)
    assert (response.status_code, response.text) == (200, busy.name)
    wait_for(lambda: balancer.runtime.server(slots[busy.name]).current_sessions == 0,
             "the drained server to finish")


def test_a_removed_server_frees_its_slot_for_the_next_node(start_node, start_balancer):
    a = start_node("a")
    balancer, slots = start_balancer(a, slots=1)
    with pytest.raises(BalancerError, match="no free slot"):
        balancer.runtime.add_server("127.0.0.1", free_port())
    balancer.runtime.remove(slots["a"])
    assert balancer.runtime.server(slots["a"]).free
    assert balancer.runtime.add_server("127.0.0.1", start_node("b").port) == slots["a"]
    assert set(whoami(balancer, 3)) == {"b"}


def test_health_check_takes_a_node_answering_503_out(start_node, start_balancer):
    a, b = start_node("a"), start_node("b")
    balancer, slots = start_balancer(a, b)
    b.post("/not-ready")
    wait_for(lambda: balancer.runtime.server(slots["b"]).status == "DOWN",
             "the health check to take b out")
    assert balancer.runtime.server(slots["b"]).check_status == "L7STS"
    assert whoami(balancer, 10) == ["a"] * 10


# -- the runtime API's figures and errors ---------------------------------------------------
def test_per_server_counters_count_the_requests_each_served(start_node, start_balancer):
    balancer, slots = start_balancer(start_node("a"), start_node("b"))
    answers = whoami(balancer, 9)
    totals = {server.name: server.total_sessions for server in balancer.runtime.stats()}
    assert totals[slots["a"]] == answers.count("a")
    assert totals[slots["b"]] == answers.count("b")


def test_stats_report_each_slots_address_and_health(start_node, start_balancer):
    a = start_node("a")
    balancer, slots = start_balancer(a)
    wait_for(lambda: balancer.runtime.server(slots["a"]).check_status == "L7OK",
             "a's first health check")
    server = balancer.runtime.server(slots["a"])
    assert (server.address, server.healthy, server.free) == (f"127.0.0.1:{a.port}", True, False)
    assert sum(s.free for s in balancer.runtime.stats()) == 3


def test_an_unknown_server_is_a_clear_error(start_balancer):
    balancer, _ = start_balancer()
    with pytest.raises(BalancerError, match="no server 'node99'"):
        balancer.runtime.drain("node99")


def test_a_runtime_api_that_never_answers_times_out():
    # A unix socket's path must stay short; pytest's tmp_path can be too deep.
    directory = tempfile.mkdtemp(prefix="stratus-mute-")
    path = os.path.join(directory, "admin.sock")
    # Listening but never accepting: the kernel completes the connection, nobody answers.
    with socket.socket(socket.AF_UNIX) as mute:
        mute.bind(path)
        mute.listen()
        try:
            with pytest.raises(BalancerError, match="did not answer"):
                RuntimeAPI(path, timeout=0.2).command("show stat")
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def test_a_runtime_api_that_is_not_there_is_a_clear_error(tmp_path):
    with pytest.raises(BalancerError, match="unreachable"):
        RuntimeAPI(str(tmp_path / "missing.sock")).command("show info")
