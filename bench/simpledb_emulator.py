"""Benchmark: the SimpleDB emulator beside moto's SimpleDB, and indexed against scanning Select.

Run `make bench` (or `python bench/simpledb_emulator.py [--calls N] [--items N]`). In one run:

1. GetAttributes, PutAttributes and conditional PutAttributes per second over HTTP through
   boto3, against `python -m localaws.simpledb` and against moto's server, each in its own
   process on loopback, the client in this one. Target: ratio (ours / moto) >= 1.0.
   moto ignores `Expected`, so its "conditional" put is a plain put.
2. On a domain of 100,000 items, three Selects returning the same 100 items: an equality,
   a `like 'x%'` (both indexed) and a `like '%x%'` (which must scan), timed over HTTP and on
   the storage layer in-process. Target: in-process, each indexed query >= 50x faster than
   the scan.

Figures are ratios measured in one run, so a noisy shared machine affects both sides alike.
Exits 1 if a target is missed.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from localaws import free_port  # noqa: E402
from localaws.simpledb.models import SimpleDB  # noqa: E402

GROUPS = 1000
THROUGHPUT_TARGET = 1.0
INDEX_TARGET = 50.0


def client(endpoint):
    return boto3.client(
        "sdb", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def wait_ready(endpoint, process, timeout=30):
    deadline = time.monotonic() + timeout
    sdb = client(endpoint)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            sdb.list_domains()
            return
        except Exception:  # not listening yet
            time.sleep(0.05)
    raise RuntimeError(f"server at {endpoint} did not start")


def start(command, port):
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    wait_ready(endpoint, process)
    return process, endpoint


def rate(calls, operation):
    started = time.perf_counter()
    for n in range(calls):
        operation(n)
    return calls / (time.perf_counter() - started)


def throughput(endpoint, calls):
    sdb = client(endpoint)
    sdb.create_domain(DomainName="bench")
    sdb.put_attributes(DomainName="bench", ItemName="hot",
                       Attributes=[{"Name": "v", "Value": "0", "Replace": True}])
    for n in range(calls):  # items the conditional puts will update
        sdb.put_attributes(DomainName="bench", ItemName=f"c{n}",
                           Attributes=[{"Name": "v", "Value": "0"}])
    return {
        "GetAttributes": rate(calls, lambda n: sdb.get_attributes(
            DomainName="bench", ItemName="hot", ConsistentRead=True)),
        "PutAttributes": rate(calls, lambda n: sdb.put_attributes(
            DomainName="bench", ItemName=f"p{n}",
            Attributes=[{"Name": "v", "Value": str(n), "Replace": True}])),
        "PutAttributes (conditional)": rate(calls, lambda n: sdb.put_attributes(
            DomainName="bench", ItemName=f"c{n}",
            Attributes=[{"Name": "v", "Value": "1", "Replace": True}],
            Expected={"Name": "v", "Value": "0"})),
    }


def load(data_dir, items):
    backend = SimpleDB(data_dir)
    backend.create_domain("big")
    for start_at in range(0, items, 25):
        backend.batch_put_attributes("big", [
            (f"item{n:06d}", [("g", f"g{n % GROUPS:05d}", False),
                              ("t", f"t{n % GROUPS:05d}x{n:06d}", False)])
            for n in range(start_at, min(start_at + 25, items))
        ])
    return backend


QUERIES = {
    "equality        g = 'g00042'": "select itemName() from big where g = 'g00042' limit 2500",
    "prefix like     t like 't00042x%'":
        "select itemName() from big where t like 't00042x%' limit 2500",
    "contains like   t like '%00042x%'":
        "select itemName() from big where t like '%00042x%' limit 2500",
}


def median_ms(repeats, operation):
    operation()  # warm: parse and SQL caches, SQLite's page cache
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = operation()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per throughput figure")
    parser.add_argument("--items", type=int, default=100_000, help="items in the Select domain")
    parser.add_argument("--repeats", type=int, default=31, help="timed runs per Select")
    args = parser.parse_args(argv)
    failures = []

    with tempfile.TemporaryDirectory() as data_dir:
        ours_port, moto_port = free_port(), free_port()
        ours, ours_url = start([sys.executable, "-m", "localaws.simpledb", "--port",
                                str(ours_port), "--data-dir", data_dir, "--any-credentials"],
                               ours_port)
        moto, moto_url = start([sys.executable, "-m", "moto.server", "-p", str(moto_port)],
                               moto_port)
        try:
            ours_rates = throughput(ours_url, args.calls)
            moto_rates = throughput(moto_url, args.calls)
        finally:
            for process in (ours, moto):
                process.terminate()
                process.wait()

        print(f"SimpleDB over HTTP through boto3, {args.calls} sequential calls each "
              f"(server in its own process)")
        print(f"{'operation':<30}{'localaws/s':>12}{'moto/s':>12}{'ratio':>8}")
        for operation, ours_rate in ours_rates.items():
            ratio = ours_rate / moto_rates[operation]
            print(f"{operation:<30}{ours_rate:>12.0f}{moto_rates[operation]:>12.0f}{ratio:>8.2f}")
            if ratio < THROUGHPUT_TARGET:
                failures.append(f"{operation} ratio {ratio:.2f} < {THROUGHPUT_TARGET}")
        print("(moto ignores Expected: its conditional put is an unconditional put)\n")

        started = time.perf_counter()
        backend = load(os.path.join(data_dir, "big"), args.items)
        print(f"Select on a {args.items:,}-item domain, each query matching "
              f"{args.items // GROUPS} items (loaded in {time.perf_counter() - started:.1f} s)")
        port = free_port()
        server, url = start([sys.executable, "-m", "localaws.simpledb", "--port", str(port),
                             "--data-dir", os.path.join(data_dir, "big"),
                             "--any-credentials"], port)
        try:
            sdb = client(url)
            rows = {}
            for label, expression in QUERIES.items():
                http_ms, page = median_ms(args.repeats, lambda e=expression: sdb.select(
                    SelectExpression=e, ConsistentRead=True))
                local_ms, local_page = median_ms(args.repeats, lambda e=expression:
                                                 backend.select(e))
                assert len(page.get("Items", [])) == len(local_page.items) == args.items // GROUPS
                rows[label] = (http_ms, local_ms)
        finally:
            server.terminate()
            server.wait()
            backend.close()

        scan_http, scan_local = rows[list(QUERIES)[-1]]
        print(f"{'query':<36}{'HTTP ms':>10}{'in-process ms':>15}{'scan/this HTTP':>16}"
              f"{'scan/this in-process':>22}")
        for label, (http_ms, local_ms) in rows.items():
            print(f"{label:<36}{http_ms:>10.2f}{local_ms:>15.3f}{scan_http / http_ms:>16.1f}"
                  f"{scan_local / local_ms:>22.1f}")
            if label != list(QUERIES)[-1] and scan_local / local_ms < INDEX_TARGET:
                failures.append(f"{label.split()[0]} only {scan_local / local_ms:.1f}x the scan")

    print()
    if failures:
        print("TARGETS MISSED: " + "; ".join(failures))
        return 1
    print(f"Targets met: throughput ratio >= {THROUGHPUT_TARGET} for every operation; indexed "
          f"Selects >= {INDEX_TARGET:.0f}x the scan in-process.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
