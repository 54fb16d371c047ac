"""`python -m localaws.simpledb`: run the SimpleDB emulator in the foreground."""

import argparse
import logging
import signal
import sys

from . import faults
from .faults import Faults
from .models import Limits
from .server import SimpleDBServer


def _rate(text):
    try:
        return faults._rate("rate", text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _latency(text):
    try:
        return faults._latency(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
    parser.add_argument("--port", type=int, default=4567)
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument("--data-dir", help="keep data in DIR/simpledb.sqlite3 across restarts")
    storage.add_argument("--memory", action="store_true",
                         help="keep data in memory only (the default)")
    parser.add_argument("--access-key", help="the one access key accepted (with --secret-key)")
    parser.add_argument("--secret-key", help="its secret, used to verify signatures")
    parser.add_argument("--any-credentials", action="store_true",
                        help="accept any credentials without checking signatures (the default "
                             "when no key is given)")
    parser.add_argument("--latency-ms", type=_latency, default=0.0,
                        help="added to every call")
    parser.add_argument("--fail-rate", type=_rate, default=0.0,
                        help="fraction of calls answered 503 ServiceUnavailable")
    parser.add_argument("--stale-read-rate", type=_rate, default=0.0,
                        help="probability that a read without ConsistentRead is stale")
    parser.add_argument("--seed", type=int, help="seed the fault and staleness dice")
    parser.add_argument("--max-domains", type=_positive_int, default=Limits.max_domains)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.any_credentials and (args.access_key or args.secret_key):
        parser.error("--any-credentials cannot be combined with --access-key/--secret-key")
    if bool(args.access_key) != bool(args.secret_key):
        parser.error("--access-key and --secret-key go together")
    return args


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(message)s")
    server = SimpleDBServer(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        keys={args.access_key: args.secret_key} if args.access_key else None,
        faults=Faults(args.latency_ms, args.fail_rate, args.stale_read_rate, seed=args.seed),
        limits=Limits(max_domains=args.max_domains),
    )
    # SIGTERM and SIGINT end the process through serve()'s KeyboardInterrupt, even
    # when a parent shell started us with SIGINT ignored (as `cmd &` does in scripts).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"SimpleDB emulator listening on {server.endpoint_url} "
          f"({'data in ' + args.data_dir if args.data_dir else 'in memory'}, "
          f"{'any credentials' if not args.access_key else 'access key ' + args.access_key})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
