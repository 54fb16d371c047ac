"""Command-line options shared by `python -m localaws.simpledb` and `python -m localaws`.

Both take the same key pair, fault-injection and control flags, so a developer can move
between the emulator alone and the whole stack without relearning them.
"""

import argparse

from . import faults
from .faults import Faults


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


def add_credential_arguments(parser, default_keys=None):
    """--access-key/--secret-key (default: `default_keys`, a pair) and --any-credentials."""
    access, secret = default_keys or (None, None)
    default_note = f" (default: {access})" if access else ""
    parser.add_argument("--access-key", help="the one access key accepted, with --secret-key"
                                             + default_note)
    parser.add_argument("--secret-key", help="its secret, used to verify signatures"
                                             + (f" (default: {secret})" if secret else ""))
    parser.add_argument("--any-credentials", action="store_true",
                        help="accept any request without checking its signature"
                             + ("" if access else " (the default when no key is given)"))


def keys_from(parser, args, default_keys=None):
    """{access key: secret} to verify signatures with, or None for any credentials."""
    if args.any_credentials and (args.access_key or args.secret_key):
        parser.error("--any-credentials cannot be combined with --access-key/--secret-key")
    if bool(args.access_key) != bool(args.secret_key):
        parser.error("--access-key and --secret-key go together")
    if args.any_credentials:
        return None
    if args.access_key:
        return {args.access_key: args.secret_key}
    return dict([default_keys]) if default_keys else None


def add_fault_arguments(parser):
    """The fault-injection flags and --control (the endpoint that changes them later)."""
    parser.add_argument("--latency-ms", type=_latency, default=0.0,
                        help="added to every call")
    parser.add_argument("--fail-rate", type=_rate, default=0.0,
                        help="fraction of calls answered 503 ServiceUnavailable")
    parser.add_argument("--stale-read-rate", type=_rate, default=0.0,
                        help="probability that a read without ConsistentRead is stale")
    parser.add_argument("--seed", type=int, help="seed the fault and staleness dice")
    parser.add_argument("--control", action="store_true",
                        help="serve the control endpoint /_localaws/simpledb/faults (signed "
                             "like any call) to change injection while running")


def faults_from(args):
    return Faults(args.latency_ms, args.fail_rate, args.stale_read_rate, seed=args.seed)
