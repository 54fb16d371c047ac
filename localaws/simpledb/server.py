"""Serving the emulator over HTTP, in the foreground or on a background thread.

Werkzeug's threaded server, the one moto uses: a thread per connection, and (as in moto)
one request per connection, since werkzeug closes each connection after its response.
"""

import logging
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import SimpleDBApp
from .auth import Credentials
from .faults import Faults
from .models import Limits, SimpleDB


class _QuietHandler(WSGIRequestHandler):
    """The application logs one line per request itself; werkzeug's own line is noise."""

    def log_request(self, *args, **kwargs):
        pass


class SimpleDBServer:
    """The emulator on a host and port; `port=0` picks a free one.

    `server.backend` is the in-process API to the data, `server.faults` the injection
    settings; `start()` serves on a daemon thread (for tests), `serve_forever()` in the
    calling thread (for the command line).
    """

    def __init__(self, host="127.0.0.1", port=0, data_dir=None, keys=None,
                 faults=None, limits=Limits()):
        self.backend = SimpleDB(data_dir, limits)
        self.faults = faults or Faults()
        self.app = SimpleDBApp(self.backend, Credentials(keys), self.faults)
        self._server = make_server(host, port, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_port
        self._thread = None

    @property
    def endpoint_url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"simpledb:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self):
        logging.getLogger("localaws.simpledb").info("SimpleDB at %s", self.endpoint_url)
        self._server.serve_forever()

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self.backend.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
