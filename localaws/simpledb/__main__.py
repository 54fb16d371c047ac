"""`python -m localaws.simpledb`: run the SimpleDB emulator in the foreground."""

import argparse
import logging
import signal
import sqlite3
import sys
import threading

from ..ports import PortUnavailable, listen
from .models import Limits
from .options import add_credential_arguments, add_fault_arguments, faults_from, keys_from
from .server import SimpleDBServer


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m localaws.simpledb",
        description="A local Amazon SimpleDB endpoint for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4567, help="0: any free port")
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument("--data-dir", help="keep data in DIR/simpledb.sqlite3 across restarts")
    storage.add_argument("--memory", action="store_true",
                         help="keep data in memory only (the default)")
    add_credential_arguments(parser)
    add_fault_arguments(parser)
    parser.add_argument("--max-domains", type=_positive_int, default=Limits.max_domains)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.keys = keys_from(parser, args)
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(message)s")
    try:
        server = SimpleDBServer(
            sock=listen(args.host, args.port, what="--port"),
            data_dir=args.data_dir,
            keys=args.keys,
            faults=faults_from(args),
            limits=Limits(max_domains=args.max_domains),
            control=args.control,
        )
    except (PortUnavailable, OSError, sqlite3.Error) as error:
        print(f"localaws.simpledb: cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    # SIGTERM and SIGINT only set an event: the server runs on its own thread and is stopped
    # from here, so no KeyboardInterrupt lands inside the HTTP server's loop or its locks
    # (one raised there once left the process running after SIGTERM).
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    access = next(iter(args.keys)) if args.keys else None
    print(f"SimpleDB emulator listening on {server.endpoint_url} "
          f"({'data in ' + args.data_dir if args.data_dir else 'in memory'}, "
          f"{'access key ' + access if access else 'any credentials'}"
          f"{', control endpoint on' if args.control else ''})",
          flush=True)
    try:
        stopping.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
