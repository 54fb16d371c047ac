"""Listening sockets for the local stack's servers: the port asked for, or any free one.

The stack binds its sockets itself and hands them to the servers (moto's werkzeug server,
our cheroot one), so that "is the port free?" and "take it" are one step (no race with a
second checkout starting at the same moment) and a failure is a clear sentence rather
than each server's own traceback or `sys.exit`.
"""

import errno
import socket

#: Connections the kernel queues before a server thread accepts them.
BACKLOG = 128


class PortUnavailable(Exception):
    """The stack cannot listen where it was told to; the message is one line for a person."""


def listen(host, port, *, fallback=False, what="port"):
    """A TCP socket listening on `host:port` (`port` 0: any free port).

    With `fallback`, a `port` already in use is replaced by any free one; otherwise it is a
    `PortUnavailable` naming `what` (the flag that chose the port).
    """
    try:
        return _bind(host, port)
    except OSError as error:
        if fallback and error.errno == errno.EADDRINUSE:
            try:
                return _bind(host, 0)
            except OSError as second:
                error = second
        raise PortUnavailable(_describe(error, host, port, what)) from None


def _bind(host, port):
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As every HTTP server does: a port left in TIME_WAIT by a stopped run is reusable
        # at once (on Linux this never lets two servers listen on one port).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Small request/response pairs on keep-alive connections: send them at once.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _describe(error, host, port, what):
    if isinstance(error, socket.gaierror):
        return f"cannot listen on host {host!r}: {error.strerror or error}"
    if error.errno == errno.EADDRINUSE:
        return (f"port {port} on {host} is already in use ({what}); stop what holds it, "
                f"or choose another port (0: any free port)")
    if error.errno == errno.EACCES:
        return f"no permission to listen on port {port} on {host} ({what})"
    return f"cannot listen on {host}:{port} ({what}): {error.strerror or error}"


def url_host(sock):
    """The host part of a URL reaching `sock` (a wildcard address is reached on loopback)."""
    host = sock.getsockname()[0]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]" if ":" in host else host
