"""A socketserver-style server (serve_forever, shutdown, server_close) on a daemon thread."""

import threading


class ServedOnThread:
    """Runs `server.serve_forever` on a daemon thread named `name` until `stop()`."""

    def __init__(self, server, name):
        self.server = server
        self.name = name
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, name=self.name,
                                        daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
            self._thread = None
        self.server.server_close()
