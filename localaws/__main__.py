"""`python -m localaws`: S3, SQS and SimpleDB on loopback, in the foreground until stopped."""

import argparse
import logging
import signal
import sys
import threading

from .stack import MOTO_PORT, SIMPLEDB_PORT, LocalAWS


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m localaws",
        description="The local AWS stack: moto for S3 and SQS, our emulator for SimpleDB.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--moto-port", type=int, default=MOTO_PORT, help="S3 and SQS")
    parser.add_argument("--simpledb-port", type=int, default=SIMPLEDB_PORT)
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument("--data-dir", help="keep SimpleDB data in DIR across restarts "
                                            "(S3 and SQS always live in memory)")
    storage.add_argument("--memory", action="store_true", help="SimpleDB in memory (default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(message)s")

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    stack = LocalAWS(args.host, args.moto_port, args.simpledb_port, args.data_dir).start()
    try:
        print("Local AWS stack ready; point botocore at it with:", flush=True)
        for name, url in stack.endpoints.items():
            print(f"  {name}={url}", flush=True)
        stopping.wait()
    finally:
        stack.stop()
        print("Local AWS stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
