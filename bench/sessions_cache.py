"""Benchmark: SimpleDB and DynamoDB sessions and cache beside Django's database ones on PostgreSQL.

Run `make bench-sessions` (or `python bench/sessions_cache.py [--requests N] [--seconds S]`).
It starts the local stack (`python -m localaws`, its own process, on free ports: the
SimpleDB emulator, and moto for DynamoDB) and, in one run:

1. A typical request's session and cache work — load the session, three cache gets, one
   cache set — through `storage_backends.simpledb` on the emulator and through
   `storage_backends.dynamodb` on moto, each at 0 ms and at 10 ms of added latency per AWS
   call, and through Django's database session engine and DatabaseCache on the local
   PostgreSQL. Printed: calls per request (AWS calls counted by botocore's event hooks, SQL
   queries by Django's execute wrapper) and ms per request; and, for each AWS store, its
   floor at both latencies: one bare boto3 read (GetAttributes, GetItem) per call the
   request made, of the same item with the same consistency (a write's item is read back
   instead), which is what botocore and the wire alone cost such a request.
2. Cache get / set / get_many(20) / incr per second for all three, at 0 ms.

How latency is added: the SimpleDB emulator sleeps it server-side (its control endpoint).
moto cannot, so a `before-send` hook on the process's one DynamoDB client sleeps it before
every HTTP request the client sends: the session store, the cache and the bare floor share
that client, so they pay it alike, per attempt, as a network would. A hook rather than a
delaying relay in front of moto (bench/delay_proxy.py): a relay adds its own hop, about
0.5 ms a call and a third busy process on two cores, to every call at 0 ms too, which the
SimpleDB rows do not pay; the hook adds the latency and nothing else.

Targets (exit 1 if one is missed):
- SimpleDB: 5 calls per request (the call budgets: load 1, get 1, set 1), and at 10 ms,
  time per request within 15% of calls x 10 ms (no hidden round trips or client overhead).
- DynamoDB: the same budgets, 5 calls per request of which one consistent read (the
  session's load), and at 0 and at 10 ms, time per request within 15% of its floor.

On the local stack every call to moto opens a TCP connection (its werkzeug server closes
each one), so a DynamoDB call costs ~2.5 ms at 0 ms where a SimpleDB call costs ~1 ms: a
cost of the stand-in, paid alike by the store and its floor.
"""

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from localaws.simpledb.control import change_faults  # noqa: E402

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/")
BENCH_DATABASE = "stratus_bench"
LATENCY_MS = 10
TOLERANCE = 0.15
#: AWS calls in the typical request, for either store: load 1, three gets, one set.
CALL_BUDGET = 5
#: Of those, consistent reads: the session's load (cache reads are eventually consistent).
CONSISTENT_BUDGET = 1
CACHE_KEYS = ("page:header", "page:menu", "user:prefs")


def read_env_file(path):
    with open(path) as file:
        return dict(line.rstrip("\n").split("=", 1) for line in file if "=" in line)


def start_stack(directory):
    """`python -m localaws` on free ports; (process, its endpoint variables)."""
    env_file = os.path.join(directory, "localaws.env")
    process = subprocess.Popen(
        [sys.executable, "-m", "localaws", "--moto-port", "0", "--simpledb-port", "0",
         "--memory", "--any-credentials", "--control", "--env-file", env_file],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the stack writes the file once it serves
        if os.path.exists(env_file):
            return process, read_env_file(env_file)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the local AWS stack did not start")


def ensure_database():
    import psycopg

    with psycopg.connect(POSTGRES_URL + "postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    (BENCH_DATABASE,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def dynamodb_cache_table():
    from django.conf import settings

    return settings.STRATUS_DYNAMODB_TABLE_PREFIX + "cache"


def ensure_table(name):
    """A table of the shape Stratus's tables have: partition key `k`, on demand, TTL on
    `x`."""
    from storage_backends import aws
    from storage_backends.dynamodb.client import EXPIRY, KEY

    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}])
    dynamodb.get_waiter("table_exists").wait(TableName=name,
                                             WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": EXPIRY})


def setup_django(endpoints):
    os.environ.update({
        **endpoints,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": POSTGRES_URL + BENCH_DATABASE,
    })
    import django
    from django.conf import settings

    django.setup()
    # Each store's cache as the site configures its default one (timeout, key prefix,
    # options), whichever store the environment chooses for the site.
    site_cache = {name: value for name, value in settings.CACHES["default"].items()
                  if name not in ("BACKEND", "LOCATION")}
    settings.CACHES = {
        **settings.CACHES,
        "simpledb": {**site_cache, "BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
                     "LOCATION": settings.SIMPLEDB_CACHE_DOMAIN},
        "dynamodb": {**site_cache, "BACKEND": "storage_backends.dynamodb.cache.DynamoDBCache",
                     "LOCATION": dynamodb_cache_table()},
        "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                     "LOCATION": "bench_cache"},
    }
    from django.core.management import call_command

    call_command("migrate", "sessions", verbosity=0)
    call_command("createcachetable", "bench_cache", verbosity=0)
    from storage_backends.provisioning import Provisioner

    provisioner = Provisioner(s3=False, sqs=False)  # only the state stores are benchmarked
    for domain in (settings.SIMPLEDB_SESSIONS_DOMAIN, settings.SIMPLEDB_CACHE_DOMAIN):
        provisioner.ensure_domain(domain)
    for table in (settings.DYNAMODB_SESSIONS_TABLE, dynamodb_cache_table()):
        ensure_table(table)


class AddedLatency:
    """Sleeps `milliseconds` before every HTTP request a boto3 client sends (see the
    module docstring); registered once on the client, changed by setting the attribute."""

    def __init__(self, client):
        self.milliseconds = 0
        client.meta.events.register("before-send.dynamodb", self._sleep)

    def _sleep(self, **kwargs):
        if self.milliseconds > 0:
            time.sleep(self.milliseconds / 1000)


@contextmanager
def recording():
    """The AWS calls made inside the block, as [(client, operation, params)], and the
    number of SQL queries, as {"aws": [...], "sql": n}."""
    from django.db import connection

    from storage_backends import aws

    made = {"aws": [], "sql": 0}

    def on_query(execute, sql, params, many, context):
        made["sql"] += 1
        return execute(sql, params, many, context)

    hooks = []
    for client in (aws.client("sdb"), aws.client("dynamodb")):
        def on_call(params, model, client=client, **kwargs):
            made["aws"].append((client, model.name, params))

        client.meta.events.register("before-parameter-build", on_call)
        hooks.append((client, on_call))
    try:
        with connection.execute_wrapper(on_query):
            yield made
    finally:
        for client, on_call in hooks:
            client.meta.events.unregister("before-parameter-build", on_call)


def typical_request(store_class, cache, session_key):
    session = store_class(session_key)
    session.load()
    for key in CACHE_KEYS:
        cache.get(key)
    cache.set("page:last-seen", {"at": time.time()}, 300)


def milliseconds(function):
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def measure_requests(store_class, cache, count):
    """Per typical request: (calls, consistent reads, median ms), and its floor (bare
    reads, median ms). Each timed request is followed by one timed floor, so that a busy
    moment of the machine touches both alike."""
    session = store_class()
    session["user_id"] = 42
    session["cart"] = list(range(50))
    session.create()
    for key in CACHE_KEYS:
        cache.set(key, "x" * 500, 300)
    with recording() as one:  # also warms clients and statements
        typical_request(store_class, cache, session.session_key)
    reads = [bare_read(client, operation, copy.deepcopy(params))
             for client, operation, params in one["aws"]]

    def request():
        typical_request(store_class, cache, session.session_key)

    def floor():
        for read in reads:
            read()

    floor()
    times, floor_times = [], []
    with recording() as made:
        for _ in range(count):
            times.append(milliseconds(request))
            mark = len(made["aws"])
            floor_times.append(milliseconds(floor))
            del made["aws"][mark:]  # the floor's reads are not the request's calls
    calls = (len(made["aws"]) + made["sql"]) / count
    consistent = sum(bool(params.get("ConsistentRead")) for _c, _o, params in made["aws"])
    return ((calls, consistent / count, statistics.median(times)),
            (len(reads), statistics.median(floor_times)))


def bare_read(client, operation, params):
    """One bare boto3 read of the item an AWS call touched (as `recording` gives calls):
    the call itself if it was a read, else a read of the item it wrote."""
    if operation in ("GetItem", "GetAttributes"):
        method = client.get_item if operation == "GetItem" else client.get_attributes
        return lambda: method(**params)
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        from storage_backends.dynamodb.client import KEY

        key = params.get("Key") or {KEY: params["Item"][KEY]}
        return lambda: client.get_item(TableName=params["TableName"], Key=key)
    if operation in ("PutAttributes", "DeleteAttributes"):
        return lambda: client.get_attributes(DomainName=params["DomainName"],
                                             ItemName=params["ItemName"])
    raise ValueError(f"no bare read stands for {operation}")


def ops_per_second(cache, seconds):
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


def run(args, endpoints):
    """Every measurement: (rows, floors, rates); see the module docstring."""
    setup_django(endpoints)
    from django.contrib.sessions.backends.db import SessionStore as DatabaseSession
    from django.core.cache import caches

    from storage_backends import aws
    from storage_backends.dynamodb.sessions import SessionStore as DynamoDBSession
    from storage_backends.simpledb.sessions import SessionStore as SimpleDBSession

    prefix = uuid.uuid4().hex[:6]  # a fresh key space each run
    stores = {"SimpleDB": (SimpleDBSession, caches["simpledb"]),
              "DynamoDB": (DynamoDBSession, caches["dynamodb"])}
    for _session, cache in stores.values():
        cache.key_prefix = prefix
    database_cache = caches["database"]
    database_cache.key_prefix = prefix
    # The table outlives runs, and DatabaseCache culls a third of it past 300 entries,
    # which could take this run's counter with it: start empty.
    database_cache.clear()
    dynamodb_latency = AddedLatency(aws.client("dynamodb"))

    def set_latency(milliseconds):
        change_faults(endpoints["AWS_ENDPOINT_URL_SIMPLEDB"], latency_ms=milliseconds)
        dynamodb_latency.milliseconds = milliseconds

    rows, floors = {}, {}
    # Fewer at 10 ms, where each takes ~60 ms: a quarter, at least 20, at most all.
    slow_count = min(args.requests, max(20, args.requests // 4))
    for latency, count in ((0, args.requests), (LATENCY_MS, slow_count)):
        set_latency(latency)
        for name, (session, cache) in stores.items():
            rows[name, latency], floors[name, latency] = measure_requests(session, cache,
                                                                          count)
    set_latency(0)
    rows["PostgreSQL", 0] = measure_requests(DatabaseSession, database_cache,
                                             args.requests)[0]
    rates = {name: ops_per_second(cache, args.seconds) for name, (_s, cache) in stores.items()}
    rates["PostgreSQL"] = ops_per_second(database_cache, args.seconds)
    return rows, floors, rates


STORES = ("SimpleDB", "DynamoDB")
#: The read each store's floor is made of.
FLOOR_READ = {"SimpleDB": "GetAttributes", "DynamoDB": "GetItem"}


def report(rows, floors, rates):
    """Print the tables and the targets; the targets missed (as sentences)."""
    print("A request's session and cache work: load session, 3 cache gets, 1 cache set")
    print(f"{'backend':<44}{'calls/request':>14}{'ms/request':>12}")
    for name in STORES:
        for latency in (0, LATENCY_MS):
            calls, _consistent, ms = rows[name, latency]
            print(f"{f'{name}, {latency} ms':<44}{calls:>14.1f}{ms:>12.2f}")
    calls, _consistent, ms = rows["PostgreSQL", 0]
    print(f"{'PostgreSQL (db sessions + DatabaseCache)':<44}{calls:>14.1f}{ms:>12.2f}")
    for name in STORES:
        for latency in (0, LATENCY_MS):
            reads, ms = floors[name, latency]
            label = f"({reads} bare boto3 {FLOOR_READ[name]}, {latency} ms)"
            print(f"{label:<44}{reads:>14.1f}{ms:>12.2f}")
    print()
    print("Cache operations per second (0 ms)")
    print(f"{'operation':<16}{'SimpleDB/s':>12}{'DynamoDB/s':>12}{'PostgreSQL/s':>14}"
          f"{'SimpleDB÷PG':>13}{'DynamoDB÷PG':>13}")
    for operation, database in rates["PostgreSQL"].items():
        simpledb, dynamodb = rates["SimpleDB"][operation], rates["DynamoDB"][operation]
        print(f"{operation:<16}{simpledb:>12.0f}{dynamodb:>12.0f}{database:>14.0f}"
              f"{simpledb / database:>13.2f}{dynamodb / database:>13.2f}")
    print()

    failures = []

    def verdict(line, met):
        print(f"{line}: {'met' if met else 'MISSED'}")
        if not met:
            failures.append(line)

    for name in STORES:
        for latency in (0, LATENCY_MS):
            calls, consistent, _ms = rows[name, latency]
            verdict(f"{name}, {latency} ms: {calls:.1f} calls per request, {consistent:.1f} "
                    f"of them consistent reads (budget: {CALL_BUDGET} calls, "
                    f"{CONSISTENT_BUDGET} consistent read)",
                    calls <= CALL_BUDGET and consistent <= CONSISTENT_BUDGET)
    calls, _consistent, ms = rows["SimpleDB", LATENCY_MS]
    ceiling = calls * LATENCY_MS * (1 + TOLERANCE)
    verdict(f"SimpleDB at {LATENCY_MS} ms: {ms:.1f} ms per request against {calls:.0f} calls "
            f"x {LATENCY_MS} ms = {calls * LATENCY_MS:.0f} ms (+{TOLERANCE:.0%} allowed: "
            f"{ceiling:.1f} ms)", ms <= ceiling)
    for latency in (0, LATENCY_MS):
        _calls, _consistent, ms = rows["DynamoDB", latency]
        reads, floor = floors["DynamoDB", latency]
        ceiling = floor * (1 + TOLERANCE)
        verdict(f"DynamoDB at {latency} ms: {ms:.1f} ms per request against {floor:.1f} ms "
                f"for {reads} bare GetItem (+{TOLERANCE:.0%} allowed: {ceiling:.1f} ms)",
                ms <= ceiling)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="timed requests per row")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="seconds per cache operation and store in the rates")
    args = parser.parse_args(argv)
    ensure_database()
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as directory:
        stack, endpoints = start_stack(directory)
        try:
            rows, floors, rates = run(args, endpoints)
        finally:
            stack.terminate()
            stack.wait()
    failures = report(rows, floors, rates)
    if failures:
        print("TARGETS MISSED: " + "; ".join(failures))
        return 1
    print("Targets met: call budgets; no hidden round trips at 10 ms (SimpleDB); within "
          f"{TOLERANCE:.0%} of the bare boto3 floor (DynamoDB).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
