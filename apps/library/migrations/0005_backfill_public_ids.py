import secrets

from django.db import migrations

#: Rows read and written at a time, so a large table never sits in memory.
BATCH = 1000


def backfill(apps, schema_editor):
    """Give every existing file its own random public id (128 bits, as new files get)."""
    File = apps.get_model('library', 'File')
    pending = File.objects.filter(public_id__isnull=True).only('pk')
    while batch := list(pending[:BATCH]):
        for file in batch:
            file.public_id = secrets.token_urlsafe(16)
        File.objects.bulk_update(batch, ['public_id'])


class Migration(migrations.Migration):
    """Step 2 of 3: a distinct random public id for every existing file."""

    dependencies = [
        ('library', '0004_file_public_id'),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
