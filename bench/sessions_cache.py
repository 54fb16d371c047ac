"""Benchmark: SimpleDB sessions and cache beside Django's database ones on PostgreSQL.

Run `make bench-sessions` (or `python bench/sessions_cache.py [--requests N]`). In one run:

1. A typical request's session and cache work — load the session, three cache gets, one
   cache set — through `storage_backends.simpledb` on the emulator (`python -m
   localaws.simpledb`, its own process) at 0 ms and at 10 ms of injected latency per call,
   and through Django's database session engine and DatabaseCache on the local PostgreSQL.
   Printed: calls per request (SimpleDB calls counted by botocore's event hooks, SQL
   queries by Django's execute wrapper) and ms per request.
2. Cache get / set / get_many(20) / incr per second for both, at 0 ms.

Targets: 5 SimpleDB calls per request (the call budgets: load 1, get 1, set 1), and at
10 ms, time per request within 15% of calls x 10 ms (no hidden round trips or client
overhead). Exits 1 if a target is missed. For reference it also times five bare boto3
GetAttributes calls: the floor that botocore and the wire set for any 5-call request.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from localaws import free_port  # noqa: E402

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/")
BENCH_DATABASE = "stratus_bench"
LATENCY_MS = 10
TOLERANCE = 0.15


def start_emulator():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "localaws.simpledb", "--port", str(port), "--memory",
         "--any-credentials"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/_localaws/simpledb/faults", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the emulator did not start")


def ensure_database():
    import psycopg

    with psycopg.connect(POSTGRES_URL + "postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    (BENCH_DATABASE,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def setup_django(simpledb_url):
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "AWS_ENDPOINT_URL_SIMPLEDB": simpledb_url,
        "DATABASE_URL": POSTGRES_URL + BENCH_DATABASE,
    })
    import django
    from django.conf import settings

    django.setup()
    settings.CACHES = {
        **settings.CACHES,
        "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                     "LOCATION": "bench_cache"},
    }
    from django.core.management import call_command

    call_command("migrate", "sessions", verbosity=0)
    call_command("createcachetable", "bench_cache", verbosity=0)
    from storage_backends import resources
    from storage_backends.provisioning import Provisioner

    provisioner = Provisioner(s3=False, sqs=False)  # only SimpleDB is benchmarked
    for domain in resources.domains():
        provisioner.ensure_domain(domain)


@contextmanager
def counting():
    """Counts SimpleDB calls and SQL queries made inside the block."""
    from django.db import connection

    from storage_backends import aws

    counts = {"simpledb": 0, "sql": 0}

    def on_call(**kwargs):
        counts["simpledb"] += 1

    def on_query(execute, sql, params, many, context):
        counts["sql"] += 1
        return execute(sql, params, many, context)

    client = aws.client("sdb")
    client.meta.events.register("before-call.simpledb", on_call)
    try:
        with connection.execute_wrapper(on_query):
            yield counts
    finally:
        client.meta.events.unregister("before-call.simpledb", on_call)


def typical_request(store_class, cache, session_key):
    session = store_class(session_key)
    session.load()
    for key in ("page:header", "page:menu", "user:prefs"):
        cache.get(key)
    cache.set("page:last-seen", {"at": time.time()}, 300)


def measure_requests(store_class, cache, count):
    session = store_class()
    session["user_id"] = 42
    session["cart"] = list(range(50))
    session.create()
    for key in ("page:header", "page:menu", "user:prefs"):
        cache.set(key, "x" * 500, 300)
    typical_request(store_class, cache, session.session_key)  # warm clients and statements
    times = []
    with counting() as counts:
        for _ in range(count):
            started = time.perf_counter()
            typical_request(store_class, cache, session.session_key)
            times.append((time.perf_counter() - started) * 1000)
    calls = (counts["simpledb"] + counts["sql"]) / count
    return calls, statistics.median(times)


def raw_call_floor(count):
    """ms for 5 bare boto3 GetAttributes: what the wire and botocore alone cost a request."""
    from django.conf import settings

    from storage_backends import aws

    client = aws.client("sdb")

    def five_calls():
        for _ in range(5):
            client.get_attributes(DomainName=settings.SIMPLEDB_CACHE_DOMAIN, ItemName="floor",
                                  ConsistentRead=True)

    five_calls()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        five_calls()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def ops_per_second(cache, seconds=1.0):
    rates = {}
    keys = [f"many:{n}" for n in range(20)]
    cache.set_many({key: n for n, key in enumerate(keys)}, 300)
    cache.set("counter", 0, None)
    operations = {
        "get": lambda n: cache.get("many:1"),
        "set": lambda n: cache.set(f"set:{n % 100}", n, 300),
        "get_many(20)": lambda n: cache.get_many(keys),
        "incr": lambda n: cache.incr("counter"),
    }
    for name, operation in operations.items():
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            operation(done)
            done += 1
        rates[name] = done / (time.perf_counter() - started)
    return rates


def set_latency(url, milliseconds):
    requests.post(url + "/_localaws/simpledb/faults", json={"latency_ms": milliseconds},
                  timeout=5).raise_for_status()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="timed requests per row")
    args = parser.parse_args(argv)
    ensure_database()
    emulator, url = start_emulator()
    try:
        setup_django(url)
        from django.contrib.sessions.backends.db import SessionStore as DatabaseSession
        from django.core.cache import caches

        from storage_backends.simpledb.sessions import SessionStore as SimpleDBSession

        prefix = uuid.uuid4().hex[:6]  # a fresh key space each run
        simpledb_cache, database_cache = caches["default"], caches["database"]
        simpledb_cache.key_prefix = database_cache.key_prefix = prefix

        rows = [("SimpleDB, 0 ms", *measure_requests(SimpleDBSession, simpledb_cache,
                                                      args.requests))]
        set_latency(url, LATENCY_MS)
        rows.append((f"SimpleDB, {LATENCY_MS} ms", *measure_requests(
            SimpleDBSession, simpledb_cache, max(20, args.requests // 4))))
        floor_10 = raw_call_floor(max(20, args.requests // 4))
        set_latency(url, 0)
        floor_0 = raw_call_floor(args.requests)
        rows.append(("PostgreSQL (db sessions + DatabaseCache)",
                     *measure_requests(DatabaseSession, database_cache, args.requests)))
        simpledb_rates = ops_per_second(simpledb_cache)
        database_rates = ops_per_second(database_cache)
    finally:
        emulator.terminate()
        emulator.wait()

    print("A request's session and cache work: load session, 3 cache gets, 1 cache set")
    print(f"{'backend':<44}{'calls/request':>14}{'ms/request':>12}")
    for name, calls, ms in rows:
        print(f"{name:<44}{calls:>14.1f}{ms:>12.2f}")
    print(f"{'(5 bare boto3 GetAttributes, 0 ms)':<44}{5:>14.1f}{floor_0:>12.2f}")
    print(f"{f'(5 bare boto3 GetAttributes, {LATENCY_MS} ms)':<44}{5:>14.1f}{floor_10:>12.2f}")
    print()
    print("Cache operations per second (0 ms)")
    print(f"{'operation':<16}{'SimpleDB/s':>12}{'PostgreSQL/s':>14}{'ratio':>8}")
    for name, rate in simpledb_rates.items():
        print(f"{name:<16}{rate:>12.0f}{database_rates[name]:>14.0f}"
              f"{rate / database_rates[name]:>8.2f}")
    print()

    failures = []
    for name, calls, _ms in rows[:2]:
        if calls > 5:
            failures.append(f"{name}: {calls:.1f} calls per request, budget 5")
    _name, calls, ms = rows[1]
    ceiling = calls * LATENCY_MS * (1 + TOLERANCE)
    print(f"At {LATENCY_MS} ms: {ms:.1f} ms per request against {calls:.0f} calls x "
          f"{LATENCY_MS} ms = {calls * LATENCY_MS:.0f} ms (+{TOLERANCE:.0%} allowed: "
          f"{ceiling:.1f} ms)")
    if ms > ceiling:
        failures.append(f"{ms:.1f} ms per request at {LATENCY_MS} ms latency > {ceiling:.1f}")
    if failures:
        print("TARGETS MISSED: " + "; ".join(failures))
        return 1
    print("Targets met: call budgets, and no hidden round trips at 10 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
