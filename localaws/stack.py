"""The whole local AWS stack in one process: moto's server for S3, SQS, DynamoDB and Auto
Scaling, and our SimpleDB.

moto serves every service it knows on one port, telling them apart by each request's
signature; S3 (POST uploads answered with the headers S3 sends, `localaws.s3_post_object`),
SQS (a message-losing race fixed by `localaws.sqs_delete_race`, a message delivered to two
receives at once by `localaws.sqs_receive_race`), DynamoDB (item writes made
atomic by `localaws.dynamodb_atomic`) and Auto Scaling (its lifecycle actions completed by
`localaws.lifecycle_actions`) are the ones Stratus uses there. SimpleDB gets its own port
because moto's SimpleDB lacks most of the API (see `localaws.simpledb`). moto checks no
signatures; our SimpleDB checks them against the stack's key pair.
"""

from types import MappingProxyType

from werkzeug.serving import make_server

from .logs import level_for, request_logger
from .ports import listen, url_host
from .serving import ServedOnThread
from .simpledb import SimpleDBServer

#: Documented loopback ports of `python -m localaws`, used when free (0: any free port).
MOTO_PORT = 4566
SIMPLEDB_PORT = 4567
#: The key pair the stack's SimpleDB accepts by default: the site's local default
#: credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in project/settings.py).
LOCAL_KEYS = MappingProxyType({"local": "local"})

request_log = request_logger("moto")


def _moto_handler():
    # Imported here: moto's server modules take a second to import.
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class RequestHandler(MotoRequestHandler):
        """moto's handler, logging one plain line per request (werkzeug paints 4xx red)."""

        def log_request(self, code="-", size="-"):
            status = int(code) if str(code).isdigit() else 0
            path = getattr(self, "path", "?").split("?", 1)[0][:200]
            target = self.headers.get("X-Amz-Target") if hasattr(self, "headers") else None
            request_log.log(level_for(status), "method=%s path=%s%s status=%s",
                            getattr(self, "command", "?"), path.translate(_CONTROL_CHARACTERS),
                            f" target={target[:100]}" if target else "", status)

    return RequestHandler


_CONTROL_CHARACTERS = {code: "?" for code in [*range(32), 127]}


class MotoServer:
    """moto's server (S3, SQS ...) on a listening socket, served on a daemon thread."""

    def __init__(self, sock):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from . import (dynamodb_atomic, lifecycle_actions, s3_post_object, sqs_delete_race,
                       sqs_receive_race)

        dynamodb_atomic.install()  # each write to an item atomic, as DynamoDB's are
        lifecycle_actions.install()  # lifecycle hooks that hold and release instances
        sqs_delete_race.install()  # no message lost to a concurrent delete
        sqs_receive_race.install()  # no message handed to two receives at once
        s3_post_object.install()  # a browser's POST upload answered with ETag and CORS
        host, port = sock.getsockname()[:2]
        app = DomainDispatcherApplication(create_backend_app)
        # werkzeug serves a duplicate of the socket (fd=): it neither binds nor exits.
        self._server = make_server(host, port, app, threaded=True,
                                   request_handler=_moto_handler(), fd=sock.fileno())
        sock.close()
        self.url = f"http://{url_host(self._server.socket)}:{port}"
        self._serving = ServedOnThread(self._server, f"moto:{self.url}")

    def start(self):
        self._serving.start()

    def stop(self):
        self._serving.stop()


class LocalAWS:
    """S3 and SQS (moto) and SimpleDB (ours) on loopback ports, started and stopped together.

    A port of None is the documented one if it is free, else any free port; 0 is any free
    port; any other number is that port or a `localaws.ports.PortUnavailable`. `keys` is
    the SimpleDB key pair (None: any credentials); `faults` and `control` are the
    emulator's fault injection and its control endpoint.
    """

    def __init__(self, host="127.0.0.1", moto_port=None, simpledb_port=None, data_dir=None,
                 keys=LOCAL_KEYS, faults=None, control=False):
        self.keys = dict(keys) if keys is not None else None
        opened = []
        try:
            moto_sock = listen(host, MOTO_PORT if moto_port is None else moto_port,
                               fallback=moto_port is None, what="--moto-port")
            opened.append(moto_sock)
            simpledb_sock = listen(host, SIMPLEDB_PORT if simpledb_port is None
                                   else simpledb_port,
                                   fallback=simpledb_port is None, what="--simpledb-port")
            opened.append(simpledb_sock)
            self.simpledb = SimpleDBServer(sock=simpledb_sock, data_dir=data_dir,
                                           keys=self.keys, faults=faults, control=control)
            opened.remove(simpledb_sock)
            self._moto = MotoServer(moto_sock)
        except BaseException:
            for sock in opened:
                sock.close()
            if hasattr(self, "simpledb"):
                self.simpledb.stop()
            raise

    def start(self):
        self._moto.start()
        self.simpledb.start()
        return self

    def stop(self):
        self.simpledb.stop()
        self._moto.stop()

    @property
    def moto_url(self):
        return self._moto.url

    @property
    def endpoints(self):
        """botocore's endpoint variables for each service, as `make run` exports them."""
        return {
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "AWS_ENDPOINT_URL_SQS": self.moto_url,
            "AWS_ENDPOINT_URL_AUTOSCALING": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            "AWS_ENDPOINT_URL_SIMPLEDB": self.simpledb.endpoint_url,
        }

    @property
    def environment(self):
        """The endpoints and the credentials a client of this stack uses."""
        access, secret = next(iter(self.keys.items())) if self.keys else next(
            iter(LOCAL_KEYS.items()))
        return {**self.endpoints, "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
