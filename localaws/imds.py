"""A stand-in for the EC2 instance metadata service (IMDSv2), for local worker instances.

On EC2 each instance reads its own metadata at http://169.254.169.254/. Locally one
`MetadataServer` serves any number of instances, each under its own path prefix: a process
playing instance `i-...` is given `AWS_EC2_METADATA_SERVICE_ENDPOINT=<instance.base_url>`
(botocore's own variable), and finds there what it would on EC2:

- `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1-21600) gives a
  token; every GET needs it in `X-aws-ec2-metadata-token` (else 401), as with IMDSv2 only;
- `GET /latest/meta-data/instance-id`;
- `GET /latest/meta-data/autoscaling/target-lifecycle-state`: `InService`, or what whoever
  plays Auto Scaling sets (`Terminated` once a terminate hook holds the instance).

Tests may also make an item answer any bytes and status (`Instance.answers`). Standard
library only; imports nothing of the site.
"""

import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .ports import listen, url_host
from .serving import ServedOnThread

TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
#: IMDSv2's documented bounds for a token's lifetime, in seconds.
MAX_TOKEN_TTL = 21600


class Instance:
    """One instance's metadata; set `target_lifecycle_state` to say what Auto Scaling wants."""

    def __init__(self, server, instance_id):
        self.instance_id = instance_id
        self.base_url = f"{server.url}/{instance_id}"
        self.target_lifecycle_state = "InService"
        #: Item path ("autoscaling/target-lifecycle-state") -> (status, body bytes) to
        #: answer instead of the real value.
        self.answers = {}
        #: Item path -> how many times it was read (with a valid token).
        self.reads = {}
        self.tokens = set()

    def item(self, name):
        """(status, body) for the meta-data item `name`."""
        self.reads[name] = self.reads.get(name, 0) + 1
        if name in self.answers:
            return self.answers[name]
        values = {"instance-id": self.instance_id,
                  "autoscaling/target-lifecycle-state": self.target_lifecycle_state}
        if name not in values:
            return 404, b"Not Found"
        return 200, values[name].encode()


class MetadataServer:
    """The stand-in on a loopback port (0: any free one), served on daemon threads."""

    def __init__(self, host="127.0.0.1", port=0):
        self.instances = {}
        self._lock = threading.Lock()
        sock = listen(host, port, what="metadata port")
        server = self

        class Handler(_Handler):
            metadata = server

        self._server = ThreadingHTTPServer(sock.getsockname()[:2], Handler,
                                           bind_and_activate=False)
        self._server.socket.close()
        self._server.socket = sock
        self._server.daemon_threads = True
        self.url = f"http://{url_host(sock)}:{sock.getsockname()[1]}"
        self._serving = ServedOnThread(self._server, f"imds:{self.url}")

    def add_instance(self, instance_id):
        """Serve metadata for `instance_id`; returns its `Instance`."""
        with self._lock:
            instance = self.instances[instance_id] = Instance(self, instance_id)
        return instance

    def start(self):
        self._serving.start()
        return self

    def stop(self):
        self._serving.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    metadata = None  # the MetadataServer, set by a subclass per server
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # tests and the fleet poll every few seconds; the lines would be noise

    def _instance_and_path(self):
        _, instance_id, rest = (self.path.split("?", 1)[0] + "/").split("/", 2)
        instance = self.metadata.instances.get(instance_id)
        return instance, "/" + rest.rstrip("/")

    def _answer(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):  # noqa: N802 - http.server's name
        instance, path = self._instance_and_path()
        if instance is None or path != TOKEN_PATH:
            return self._answer(404, b"Not Found")
        ttl = self.headers.get(TOKEN_TTL_HEADER, "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TOKEN_TTL:
            return self._answer(400, b"Bad Request")
        token = secrets.token_urlsafe(32)
        instance.tokens.add(token)
        return self._answer(200, token.encode())

    def do_GET(self):  # noqa: N802 - http.server's name
        instance, path = self._instance_and_path()
        if instance is None or not path.startswith("/latest/meta-data/"):
            return self._answer(404, b"Not Found")
        if self.headers.get(TOKEN_HEADER) not in instance.tokens:
            return self._answer(401, b"Unauthorized")
        status, body = instance.item(path.removeprefix("/latest/meta-data/"))
        return self._answer(status, body)
