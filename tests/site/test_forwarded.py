"""FromNodeProxy: behind the node's nginx, Django sees the address nginx received from."""

import socket

import pytest

from apps.ops.forwarded import FromNodeProxy


def seen_by_the_app(family, **environ):
    """The REMOTE_ADDR and X-Forwarded-For the wrapped app sees for a request over `family`."""
    seen = {}

    def app(environ, start_response):
        seen.update(remote=environ.get("REMOTE_ADDR"),
                    forwarded=environ.get("HTTP_X_FORWARDED_FOR"))
        return []

    with socket.socket(family) as sock:
        FromNodeProxy(app)({"gunicorn.socket": sock, **environ}, None)
    return seen["remote"], seen["forwarded"]


def test_over_the_unix_socket_the_entry_nginx_added_is_the_remote_address():
    assert seen_by_the_app(socket.AF_UNIX, REMOTE_ADDR="",
                           HTTP_X_FORWARDED_FOR="198.51.100.7") == ("198.51.100.7", None)


def test_entries_before_nginx_stay_in_x_forwarded_for():
    # Behind the load balancer: the client's entry (added by the balancer) stays for
    # STRATUS_TRUSTED_PROXY_COUNT to read; the balancer's address is the remote address.
    assert seen_by_the_app(socket.AF_UNIX, REMOTE_ADDR="",
                           HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.1.20") == (
        "10.0.1.20", "203.0.113.9")


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_over_tcp_nothing_is_taken_from_the_header(family):
    assert seen_by_the_app(family, REMOTE_ADDR="192.0.2.1",
                           HTTP_X_FORWARDED_FOR="203.0.113.9") == ("192.0.2.1", "203.0.113.9")


def test_outside_gunicorn_nothing_changes():
    seen = {}
    FromNodeProxy(lambda environ, _: seen.update(environ) or [])(
        {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, None)
    assert (seen["REMOTE_ADDR"], seen["HTTP_X_FORWARDED_FOR"]) == ("192.0.2.1", "203.0.113.9")
