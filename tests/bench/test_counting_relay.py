"""The upload benchmark's counting relay: heads and bodies of HTTP/1.x messages told apart,
however the bytes are cut into reads, and everything relayed unchanged."""

import socket
import threading
from collections import deque

from bench.counting_relay import CountingRelay, MessageCounter, Totals

REQUEST = (b"POST /library/upload/ HTTP/1.1\r\nHost: node\r\nContent-Length: 11\r\n\r\n"
           b"hello world"
           b"GET /library/ HTTP/1.1\r\nHost: node\r\n\r\n")
REQUEST_HEADS = len(REQUEST) - len(b"hello world")


def counted(kind, data, methods=None, read_size=None):
    """The totals after feeding `data` to one counter, `read_size` bytes at a time."""
    totals = Totals()
    counter = MessageCounter(kind, totals, deque(methods or []))
    step = read_size or len(data)
    for start in range(0, len(data), step):
        counter.feed(data[start:start + step])
    return totals.snapshot()


def test_request_heads_and_bodies_are_counted_apart_at_any_read_size():
    for read_size in (None, 1, 7):
        totals = counted("request", REQUEST, read_size=read_size)
        assert (totals["request_head"], totals["request_body"], totals["requests"]) == (
            REQUEST_HEADS, 11, 2), read_size


def test_chunked_response_body_includes_its_framing_and_the_next_response_is_a_head():
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
    after = b"HTTP/1.1 302 Found\r\nLocation: /x/\r\nContent-Length: 0\r\n\r\n"
    for read_size in (None, 1, 4):
        totals = counted("response", chunked + body + after, ["GET", "POST"], read_size)
        assert (totals["response_head"], totals["response_body"], totals["responses"]) == (
            len(chunked) + len(after), len(body), 2), read_size


def test_a_response_to_head_or_a_304_has_no_body_whatever_its_length_says():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"
    not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\n\r\n"
    totals = counted("response", head + not_modified, ["HEAD", "GET"])
    assert (totals["response_head"], totals["response_body"], totals["unparsed"]) == (
        len(head + not_modified), 0, 0)


def test_bytes_past_a_head_too_long_to_follow_are_counted_as_unparsed():
    totals = counted("request", b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000)
    assert totals["unparsed"] == 70_019 and totals["request_head"] == 0


def test_relay_passes_an_exchange_through_unchanged_and_counts_both_directions():
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = socket.create_server(("127.0.0.1", 0))
    received = []

    def serve():
        connection, _ = server.accept()
        with connection:
            data = b""
            while len(data) < len(REQUEST):
                data += connection.recv(65536)
            received.append(data)
            connection.sendall(response)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    relay = CountingRelay(server.getsockname()).start()
    try:
        with socket.create_connection(relay.listener.getsockname(), timeout=10) as client:
            client.sendall(REQUEST)
            answer = b""
            while len(answer) < len(response):
                answer += client.recv(65536)
        thread.join(timeout=10)
        assert received == [REQUEST] and answer == response
        totals = relay.totals.snapshot()
        assert (totals["request_head"], totals["request_body"], totals["response_head"],
                totals["response_body"]) == (REQUEST_HEADS, 11, len(response) - 2, 2)
    finally:
        relay.stop()
        server.close()
