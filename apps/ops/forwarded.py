"""The node's own nginx, seen from gunicorn: the client's address back in REMOTE_ADDR.

On a node, nginx (etc/nginx/node.conf.template) reaches gunicorn over a unix socket, so
gunicorn's REMOTE_ADDR is empty; nginx appends the address it received the request from
to X-Forwarded-For, as every proxy does. For a request that came over the unix socket
(only the node's nginx can open it: its run directory is private to the node's user),
`FromNodeProxy` moves that last entry back to REMOTE_ADDR. Django then sees exactly what
it would if gunicorn listened where nginx does, and STRATUS_TRUSTED_PROXY_COUNT counts
only the proxies in front of the node (the load balancer: 1).
"""

import socket


class FromNodeProxy:
    """WSGI middleware: REMOTE_ADDR from the entry the node's nginx added, over the socket."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if sock is not None and sock.family == socket.AF_UNIX:
            entries = [entry.strip()
                       for entry in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            if entries[-1]:
                environ["REMOTE_ADDR"] = entries.pop()
                if any(entries):
                    environ["HTTP_X_FORWARDED_FOR"] = ", ".join(entries)
                else:
                    environ.pop("HTTP_X_FORWARDED_FOR", None)
        return self.app(environ, start_response)
