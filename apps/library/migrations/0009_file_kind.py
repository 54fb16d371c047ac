from django.db import migrations, models

#: Rows read and written at a time by the backfill.
BATCH = 2000


def fill_kinds(apps, schema_editor):
    """Give the files already there their kind (new ones get it on save)."""
    from apps.library.models import kind_of

    File = apps.get_model("library", "File")
    batch = []
    for file in File.objects.only("detected_type", "content_type").iterator(chunk_size=BATCH):
        file.kind = kind_of(file.detected_type, file.content_type)
        batch.append(file)
        if len(batch) == BATCH:
            File.objects.bulk_update(batch, ["kind"])
            batch = []
    File.objects.bulk_update(batch, ["kind"])


class Migration(migrations.Migration):
    """A file's kind (image, PDF, text, other) for the library's type filter, from
    detected_type, or content_type until the facts task has run (models.kind_of).

    Numbered 0009: 0008 is kept for the trash's deleted_at, made on another branch at the
    same time; the two meet in a merge migration.
    """

    dependencies = [
        ('library', '0008_file_deleted_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='file',
            name='kind',
            field=models.CharField(choices=[('image', 'images'), ('pdf', 'PDFs'), ('text', 'text'), ('other', 'other')], default='other', editable=False, max_length=5),
        ),
        migrations.RunPython(fill_kinds, migrations.RunPython.noop),
    ]
