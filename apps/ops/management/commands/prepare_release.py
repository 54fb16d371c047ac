"""`manage.py prepare_release`: migrations and static files, once per release.

Every web node runs it at start, before serving (deploy/systemd/stratus-web.service), so a
release needs no separate step. Nodes start together (a new group, an instance refresh),
so it runs under a PostgreSQL advisory lock, held on a connection of its own: the first
node applies the migrations, runs collectstatic (hashed names and their manifest, into
the static bucket) and records the release (`PreparedRelease`); the others wait for the
lock, find the release recorded and go on at once.

What is recorded is the release prepared last, not every release ever prepared: a
rollback (an earlier release starting after a later one) prepares again, so the static
bucket's manifest is its own again. Its migrations are applied already; those of the
later release stay (docs/deploy-nodes.md, "Release and rollback").

Other databases (SQLite: one machine, one node) take no lock.
"""

from contextlib import contextmanager

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from apps.ops.models import PreparedRelease

#: The advisory lock's key: any constant the site uses for nothing else ("stratus:release").
LOCK_KEY = 0x5354524154555352
#: PostgreSQL's SQLSTATE for a lock wait that ran out of lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"


def positive_seconds(text):
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def release_file_version():
    """The version in the release's RELEASE file (bin/build-release), or None."""
    path = settings.BASE_DIR / "RELEASE"
    return path.read_text().strip() if path.exists() else None


@contextmanager
def release_lock(alias, timeout):
    """Hold the release lock while the block runs; CommandError after `timeout` seconds."""
    if connections[alias].vendor != "postgresql":
        yield
        return
    # A connection of its own: migrate and collectstatic use (and may close) the default
    # one. The lock lasts as long as this connection's session.
    connection = connections.create_connection(alias)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, false)",
                           [f"{round(timeout * 1000)}ms"])
            try:
                cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                raise CommandError(f"another node held the release lock for over {timeout:g} s "
                                   "(still migrating?); this start fails, and the next "
                                   "tries again") from None
        yield
    finally:
        connection.close()


def last_prepared(alias):
    """The version prepared last, or None (none yet, or no table yet: a first deploy)."""
    connection = connections[alias]
    if PreparedRelease._meta.db_table not in connection.introspection.table_names():
        return None
    latest = PreparedRelease.objects.using(alias).order_by("-id").first()
    return latest.version if latest else None


class Command(BaseCommand):
    help = ("Apply migrations and collect static files for this release, unless it is the "
            "release prepared last; under a PostgreSQL advisory lock, so that of the nodes "
            "starting at once one does it.")

    def add_arguments(self, parser):
        parser.add_argument("--release", help="the release's version (default: the RELEASE file "
                                              "bin/build-release puts in the artefact)")
        parser.add_argument("--lock-timeout", type=positive_seconds, default=600.0,
                            help="seconds to wait for another node's preparation (default 600)")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, release, lock_timeout, database, verbosity, **options):
        version = release or release_file_version()
        if not version:
            raise CommandError("no RELEASE file here (this is not a release artefact); "
                               "give --release VERSION")
        with release_lock(database, lock_timeout):
            if last_prepared(database) == version:
                self.stdout.write(f"prepare_release: release {version} is prepared already")
                return
            call_command("migrate", database=database, interactive=False, verbosity=verbosity)
            call_command("collectstatic", interactive=False, verbosity=verbosity)
            PreparedRelease.objects.using(database).create(version=version)
        self.stdout.write(f"prepare_release: prepared release {version} (migrations, "
                          "static files)")
