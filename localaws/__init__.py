"""The local AWS stack for development and tests; never imported by production code."""

import socket


def free_port(host="127.0.0.1"):
    """A port nothing listens on now, for a server started in another process."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
