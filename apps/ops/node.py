"""One web node: nginx on the node's port, in front of gunicorn on a unix socket.

`manage.py serve_node` (bin/start-node) runs a `Node`; `make run`, the fleet and
production all start nodes this way, so every node has the same layout:

    client ── nginx :PORT ── unix socket ── gunicorn (gunicorn.conf.py) ── Django

nginx buffers whole requests and responses (a slow client holds an nginx connection, never
a gunicorn thread) and refuses bodies over their URL's limit (apps.ops.bodies). Its
configuration is rendered from etc/nginx/node.conf.template into the node's run directory
(by default var/node-PORT/), which also holds the socket, nginx's pid and temporary files
and the error pages nginx shows: nothing needs root, and two checkouts, or two nodes of
one checkout on different ports, never share a file.

Scale-in drains a node before signalling it: whoever stops the node creates `draining` in
its run directory (gunicorn's `STRATUS_DRAIN_FILE`), so /readyz answers 503 and the
balancer stops sending it requests, then waits for those in flight, then sends SIGTERM.
"""

import ctypes
import errno
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine
from django.template.loader import render_to_string
from django.utils.csp import build_policy

from . import bodies

TEMPLATE = Path(settings.BASE_DIR) / "etc" / "nginx" / "node.conf.template"
#: Seconds gunicorn may take to open its socket (Django's start-up, on a slow machine).
START_TIMEOUT = 60
#: A unix socket's path must fit in sockaddr_un.
MAX_SOCKET_PATH = 107
#: Seconds nginx gives a client to send its headers, and to send more of its body, before
#: answering 408 and closing the connection.
CLIENT_TIMEOUT = 10


def graceful_timeout():
    """Seconds a stopping node lets requests in flight finish (gunicorn's own setting)."""
    return int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))


def _die_with_parent():
    """In a child, before exec: get SIGTERM if the node's process dies, however it dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class NodeError(Exception):
    """The node cannot start or stopped on its own; the message is one line for the user."""


def find_nginx():
    """nginx's path, also in /usr/sbin, which a user's PATH may lack; None if not installed."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def check_port_free(host, port):
    """Raise NodeError naming the port if something already listens on it."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise NodeError(f"port {port} is already in use; choose another with "
                                f"PORT={port + 1}") from None
            raise NodeError(f"cannot listen on {host}:{port}: {error.strerror}") from None


class Node:
    """nginx and gunicorn for one port, started, watched and stopped together."""

    def __init__(self, port, run_dir=None, host=None, workers=None):
        self.port = port
        self.host = host or ("0.0.0.0" if settings.PRODUCTION else "127.0.0.1")
        self.run_dir = Path(run_dir or Path(settings.VAR_DIR) / f"node-{port}").absolute()
        self.socket = self.run_dir / "gunicorn.sock"
        self.drain_file = self.run_dir / "draining"
        self.workers = workers
        self.gunicorn = self.nginx = None
        self.stopping = threading.Event()

    @property
    def url(self):
        return f"http://{'127.0.0.1' if self.host == '0.0.0.0' else self.host}:{self.port}"

    # -- configuration ----------------------------------------------------------------------
    def prepare(self):
        """Check what the node needs, then write its nginx.conf and error pages."""
        self.nginx_path = find_nginx()
        if not self.nginx_path:
            raise NodeError("nginx is not installed; install it with bin/install-system-packages "
                            "nginx (or: sudo apt-get install nginx)")
        if len(str(self.socket)) > MAX_SOCKET_PATH:
            raise NodeError(f"the run directory {self.run_dir} is too deep for a unix socket; "
                            "give a shorter one")
        check_port_free(self.host, self.port)
        self.make_run_dir()
        self.config_path = self.run_dir / "nginx.conf"
        self.config_path.write_text(self.render_config())
        context = bodies.error_page_context()
        for page in ("413.html", "503.html"):
            (self.run_dir / "pages" / page).write_text(render_to_string(page, context))

    def make_run_dir(self):
        """Create the run directory, or clear what a previous node left in it."""
        (self.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "pages").mkdir(exist_ok=True)
        # Only the node's user reaches the socket: whatever connects to it is trusted to say
        # who the client is (apps.ops.forwarded).
        self.run_dir.chmod(0o700)
        self.socket.unlink(missing_ok=True)
        # A node drained and stopped in this directory before must not start out of service.
        self.drain_file.unlink(missing_ok=True)

    def render_config(self):
        """nginx.conf for this node, from etc/nginx/node.conf.template."""
        default_limit, path_limits = bodies.limits()
        engine = Engine(autoescape=False)
        return engine.from_string(TEMPLATE.read_text()).render(Context({
            "host": self.host,
            "port": self.port,
            "run_dir": self.run_dir,
            "socket": self.socket,
            "worker_processes": "auto",
            # As root, nginx would hand its workers to `nobody`, who may not reach the run
            # directory; they run as the node's user instead.
            "user": pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else "",
            "body_max": default_limit,
            "path_limits": sorted(path_limits.items()),
            "client_timeout": CLIENT_TIMEOUT,
            # gunicorn ends a stuck request first (its timeout), so its 500 reaches nginx.
            "proxy_read_timeout": int(os.environ.get("GUNICORN_TIMEOUT", "60")) + 5,
            "trust_forwarded_proto": settings.STRATUS_TRUSTED_PROXY_COUNT > 0,
            "shutdown_timeout": graceful_timeout(),
            # nginx's own error pages carry the site's policy too (they need no nonce).
            "content_security_policy": build_policy(settings.SECURE_CSP),
        }))

    # -- processes ------------------------------------------------------------------------------
    def start(self):
        """Start gunicorn, wait for its socket, then nginx; return once both are up."""
        # Each in its own session, so that a Ctrl-C or a supervisor's signal to this
        # process's group reaches only this process, which stops them in order.
        self.gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=settings.BASE_DIR, env=self.gunicorn_env(), start_new_session=True,
            preexec_fn=_die_with_parent)
        self._wait_for_socket()
        if self.stopping.is_set():
            return self
        self.nginx = subprocess.Popen(
            [self.nginx_path, "-p", str(self.run_dir), "-e", "stderr",
             "-c", str(self.config_path)],
            start_new_session=True, preexec_fn=_die_with_parent)
        self._wait_for_port()
        return self

    def gunicorn_env(self):
        """gunicorn's environment: this process's, with the node's socket and drain file."""
        env = {**os.environ, "GUNICORN_BIND": f"unix:{self.socket}"}
        # One that is set already wins: production may keep it where its termination step
        # writes, outside the run directory.
        env.setdefault("STRATUS_DRAIN_FILE", str(self.drain_file))
        if self.workers is not None:
            env["WEB_CONCURRENCY"] = str(self.workers)
        return env

    def _wait_for_socket(self):
        def connect():
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(self.socket))
        self._wait_until_open(connect, self.gunicorn, "gunicorn", f"open {self.socket}")

    def _wait_for_port(self):
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        self._wait_until_open(lambda: socket.create_connection((host, self.port), timeout=1).close(),
                              self.nginx, "nginx", f"listen on port {self.port}")

    def _wait_until_open(self, connect, process, name, what):
        """Until `connect()` succeeds; NodeError if `process` exits or START_TIMEOUT passes."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.stopping.is_set():
            self._check_running(process, name)
            try:
                connect()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise NodeError(f"{name} did not {what} within {START_TIMEOUT} s") from None
                self.stopping.wait(0.1)

    @staticmethod
    def _check_running(process, name):
        if process.poll() is not None:
            raise NodeError(f"{name} exited with status {process.returncode} while starting "
                            "(its message is above)")

    def watch(self):
        """Until `stopping` is set: raise NodeError if either process exits on its own."""
        while not self.stopping.wait(0.5):
            for process, name in ((self.gunicorn, "gunicorn"), (self.nginx, "nginx")):
                if process.poll() is not None:
                    raise NodeError(f"{name} exited with status {process.returncode}; "
                                    "the node stops")

    def stop(self):
        """Stop taking requests (nginx, gracefully: it finishes those in flight), then gunicorn."""
        self.stopping.set()
        for process, graceful in ((self.nginx, signal.SIGQUIT), (self.gunicorn, signal.SIGTERM)):
            if process is None or process.poll() is not None:
                continue
            process.send_signal(graceful)
            try:
                process.wait(timeout=graceful_timeout() + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.socket.unlink(missing_ok=True)
