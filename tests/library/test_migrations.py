"""The library's migrations on a database that already holds files."""

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.library.models import PUBLIC_ID_LENGTH, File

# Migrating needs real transactions, not the test's own.
pytestmark = pytest.mark.django_db(transaction=True)

#: The last migration before files had public ids.
BEFORE_PUBLIC_IDS = ("library", "0003_original_name_as_given")


def migrate_to(*targets):
    """Migrate the test database to `targets`; the historical apps at that state."""
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets))
    return executor.loader.project_state(list(targets)).apps


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def rows_before_public_ids(django_user_model):
    """Fifty files written before public ids existed; the database migrated to the latest
    once the test is done with it, whatever happens."""
    old_apps = migrate_to(BEFORE_PUBLIC_IDS)
    OldFile = old_apps.get_model("library", "File")
    owner = django_user_model.objects.create_user("legacy")
    OldFile.objects.bulk_create(
        OldFile(owner_id=owner.pk, original_name=f"old_{i}.txt",
                file=f"uploads/test/old_{i}.txt", size=1, content_type="text/plain")
        for i in range(50))
    yield
    migrate_to_latest()


def test_existing_files_get_distinct_random_public_ids(rows_before_public_ids):
    migrate_to_latest()
    ids = list(File.objects.values_list("public_id", flat=True))
    assert len(ids) == len(set(ids)) == 50
    assert all(re.fullmatch(rf"[A-Za-z0-9_-]{{{PUBLIC_ID_LENGTH}}}", id) for id in ids)


def test_existing_files_keep_their_names(rows_before_public_ids):
    migrate_to_latest()
    assert sorted(File.objects.values_list("original_name", flat=True)) == sorted(
        f"old_{i}.txt" for i in range(50))



def test_files_from_before_previews_get_none_and_new_files_start_pending(
        rows_before_public_ids, django_user_model):
    migrate_to_latest()
    assert set(File.objects.values_list("preview_state", "preview_note")) == {
        ("none", "uploaded before previews")}
    new = File.objects.create(owner=django_user_model.objects.get(username="legacy"),
                              original_name="new.txt", file="uploads/test/new.txt", size=1,
                              content_type="text/plain")
    assert (new.preview_state, new.preview_note) == ("pending", "")


def test_files_from_before_kinds_get_theirs(django_user_model):
    old_apps = migrate_to(("library", "0007_file_previews"))
    OldFile = old_apps.get_model("library", "File")
    owner = django_user_model.objects.create_user("kinds")
    try:
        for name, stored, detected in [("a.png", "image/png", ""), ("b.txt", "text/plain", ""),
                                       ("c.png", "image/png", "text/plain"),
                                       ("d.bin", "application/octet-stream", "application/pdf")]:
            OldFile.objects.create(owner_id=owner.pk, original_name=name, size=1,
                                   file=f"uploads/test/{name}", content_type=stored,
                                   detected_type=detected)
    finally:
        migrate_to_latest()
    assert dict(File.objects.values_list("original_name", "kind")) == {
        "a.png": "image", "b.txt": "text", "c.png": "text", "d.bin": "pdf"}
