"""A client for HAProxy's runtime API: register, drain and deregister nodes, read counters.

One command per connection (HAProxy's non-interactive mode: it answers and closes), each
bounded by a timeout and a reply size. The lifecycle of a slot mirrors an ALB target:

    free (maintenance, placeholder address)
      -> add_server(host, port): address set, state ready          (RegisterTargets)
      -> drain(name): no new requests, in-flight ones finish        (deregistration delay)
      -> remove(name): maintenance, placeholder address: free again (deregistered)

Not safe for several callers choosing slots at once: the Auto Scaling stand-in is the one
writer, as the Auto Scaling service is for a target group.
"""

import csv
import socket
import time
from dataclasses import dataclass

from localaws.balancer.config import BACKEND, PLACEHOLDER_HOST, PLACEHOLDER_PORT

#: Seconds any one command may take, connect to last byte.
DEFAULT_TIMEOUT = 5.0
#: The largest reply read: `show stat` for a thousand slots is well under it.
MAX_REPLY = 4 * 1024 * 1024


class BalancerError(Exception):
    """The balancer refused a command, did not answer in time, or has no such server."""


@dataclass(frozen=True)
class ServerStats:
    """One slot of the backend, from `show stat`."""

    name: str
    host: str
    port: int
    #: HAProxy's status: UP, DOWN, MAINT, DRAIN, or a transition such as "UP 1/2".
    status: str
    #: Requests being served now (current sessions).
    current_sessions: int
    #: Requests sent to this server since its slot was created (cumulative: take differences).
    total_sessions: int
    #: Requests waiting for it in HAProxy's queue (only when a maxconn is reached).
    queued: int
    #: The last health check's result (L7OK, L7STS, L4CON …), empty without one.
    check_status: str
    #: Times a request was retried or redispatched away from it.
    retries: int
    redispatches: int
    #: Requests that failed on it: connection errors, response errors and 5xx answers
    #: (cumulative, like `total_sessions`).
    errors: int = 0

    @property
    def free(self):
        """The slot holds no node."""
        return self.status == "MAINT" and (self.host, self.port) == (PLACEHOLDER_HOST,
                                                                     PLACEHOLDER_PORT)

    @property
    def healthy(self):
        """Taking requests and passing its health checks ("UP 1/2": one check failed so far)."""
        return self.status.startswith("UP")

    @property
    def address(self):
        return f"{self.host}:{self.port}"


class RuntimeAPI:
    """The runtime API of one HAProxy, over its admin-level unix socket."""

    def __init__(self, socket_path, *, backend=BACKEND, timeout=DEFAULT_TIMEOUT):
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.socket_path = socket_path
        self.backend = backend
        self.timeout = timeout

    def command(self, line):
        """Send one command and return HAProxy's whole reply as text."""
        if "\n" in line or ";" in line:
            raise ValueError("one runtime API command at a time")
        deadline = time.monotonic() + self.timeout
        reply = bytearray()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                sock.sendall(line.encode("ascii") + b"\n")
                while chunk := sock.recv(65536):
                    reply += chunk
                    if len(reply) > MAX_REPLY:
                        raise BalancerError(f"reply to {line!r} exceeds {MAX_REPLY} bytes")
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    sock.settimeout(remaining)
        except TimeoutError:
            raise BalancerError(f"balancer did not answer {line!r} within {self.timeout} s") from None
        except OSError as error:
            raise BalancerError(f"balancer's runtime API unreachable: {error}") from None
        return reply.decode("utf-8", errors="replace")

    def stats(self):
        """Every slot of the backend, in slot order."""
        text = self.command("show stat")
        if not text.startswith("# "):
            raise BalancerError(f"unexpected reply to 'show stat': {text[:200]!r}")
        rows = csv.DictReader(text[2:].splitlines())
        servers = []
        for row in rows:
            if row.get("pxname") != self.backend or row.get("svname") in ("BACKEND", "FRONTEND"):
                continue
            host, _, port = (row.get("addr") or ":0").rpartition(":")
            servers.append(ServerStats(
                name=row["svname"], host=host, port=int(port or 0), status=row["status"],
                current_sessions=_int(row, "scur"), total_sessions=_int(row, "stot"),
                queued=_int(row, "qcur"), check_status=row.get("check_status") or "",
                retries=_int(row, "wretr"), redispatches=_int(row, "wredis"),
                errors=_int(row, "econ") + _int(row, "eresp") + _int(row, "hrsp_5xx"),
            ))
        return servers

    def server(self, name):
        """One slot's figures; BalancerError if the backend has no such slot."""
        for server in self.stats():
            if server.name == name:
                return server
        raise BalancerError(f"no server {name!r} in backend {self.backend!r}")

    def add_server(self, host, port):
        """Register the node at host:port in a free slot and send it requests; its slot name.

        HAProxy takes it in at once (a slot leaving maintenance starts healthy), so the caller
        registers a node only once its /readyz answers 200; the health checks run from then.
        """
        free = [server for server in self.stats() if server.free]
        if not free:
            raise BalancerError(f"no free slot in backend {self.backend!r}")
        name = free[0].name
        self._set(name, f"addr {host} port {int(port)}")
        placed = self.server(name)
        if (placed.host, placed.port) != (host, int(port)):
            raise BalancerError(f"{name} is at {placed.address}, not {host}:{port}")
        self._set_empty(name, "state ready")
        return name

    def drain(self, name):
        """Send the slot's node no new requests; those it is serving finish."""
        self._set_empty(name, "state drain")

    def remove(self, name):
        """Take the slot's node out at once and free the slot (drain first to lose nothing)."""
        self._set_empty(name, "state maint")
        self._set(name, f"addr {PLACEHOLDER_HOST} port {PLACEHOLDER_PORT}")

    def _set(self, name, what):
        self.server(name)  # a clear error for a wrong name, before HAProxy's terse one
        return self.command(f"set server {self.backend}/{name} {what}")

    def _set_empty(self, name, what):
        # State changes answer nothing on success, and a sentence on failure.
        reply = self._set(name, what).strip()
        if reply:
            raise BalancerError(f"set server {self.backend}/{name} {what}: {reply}")


def _int(row, key):
    value = row.get(key) or "0"
    return int(value) if value.isdigit() else 0
