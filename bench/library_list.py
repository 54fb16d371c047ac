"""The library list at 10,000 files: time and queries per page, with and without its indexes.

Fills a PostgreSQL database (BENCH_POSTGRES_URL, the server `make fleet` and the other
benchmarks use) with FILES files for one user and OTHERS spread over other users, then asks
for the list page through Django's test client (in process: the figures are the view and
the database, not the network) for each search, order and type it offers. It measures each
page with the list's indexes (migrations up to the latest), then without them (migrated
back to 0009_file_kind, which drops them), and prints both side by side, the ratio, and the
index PostgreSQL's EXPLAIN chose for the page's query. Sessions and caches are in memory
here: the list page reads neither S3 nor the state store for its rows.

    python bench/library_list.py [--files 10000] [--others 2000] [--requests 20]

Exit status 1 if a page takes more queries than QUERY_BUDGET.
"""

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from datetime import timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/")
BENCH_DATABASE = "stratus_bench_library"
#: Queries a list page may take, whatever it holds: the user, the count, the page, the
#: page's earlier copies (duplicates), and the two usage figures.
QUERY_BUDGET = 6
#: The migration that has File.kind but none of the list's indexes.
WITHOUT_INDEXES = "0009_file_kind"
#: Words names and titles are made of; "invoice" is in about one name in ten,
#: "zebra" in about one in a thousand.
WORDS = ["report", "photo", "notes", "budget", "draft", "scan", "slides", "minutes",
         "contract", "letter", "summary", "plan"]
RARE_WORD, COMMON_WORD = "zebra", "invoice"
#: (extension, stored type, detected type): the kinds a library holds, most often first.
TYPES = [(".jpg", "image/jpeg", "image/jpeg"), (".png", "image/png", "image/png"),
         (".pdf", "application/pdf", "application/pdf"), (".txt", "text/plain", "text/plain"),
         (".csv", "text/csv", "text/plain"), (".zip", "application/zip", "application/zip"),
         (".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
          "application/zip")]

#: (label, GET parameters) of each page measured.
CASES = [
    ("newest first (default)", {}),
    ("oldest first", {"sort": "date"}),
    ("name A-Z", {"sort": "name"}),
    ("name Z-A", {"sort": "-name"}),
    ("size, smallest", {"sort": "size"}),
    ("size, largest", {"sort": "-size"}),
    ("type: image", {"type": "image"}),
    ("type: pdf", {"type": "pdf"}),
    ("type: text", {"type": "text"}),
    ("type: other", {"type": "other"}),
    (f"search '{COMMON_WORD}' (~10%)", {"q": COMMON_WORD}),
    (f"search '{RARE_WORD}' (~0.1%)", {"q": RARE_WORD}),
    ("search + pdf + name", {"q": COMMON_WORD, "type": "pdf", "sort": "name"}),
    ("page 200, newest first", {"page": "200"}),
    ("page 200, name A-Z", {"page": "200", "sort": "name"}),
]


def reset_database(name):
    """An empty database `name`, so every run measures the same rows."""
    import psycopg

    with psycopg.connect(POSTGRES_URL + "postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(database):
    os.environ.update({"DJANGO_SETTINGS_MODULE": "project.settings",
                       "DATABASE_URL": POSTGRES_URL + database})
    import django
    from django.conf import settings

    django.setup()
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.CACHES = {name: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
                       for name in settings.CACHES}
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False


def migrate(target=None):
    from django.core.management import call_command

    call_command("migrate", *(("library", target) if target else ()), verbosity=0)
    analyze()


def analyze():
    """Fresh statistics, and new rows moved from GIN's pending list into the trigram
    indexes, as autovacuum does on a live database (until then the planner shuns them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def name_for(rng):
    words = rng.sample(WORDS, 2)
    if rng.random() < 0.1:
        words.append(COMMON_WORD)
    if rng.random() < 0.001:
        words.append(RARE_WORD)
    rng.shuffle(words)
    separator = rng.choice(["-", "_", " "])
    return separator.join(word.capitalize() if rng.random() < 0.3 else word
                          for word in words) + f" {rng.randrange(10_000)}"


def fill(owner, count, rng, batch=2000):
    """`count` files for `owner`, without S3 objects: names, titles, sizes, types and
    dates spread as a real library's would be."""
    from django.utils import timezone

    from apps.library.models import File, PreviewState, kind_of

    now = timezone.now()
    for start in range(0, count, batch):
        rows = []
        for _ in range(start, min(count, start + batch)):
            extension, stored, detected = rng.choice(TYPES)
            name = name_for(rng) + extension
            rows.append(File(
                owner=owner, original_name=name,
                title=name_for(rng) if rng.random() < 0.3 else "",
                file=f"uploads/{rng.randbytes(16).hex()}/{name}",
                size=int(rng.lognormvariate(12, 2.5)) + 1,
                content_type=stored, detected_type=detected,
                kind=kind_of(detected, stored),  # bulk_create does not call save()
                sha256=rng.randbytes(32).hex(), facts_recorded_at=now,
                preview_state=PreviewState.NONE, preview_note="bench"))
        created = File.objects.bulk_create(rows)
        # auto_now_add stamps every row alike: spread them over two years.
        for row in created:
            row.uploaded_at = now - timedelta(seconds=rng.randrange(2 * 365 * 86400))
        File.objects.bulk_update(created, ["uploaded_at"], batch_size=batch)


def measure(client, params, requests):
    """(median ms, queries) of GET /library/?params, after one warm-up request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/library/", params)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/library/", params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get("/library/", params)
    return statistics.median(timings), len(queries)


def plan_for(user, params):
    """The indexes PostgreSQL's plan for the page's rows uses (EXPLAIN ANALYZE), and the
    plan's execution time in ms."""
    from django.core.paginator import Paginator
    from django.http import QueryDict

    from apps.library.listing import Listing
    from apps.library.views import PAGE_SIZE

    query = QueryDict(mutable=True)
    query.update(params)
    found = Listing.from_params(query).files(user)
    page = Paginator(found, PAGE_SIZE).get_page(params.get("page"))
    plan = found[page.start_index() - 1:page.end_index()].explain(analyze=True)
    used = re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? "
                      r"(?:using|on) (\w+)", plan)
    scans = "seq scan" if "Seq Scan on library_file" in plan else ""
    executed = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return (", ".join(dict.fromkeys(used)) or scans or "-",
            float(executed.group(1)) if executed else None, plan)


def run_cases(client, user, requests):
    figures = {}
    for label, params in CASES:
        median, queries = measure(client, params, requests)
        used, executed, plan = plan_for(user, params)
        figures[label] = {"ms": median, "queries": queries, "index": used,
                          "plan_ms": executed, "plan": plan}
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000, help="files of the measured user")
    parser.add_argument("--others", type=int, default=2_000,
                        help="files spread over four other users")
    parser.add_argument("--requests", type=int, default=20, help="requests per page measured")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--database", default=BENCH_DATABASE,
                        help="the database to fill (dropped and made again)")
    parser.add_argument("--plans", action="store_true", help="print every EXPLAIN in full")
    args = parser.parse_args()

    reset_database(args.database)
    setup_django(args.database)
    from django.contrib.auth import get_user_model
    from django.test import Client

    migrate()
    rng = random.Random(14)
    users = get_user_model().objects
    user = users.create_user("bench-owner")
    fill(user, args.files, rng)
    for number in range(4):
        fill(users.create_user(f"bench-other-{number}"), args.others // 4, rng)
    analyze()
    client = Client()
    client.force_login(user)

    print(f"Library list, {args.files:,} files for the user ({args.others:,} for four "
          f"others), PostgreSQL, median of {args.requests} requests through the test client")
    with_indexes = run_cases(client, user, args.requests)
    migrate(WITHOUT_INDEXES)
    without_indexes = run_cases(client, user, args.requests)
    migrate()

    header = ("| page | with indexes, ms | without, ms | without/with | queries | "
              "plan ms with | plan ms without | index used |")
    print(header)
    print("|---" * 8 + "|")
    over_budget = []
    for label, _ in CASES:
        on, off = with_indexes[label], without_indexes[label]
        print(f"| {label} | {on['ms']:.1f} | {off['ms']:.1f} | {off['ms'] / on['ms']:.2f} "
              f"| {on['queries']} | {on['plan_ms']:.2f} | {off['plan_ms']:.2f} "
              f"| {on['index']} |")
        if max(on["queries"], off["queries"]) > QUERY_BUDGET:
            over_budget.append(label)
    if args.plans:
        for label, _ in CASES:
            print(f"\n-- {label}, with indexes:\n{with_indexes[label]['plan']}")
            print(f"-- {label}, without:\n{without_indexes[label]['plan']}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"with": with_indexes, "without": without_indexes}, file, indent=1)
    if over_budget:
        print(f"QUERY BUDGET ({QUERY_BUDGET}) MISSED: {', '.join(over_budget)}")
        return 1
    print(f"Every page within the query budget ({QUERY_BUDGET} queries).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
