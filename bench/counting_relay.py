"""A TCP relay that counts the HTTP bytes passing through it, heads and bodies apart.

The upload benchmark (bench/uploads.py) puts one in front of the web node's port: every byte
a client and the node exchange crosses it, so its counts are what went over the node's wire,
both directions, nothing estimated. Bytes are forwarded as they arrive (no buffering of
whole messages: a 500 MB body streams through), and a small incremental parser follows the
HTTP/1.x framing of each direction to tell heads (request or status line and headers) from
bodies (what Content-Length or chunked encoding delimits, chunk framing included).

Bench only: nothing in the site or its tests' fixtures imports this.
"""

import socket
import threading
from collections import deque

#: Largest message head the parser follows; past it the rest of that connection is counted
#: as unparsed (see `Totals.unparsed`).
MAX_HEAD_BYTES = 64 * 1024
#: Bytes read from a socket at once.
READ_SIZE = 256 * 1024

_HEAD, _LENGTH, _CHUNK_LINE, _CHUNK_DATA, _TRAILER, _UNTIL_CLOSE, _LOST = range(7)


class ProtocolError(Exception):
    """A direction's bytes stopped looking like HTTP/1.x framing."""


class Totals:
    """Byte and message counts of every connection of one relay, under one lock."""

    FIELDS = ("request_head", "request_body", "response_head", "response_body",
              "requests", "responses", "unparsed")

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.FIELDS, 0)

    def add(self, field, amount):
        with self._lock:
            self._counts[field] += amount

    def snapshot(self):
        """The counts so far, as a dict of `FIELDS`."""
        with self._lock:
            return dict(self._counts)


def _header_values(head):
    """(start line, {lower-case name: value}) of one message head (bytes, CRLF-ended)."""
    lines = bytes(head).decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class MessageCounter:
    """Follows the messages of one direction of a connection and counts their bytes.

    `kind` is "request" or "response"; the two counters of a connection share `methods`,
    the methods of the requests not yet answered (a response to HEAD has no body).
    """

    def __init__(self, kind, totals, methods):
        self.kind = kind
        self.totals = totals
        self.methods = methods
        self.state = _HEAD
        self.remaining = 0
        self.line = bytearray()  # a head, chunk-size line or trailer not yet complete

    def feed(self, data):
        """Count `data`, the next bytes of this direction."""
        view = memoryview(data)
        start = 0
        while start < len(view):
            if self.state == _LOST:
                self.totals.add("unparsed", len(view) - start)
                return
            if self.state in (_LENGTH, _CHUNK_DATA, _UNTIL_CLOSE):
                taken = len(view) - start
                if self.state != _UNTIL_CLOSE:
                    taken = min(taken, self.remaining)
                    self.remaining -= taken
                self.totals.add(f"{self.kind}_body", taken)
                start += taken
                if self.remaining == 0 and self.state == _LENGTH:
                    self.state = _HEAD
                elif self.remaining == 0 and self.state == _CHUNK_DATA:
                    self.state = _CHUNK_LINE
                continue
            start = self._feed_line(view, start)

    def _feed_line(self, view, start):
        """Take bytes up to the end of the head or line being read; the next offset."""
        end_mark = b"\r\n\r\n" if self.state == _HEAD else b"\r\n"
        searched_from = max(len(self.line) - len(end_mark) + 1, 0)
        self.line += view[start:]
        found = self.line.find(end_mark, searched_from)
        if found < 0:
            if len(self.line) > MAX_HEAD_BYTES:
                self.totals.add("unparsed", len(self.line))
                self.line.clear()
                self.state = _LOST
            return len(view)
        end = found + len(end_mark)
        unused = len(self.line) - end
        complete = bytes(self.line[:end])
        self.line.clear()
        try:
            if self.state == _HEAD:
                self.totals.add(f"{self.kind}_head", len(complete))
                self._start_body(complete)
            else:
                self.totals.add(f"{self.kind}_body", len(complete))
                self._chunk_framing(complete)
        except ProtocolError:
            self.state = _LOST  # what follows is counted, as unparsed
        return len(view) - unused

    def _start_body(self, head):
        start_line, headers = _header_values(head)
        if self.kind == "request":
            self.totals.add("requests", 1)
            self.methods.append(start_line.split(" ", 1)[0])
            no_body = False
        else:
            status = start_line.split(" ", 2)[1] if start_line.count(" ") else ""
            if status.startswith("1"):
                return  # an interim response: the real one follows
            self.totals.add("responses", 1)
            method = self.methods.popleft() if self.methods else ""
            no_body = method == "HEAD" or status in ("204", "304")
        if no_body:
            return
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = _CHUNK_LINE
        elif "content-length" in headers:
            try:
                self.remaining = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length") from None
            self.state = _LENGTH if self.remaining else _HEAD
        elif self.kind == "response":
            self.state = _UNTIL_CLOSE  # delimited by the server closing the connection

    def _chunk_framing(self, line):
        if self.state == _TRAILER:
            if line == b"\r\n":
                self.state = _HEAD
            return
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError("bad chunk size") from None
        if size == 0:
            self.state = _TRAILER
        else:
            self.state, self.remaining = _CHUNK_DATA, size + 2  # the data and its CRLF


class CountingRelay:
    """Listens on a free loopback port and relays each connection to `upstream` (host, port).

    `totals` holds the counts of every connection since the start; take a snapshot before
    and after what you measure. Counts are taken before bytes are forwarded, so once a
    client has the response to its last request, that exchange is counted in full.
    """

    def __init__(self, upstream, host="127.0.0.1"):
        self.upstream = upstream
        self.totals = Totals()
        self.listener = socket.create_server((host, 0), backlog=64)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="counting-relay", daemon=True)

    @property
    def url(self):
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopped.set()
        self.listener.close()

    def _accept(self):
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            # Each read is forwarded at once: Nagle's algorithm would hold a request's body
            # behind its head until the node's delayed ACK (40 ms) and bill it to the path.
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            methods = deque()
            done = threading.Barrier(2, action=lambda: (client.close(), server.close()))
            for source, target, kind in ((client, server, "request"), (server, client, "response")):
                counter = MessageCounter(kind, self.totals, methods)
                threading.Thread(target=self._pump, args=(source, target, counter, done),
                                 name=f"relay-{kind}", daemon=True).start()

    @staticmethod
    def _pump(source, target, counter, done):
        """Copy `source` to `target`, counting, until `source` ends; then half-close."""
        try:
            while True:
                data = source.recv(READ_SIZE)
                if not data:
                    break
                counter.feed(data)
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            # One side broke the connection: end both directions.
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        finally:
            try:
                done.wait()
            except threading.BrokenBarrierError:
                pass
