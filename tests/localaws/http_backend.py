"""A tiny web node for the balancer's tests, run as its own process (so it can be SIGKILLed).

    python -m tests.localaws.http_backend --port PORT --name NAME

GET /whoami     its name
GET|POST /slow  its name, once POST /release was called (answers at once after that)
GET /inflight   how many /slow requests are waiting
GET /readyz     200, or 503 after POST /not-ready
"""

import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: A /slow request never waits longer than this, so a forgotten release cannot hang a test.
SLOW_LIMIT = 60


class Node:
    def __init__(self, name):
        self.name = name
        self.released = threading.Event()
        self.ready = True
        self.inflight = 0
        self.lock = threading.Lock()


def handler_for(node):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def slow(self):
            with node.lock:
                node.inflight += 1
            try:
                node.released.wait(SLOW_LIMIT)
            finally:
                with node.lock:
                    node.inflight -= 1
            self.answer(200, node.name)

        def do_GET(self):
            if self.path == "/whoami":
                self.answer(200, node.name)
            elif self.path == "/slow":
                self.slow()
            elif self.path == "/inflight":
                self.answer(200, str(node.inflight))
            elif self.path == "/readyz":
                self.answer(200 if node.ready else 503, "ok" if node.ready else "not ready")
            else:
                self.answer(404, "not found")

        def do_POST(self):
            length = min(int(self.headers.get("Content-Length") or 0), 1024)
            self.rfile.read(length)
            if self.path == "/slow":
                self.slow()
            elif self.path == "/release":
                node.released.set()
                self.answer(200, "released")
            elif self.path == "/not-ready":
                node.ready = False
                self.answer(200, "not ready")
            else:
                self.answer(404, "not found")

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    options = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", options.port), handler_for(Node(options.name)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
