import django.db.models.functions.text
from django.db import migrations, models

#: The search's index: trigrams of the upper-cased name and title, as Django's icontains
#: compares them on PostgreSQL (UPPER(column::text) LIKE UPPER('%...%')), so a search
#: anywhere in a name need not read every row. PostgreSQL only (pg_trgm is a trusted
#: extension: RDS lets the database owner create it); other databases scan one user's rows.
TRIGRAM_INDEXES = {
    "library_name_trigrams": "original_name",
    "library_title_trigrams": "title",
}


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "library_file" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)')


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    """The library list's indexes: one per order it offers (date, name, size),
    one for a kind, one to find a user's duplicates by checksum, and trigrams for search.

    bench/library_list.py measures the list with and without them (it migrates back to
    0009 and forward again).
    """

    dependencies = [
        ('library', '0009_file_kind'),
    ]

    operations = [
        # Newest first had an index without the tie-breaker: PostgreSQL sorted each page.
        migrations.RemoveIndex(model_name='file', name='library_owner_newest'),
        migrations.AddIndex(
            model_name='file',
            index=models.Index(fields=['owner', '-uploaded_at', '-id'], name='library_owner_date'),
        ),
        migrations.AddIndex(
            model_name='file',
            index=models.Index(models.F('owner'), django.db.models.functions.text.Lower('original_name'), models.F('id'), name='library_owner_name'),
        ),
        migrations.AddIndex(
            model_name='file',
            index=models.Index(fields=['owner', 'size', 'id'], name='library_owner_size'),
        ),
        migrations.AddIndex(
            model_name='file',
            index=models.Index(fields=['owner', 'kind', '-uploaded_at', '-id'], name='library_owner_kind'),
        ),
        migrations.AddIndex(
            model_name='file',
            index=models.Index(fields=['owner', 'sha256'], name='library_owner_sha256'),
        ),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
