"""Serving the emulator over HTTP, in the foreground or on a background thread.

cheroot (CherryPy's WSGI server): a pool of threads and HTTP/1.1 keep-alive, so a boto3
client reuses its connections as it does against AWS, and a call costs no TCP handshake or
thread start of its own (werkzeug's development server, moto's, closes every connection).
"""

import threading

from cheroot import wsgi

from ..ports import listen, url_host
from .app import SimpleDBApp
from .auth import Credentials
from .faults import Faults
from .models import Limits, SimpleDB


#: Threads serving connections: each keep-alive client holds one while connected.
THREADS = 32


class _Server(wsgi.Server):
    """cheroot's server on a socket already bound and listening (see `localaws.ports`)."""

    def __init__(self, sock, app, **options):
        self._listening = sock
        super().__init__(sock.getsockname()[:2], app, **options)

    def bind(self, family, type, proto=0):  # noqa: A002 (cheroot's signature)
        self.socket = self._listening
        self.bind_addr = self._listening.getsockname()[:2]
        return self.socket


class SimpleDBServer:
    """The emulator on a host and port; `port=0` picks a free one.

    `sock` (instead of host and port) serves on a socket the caller already listens on.
    `server.backend` is the in-process API to the data, `server.faults` the injection
    settings; `start()` serves on a daemon thread until `stop()`. `control=True` serves the control endpoint
    (`localaws.simpledb.control`), behind the same signature check as the API.
    """

    def __init__(self, host="127.0.0.1", port=0, data_dir=None, keys=None,
                 faults=None, limits=Limits(), control=False, sock=None):
        sock = sock if sock is not None else listen(host, port)
        try:
            self.backend = SimpleDB(data_dir, limits)
        except BaseException:
            sock.close()
            raise
        self.faults = faults or Faults()
        self.app = SimpleDBApp(self.backend, Credentials(keys), self.faults, control=control)
        self._server = _Server(sock, self.app, numthreads=THREADS,
                               server_name="localaws-simpledb")
        self._server.prepare()  # starts the thread pool; the socket already listens
        self.host = url_host(sock)
        self.port = sock.getsockname()[1]
        self._thread = None

    @property
    def endpoint_url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._thread = threading.Thread(
            target=self._server.serve, name=f"simpledb:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self._server.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.backend.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
