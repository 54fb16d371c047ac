"""A whole node as production and `make run` start it (bin/start-node): nginx in front of
gunicorn on a unix socket. Slow clients, bodies over the limit, the client's address."""

import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.template.loader import render_to_string
from django.utils.csp import build_policy

from apps.ops import bodies
from .conftest import ROOT, Cluster, logged_in_session

pytestmark = pytest.mark.slow

PASSWORD = "node-pass-123"
MB = 1024 * 1024
#: Generous, so a loaded 2-core machine never fails a test that a starved node would.
DEADLINE = 5


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """One node on the local stack, with a user `walker`; shared by this module's tests."""
    cluster = Cluster(tmp_path_factory.mktemp("node"))
    try:
        cluster.start_simpledb()
        cluster.create_user("walker", PASSWORD)
        cluster.url = cluster.start_node()
        yield cluster
    finally:
        cluster.stop()


def connect(url):
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=DEADLINE)


def send_head(sock, method, path, headers):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    sock.sendall("\r\n".join(lines).encode())


def read_response(sock):
    """The status code and body of the response on `sock`.

    Read by its Content-Length: nginx keeps reading (and dropping) a refused body for a
    while before it closes the connection.
    """
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or pytest.fail(f"connection closed: {data!r}")
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536) or pytest.fail(f"connection closed: {body!r}")
    return int(head.split()[1]), body.decode()


class SlowClients:
    """`count` connections, each sending its request's body (or headers) a byte a second."""

    def __init__(self, url, count, part):
        self.sockets = []
        for _ in range(count):
            sock = connect(url)
            if part == "body":
                send_head(sock, "POST", "/accounts/login/", [
                    "Content-Type: application/x-www-form-urlencoded", "Content-Length: 1000"])
            else:
                sock.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.sockets.append(sock)
        self.stopping = threading.Event()
        self.dripped = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        while True:
            for sock in self.sockets:
                try:
                    sock.send(b"x")
                except OSError:
                    pass
            self.dripped.set()
            if self.stopping.wait(1):
                return

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=DEADLINE)
        for sock in self.sockets:
            sock.close()


@pytest.mark.parametrize("part", ["body", "headers"])
def test_50_clients_sending_at_1_byte_a_second_do_not_starve_the_node(node, part):
    session = logged_in_session(node.url, "walker", PASSWORD, DEADLINE)
    clients = SlowClients(node.url, 50, part)
    try:
        assert clients.dripped.wait(DEADLINE)
        health = requests.get(node.url + "/healthz", timeout=DEADLINE)
        library = session.get(node.url + "/library/", timeout=DEADLINE, allow_redirects=False)
    finally:
        clients.stop()
    assert health.status_code == 200
    assert library.status_code == 200
    assert "walker" in library.text


def test_nginx_refuses_a_declared_300_mb_body_before_any_of_it_is_sent(node):
    with connect(node.url) as sock:
        send_head(sock, "POST", "/healthz", ["Content-Type: application/octet-stream",
                                             f"Content-Length: {300 * MB}"])
        status, _ = read_response(sock)
    assert status == 413


def test_nginx_refuses_a_login_post_over_the_limit_whatever_its_csrf_cookie(node):
    with connect(node.url) as sock:
        send_head(sock, "POST", "/accounts/login/", [
            "Content-Type: multipart/form-data; boundary=attack", "Cookie: csrftoken=" + "a" * 32,
            "X-CSRFToken: " + "a" * 32, f"Content-Length: {300 * MB}"])
        status, _ = read_response(sock)
    assert status == 413


def test_nginx_refuses_a_logged_in_upload_over_its_limit_before_any_of_it_is_sent(node,
                                                                                  settings):
    session = logged_in_session(node.url, "walker", PASSWORD, DEADLINE)
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    with connect(node.url) as sock:
        send_head(sock, "POST", "/library/upload/", [
            "Content-Type: multipart/form-data; boundary=upload", f"Cookie: {cookies}",
            f"Content-Length: {settings.STRATUS_UPLOAD_BODY_MAX_BYTES + 1}"])
        status, _ = read_response(sock)
    assert status == 413


def test_the_413_page_nginx_shows_is_the_sites_413_page(node):
    with connect(node.url) as sock:
        send_head(sock, "POST", "/healthz", [f"Content-Length: {300 * MB}"])
        _, body = read_response(sock)
    assert body == render_to_string("413.html", bodies.error_page_context())


def test_nginx_stops_a_chunked_body_once_it_passes_the_limit(node, settings):
    sent = 0
    chunk = b"c" * 65536
    with connect(node.url) as sock:
        send_head(sock, "POST", "/healthz", ["Transfer-Encoding: chunked"])
        try:
            # At most twice the limit: nginx answers once it has passed it.
            while sent < 2 * settings.STRATUS_BODY_MAX_BYTES:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass  # nginx closed the connection on the rest of the body
        status, _ = read_response(sock)
    assert status == 413


def test_the_upload_form_takes_a_body_over_the_limit_of_other_urls(node, settings):
    session = logged_in_session(node.url, "walker", PASSWORD, DEADLINE)
    size = settings.STRATUS_BODY_MAX_BYTES + MB
    response = session.post(node.url + "/library/upload/", data={
        "csrfmiddlewaretoken": session.cookies["csrftoken"], "title": ""},
        files={"file": ("big.bin", b"b" * size)}, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:300]


def wait_for_log_line(path, marker):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for line in path.read_text().splitlines():
            if marker in line:
                return line
        time.sleep(0.05)  # polling a log another process writes
    raise AssertionError(f"no log line with {marker}")


def test_django_sees_the_address_nginx_received_the_request_from(node):
    marker = uuid.uuid4().hex
    requests.get(f"{node.url}/healthz?{marker}", timeout=DEADLINE,
                 headers={"X-Forwarded-For": "203.0.113.5"})
    # gunicorn's access log starts with REMOTE_ADDR: nginx's peer, not the forged entry.
    line = wait_for_log_line(node.node_logs[node.url], marker)
    assert line.startswith(f'127.0.0.1 "GET /healthz?{marker}')


def test_a_node_whose_port_is_taken_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve_node", "--port", str(port),
             "--run-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: port {port} is already in use; choose another with PORT={port + 1}"]


def test_two_nodes_on_one_machine_both_serve(node):
    # As two checkouts' `make run`s do: each node its own port and run directory.
    second = node.start_node()
    assert second != node.url
    for url in (node.url, second):
        assert requests.get(url + "/healthz", timeout=DEADLINE).status_code == 200


def test_the_413_page_nginx_shows_carries_the_sites_content_security_policy(node, settings):
    response = requests.post(node.url + "/healthz", data=b"x" * (3 * MB), timeout=DEADLINE)
    assert response.status_code == 413
    assert response.headers["Content-Security-Policy"] == build_policy(settings.SECURE_CSP)


def test_a_node_whose_run_dir_holds_draining_is_not_ready_but_alive(node):
    # The node's own run directory: the first the module's cluster started.
    drain_file = Path(node.run_dirs[0]) / "draining"
    drain_file.touch()
    try:
        ready = requests.get(node.url + "/readyz", timeout=DEADLINE)
        assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
        assert requests.get(node.url + "/healthz", timeout=DEADLINE).status_code == 200
    finally:
        drain_file.unlink()
    assert requests.get(node.url + "/readyz", timeout=DEADLINE).status_code == 200
