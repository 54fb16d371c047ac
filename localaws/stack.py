"""The whole local AWS stack in one process: moto's server for S3 and SQS, and our SimpleDB.

moto serves every service it knows on one port, telling them apart by each request's
signature; S3 and SQS are the ones Stratus uses there. SimpleDB gets its own port because
moto's SimpleDB lacks most of the API (see `localaws.simpledb`).
"""

from moto.server import ThreadedMotoServer

from .simpledb import SimpleDBServer

#: Documented loopback ports of `python -m localaws` (0 in tests: any free port).
MOTO_PORT = 4566
SIMPLEDB_PORT = 4567


class LocalAWS:
    """S3 and SQS (moto) and SimpleDB (ours) on loopback ports, started and stopped together."""

    def __init__(self, host="127.0.0.1", moto_port=MOTO_PORT, simpledb_port=SIMPLEDB_PORT,
                 data_dir=None, keys=None):
        self.host = host
        self._moto = ThreadedMotoServer(ip_address=host, port=moto_port, verbose=False)
        self._moto_started = False
        self.simpledb = SimpleDBServer(host=host, port=simpledb_port, data_dir=data_dir,
                                       keys=keys)

    def start(self):
        self._moto.start()
        self._moto_started = True
        self.simpledb.start()
        return self

    def stop(self):
        self.simpledb.stop()
        if self._moto_started:
            self._moto.stop()
            self._moto_started = False

    @property
    def moto_url(self):
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def endpoints(self):
        """botocore's endpoint variables for each service, as `make run` exports them."""
        return {
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "AWS_ENDPOINT_URL_SQS": self.moto_url,
            "AWS_ENDPOINT_URL_SIMPLEDB": self.simpledb.endpoint_url,
        }

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
