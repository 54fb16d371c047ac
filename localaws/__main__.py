"""`python -m localaws`: S3, SQS, Auto Scaling and SimpleDB on loopback, until stopped.

With `--env-file PATH`, once the stack serves, PATH holds its endpoints and credentials as
shell-sourceable `NAME=value` lines (written to a temporary file and renamed, so a reader
never sees half of it); the file is removed when the stack stops. `make run` reads it.
"""

import argparse
import logging
import os
import shlex
import signal
import sqlite3
import sys
import tempfile
import threading

from .logs import REQUESTS
from .ports import PortUnavailable
from .simpledb.options import (add_credential_arguments, add_fault_arguments, faults_from,
                               keys_from)
from .stack import LOCAL_KEYS, MOTO_PORT, SIMPLEDB_PORT, LocalAWS


def _port(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535, not {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m localaws",
        description="The local AWS stack: moto for S3 and SQS, our emulator for SimpleDB.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--moto-port", type=_port, metavar="PORT",
                        help=f"S3 and SQS (default: {MOTO_PORT}, or any free port if it is "
                             f"taken; 0: any free port)")
    parser.add_argument("--simpledb-port", type=_port, metavar="PORT",
                        help=f"SimpleDB (default: {SIMPLEDB_PORT}, or any free port if it is "
                             f"taken; 0: any free port)")
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument("--data-dir", help="keep SimpleDB data in DIR across restarts "
                                            "(S3 and SQS always live in memory)")
    storage.add_argument("--memory", action="store_true", help="SimpleDB in memory (default)")
    add_credential_arguments(parser, default_keys=next(iter(LOCAL_KEYS.items())))
    add_fault_arguments(parser)
    parser.add_argument("--env-file", metavar="PATH",
                        help="once serving, write the endpoints and credentials to PATH as "
                             "shell-sourceable lines; removed on exit")
    parser.add_argument("--log-requests", action="store_true",
                        help="log every request (by default only server errors and refused "
                             "signatures)")
    return parser


def write_env_file(path, variables):
    """Write `NAME=value` lines to `path` atomically (a temporary file, then a rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    text = "".join(f"{name}={shlex.quote(value)}\n" for name, value in variables.items())
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".localaws-env-")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    keys = keys_from(parser, args, default_keys=next(iter(LOCAL_KEYS.items())))
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger(REQUESTS).setLevel(logging.INFO if args.log_requests else logging.WARNING)

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    try:
        stack = LocalAWS(args.host, args.moto_port, args.simpledb_port, args.data_dir,
                         keys=keys, faults=faults_from(args), control=args.control).start()
    except (PortUnavailable, OSError, sqlite3.Error) as error:
        print(f"localaws: cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    written = False
    try:
        if args.env_file:
            try:
                write_env_file(args.env_file, stack.environment)
                written = True
            except OSError as error:
                print(f"localaws: cannot write the env file: {error}", file=sys.stderr,
                      flush=True)
                return 1
        # Printed once the env file is in place, so a reader of either sees a ready stack.
        print("Local AWS stack ready; point botocore at it with:", flush=True)
        for name, url in stack.endpoints.items():
            print(f"  {name}={url}", flush=True)
        print(f"SimpleDB checks signatures with access key {next(iter(keys))}" if keys
              else "SimpleDB accepts any credentials", flush=True)
        stopping.wait()
    finally:
        if written:
            try:
                os.unlink(args.env_file)
            except FileNotFoundError:
                pass
        stack.stop()
        print("Local AWS stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
