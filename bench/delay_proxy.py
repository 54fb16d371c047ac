"""A reverse proxy that adds latency to every request and counts requests per AWS action.

Run `python bench/delay_proxy.py --upstream http://127.0.0.1:PORT [--port P]
[--latency-ms MS]`; it prints its own URL on the first line of stdout (useful with the
default `--port 0`). The task benchmark (bench/tasks.py) puts one in front of each local
endpoint, so every system under test pays the same round trip and is counted the same way.

Control, on the proxy's own port (never forwarded):

- `GET /_delay_proxy/config` and `POST /_delay_proxy/config {"latency_ms": 10}`: the delay
  added to each request, changeable while clients are connected.
- `GET /_delay_proxy/counts`: `{"AmazonSQS.ReceiveMessage": 12, "Select": 3, ...}`;
  `DELETE /_delay_proxy/counts` answers the same and sets them to zero.

A request is counted by the action it names: the `X-Amz-Target` header (SQS's JSON
protocol), else an `Action=` parameter in the query string or form body (SQS's query
protocol, SimpleDB), else `S3 <METHOD>`. The delay is a sleep before the request is
forwarded, so it holds that connection as a network round trip would, and no other.

HTTP/1.1 with keep-alive on both sides: each client connection gets its own thread and its
own upstream connection, kept open for as long as both ends allow. Responses are relayed
with the upstream's framing (Content-Length, chunked, or until close); a chunked request
body is forwarded with a Content-Length. On this 2-core machine one proxy relays ~2,300
requests/s from 4 keep-alive clients to a trivial cheroot app (2,700/s direct), well above
the ~1,000/s the task benchmark asks of it; bench/tasks.py measures and prints the added
time per request at 0 ms against going direct (0.5 ms on a quiet machine).
"""

import argparse
import json
import socket
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

CONTROL_PREFIX = "/_delay_proxy/"
#: Largest request or status line plus headers the proxy accepts.
MAX_HEADER_BYTES = 64 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not HTTP/1.x as the proxy understands it."""


class Stats:
    """The proxy's shared state: the delay and the per-action counters, under one lock."""

    def __init__(self, latency_ms):
        self._lock = threading.Lock()
        self.latency_ms = latency_ms
        self._counts = {}

    def count(self, action):
        with self._lock:
            self._counts[action] = self._counts.get(action, 0) + 1

    def counts(self, reset=False):
        with self._lock:
            counts = dict(self._counts)
            if reset:
                self._counts.clear()
            return counts


def read_head(reader):
    """(start line, [(name, value)]) of the next message, or None at a clean end of stream."""
    line = reader.readline(MAX_HEADER_BYTES)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise ProtocolError("start line too long or cut short")
    headers, size = [], len(line)
    while True:
        header = reader.readline(MAX_HEADER_BYTES)
        size += len(header)
        if not header.endswith(b"\n") or size > MAX_HEADER_BYTES:
            raise ProtocolError("headers too long or cut short")
        if header in (b"\r\n", b"\n"):
            return line.rstrip(b"\r\n").decode("latin-1"), headers
        name, _, value = header.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))


def header(headers, name):
    name = name.lower()
    return next((value for key, value in headers if key.lower() == name), None)


def read_chunked(reader):
    """The decoded body of a chunked message, with its raw bytes (trailers dropped)."""
    body, raw = [], []
    while True:
        size_line = reader.readline(MAX_HEADER_BYTES)
        raw.append(size_line)
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_line!r}") from None
        if size == 0:
            while True:  # trailers, up to the empty line
                trailer = reader.readline(MAX_HEADER_BYTES)
                raw.append(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    return b"".join(body), b"".join(raw)
        chunk = reader.read(size + 2)  # data and its CRLF
        if len(chunk) != size + 2:
            raise ProtocolError("chunk cut short")
        body.append(chunk[:size])
        raw.append(chunk)


def action_of(method, target, headers, body):
    """What to count this request as (see the module docstring)."""
    amz_target = header(headers, "X-Amz-Target")
    if amz_target:
        return amz_target
    query = urlsplit(target).query
    actions = parse_qs(query).get("Action")
    if not actions and "x-www-form-urlencoded" in (header(headers, "Content-Type") or ""):
        actions = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if actions:
        return actions[0]
    return f"S3 {method}"


class Upstream:
    """One keep-alive connection to the upstream server, reopened when it closes."""

    def __init__(self, host, port):
        self.address = (host, port)
        self.sock = None
        self.reader = None

    def connect(self):
        self.close()
        self.sock = socket.create_connection(self.address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb")

    def close(self):
        if self.sock is not None:
            self.reader.close()
            self.sock.close()
            self.sock = self.reader = None

    def exchange(self, request, method, client):
        """Send `request`, relay the response to `client`; whether upstream stays open."""
        reused = self.sock is not None
        if not reused:
            self.connect()
        try:
            self.sock.sendall(request)
            head = read_head(self.reader)
            if head is None:
                raise ConnectionResetError("upstream closed the connection")
        except (ConnectionError, BrokenPipeError):
            if not reused:
                raise
            self.connect()  # an idle keep-alive connection the server had closed: once more
            self.sock.sendall(request)
            head = read_head(self.reader)
            if head is None:
                raise ConnectionResetError("upstream closed the connection") from None
        status_line, headers = head
        version, status = status_line.split(" ", 2)[:2]
        head_bytes = (status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
                      + "\r\n").encode("latin-1")
        connection = (header(headers, "Connection") or "").lower()
        keep = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        if method == "HEAD" or status in ("204", "304") or status.startswith("1"):
            body = b""
        elif (header(headers, "Transfer-Encoding") or "").lower() == "chunked":
            body = read_chunked(self.reader)[1]
        elif header(headers, "Content-Length") is not None:
            body = self.reader.read(int(header(headers, "Content-Length")))
        else:
            body, keep = self.reader.read(), False  # delimited by the server closing
        client.sendall(head_bytes + body)
        if not keep:
            self.close()
        return keep


class ConnectionHandler:
    """Serves one client connection until either side closes it."""

    def __init__(self, client, stats, upstream_address):
        self.client = client
        self.stats = stats
        self.upstream = Upstream(*upstream_address)

    def run(self):
        reader = self.client.makefile("rb")
        try:
            while self.serve_one(reader):
                pass
        except (ConnectionError, ProtocolError, OSError):
            pass
        finally:
            reader.close()
            self.upstream.close()
            self.client.close()

    def serve_one(self, reader):
        head = read_head(reader)
        if head is None:
            return False
        request_line, headers = head
        try:
            method, target, version = request_line.split(" ")
        except ValueError:
            raise ProtocolError(f"bad request line {request_line!r}") from None
        if (header(headers, "Expect") or "").lower() == "100-continue":
            self.client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]
        if (header(headers, "Transfer-Encoding") or "").lower() == "chunked":
            body = read_chunked(reader)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            headers.append(("Content-Length", str(len(body))))
        else:
            body = reader.read(int(header(headers, "Content-Length") or 0))
        client_keeps = (header(headers, "Connection") or "").lower() != "close" and (
            version == "HTTP/1.1" or (header(headers, "Connection") or "").lower() == "keep-alive")

        if target.startswith(CONTROL_PREFIX):
            self.control(method, target, body)
            return client_keeps

        self.stats.count(action_of(method, target, headers, body))
        latency = self.stats.latency_ms
        if latency > 0:
            time.sleep(latency / 1000)
        request = (f"{request_line}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
                   + "\r\n").encode("latin-1") + body
        upstream_keeps = self.upstream.exchange(request, method, self.client)
        return client_keeps and upstream_keeps

    def control(self, method, target, body):
        path = urlsplit(target).path[len(CONTROL_PREFIX):]
        status, payload = "200 OK", None
        if path == "config" and method == "POST":
            try:
                latency = float(json.loads(body or b"{}")["latency_ms"])
                if latency < 0:
                    raise ValueError("latency_ms must be >= 0")
            except (KeyError, ValueError, TypeError) as exc:
                status, payload = "400 Bad Request", {"error": f"bad config: {exc}"}
            else:
                self.stats.latency_ms = latency
        if payload is None and path == "config" and method in ("GET", "POST"):
            payload = {"latency_ms": self.stats.latency_ms}
        elif payload is None and path == "counts" and method in ("GET", "DELETE"):
            payload = self.stats.counts(reset=method == "DELETE")
        elif payload is None:
            status, payload = "404 Not Found", {"error": f"no {method} {target}"}
        data = json.dumps(payload).encode()
        self.client.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n".encode() + data)


class DelayProxy:
    """Listens on (host, port) and forwards to `upstream` ("http://host:port")."""

    def __init__(self, upstream, host="127.0.0.1", port=0, latency_ms=0.0):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_address = (parts.hostname, parts.port)
        self.stats = Stats(latency_ms)
        self.listener = socket.create_server((host, port), backlog=128)
        self._stopped = threading.Event()

    @property
    def url(self):
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def serve_forever(self):
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                raise
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handler = ConnectionHandler(client, self.stats, self.upstream_address)
            threading.Thread(target=handler.run, daemon=True).start()

    def stop(self):
        self._stopped.set()
        self.listener.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="http://host:port to forward to")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    proxy = DelayProxy(args.upstream, args.host, args.port, args.latency_ms)
    print(proxy.url, flush=True)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
