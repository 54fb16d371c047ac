from django.db import migrations, models


class Migration(migrations.Migration):
    """A file's kind (image, PDF, text, other) for the library's type filter: a stored
    column the database computes from detected_type, or content_type until the facts task
    has run (models._kind_expression).

    Numbered 0009: 0008 is kept for the trash's deleted_at, made on another branch at the
    same time; the two meet in a merge migration.
    """

    dependencies = [
        ('library', '0007_file_previews'),
    ]

    operations = [
        migrations.AddField(
            model_name='file',
            name='kind',
            field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(models.Q(('detected_type__startswith', 'image/'), models.Q(('detected_type', ''), ('content_type__startswith', 'image/')), _connector='OR'), then=models.Value('image')), models.When(models.Q(('detected_type', 'application/pdf'), models.Q(('detected_type', ''), ('content_type', 'application/pdf')), _connector='OR'), then=models.Value('pdf')), models.When(models.Q(('detected_type__startswith', 'text/'), models.Q(('detected_type', ''), models.Q(('content_type__startswith', 'text/'), ('content_type__in', ['application/javascript', 'application/json', 'application/sql', 'application/toml', 'application/x-sh', 'application/x-yaml', 'application/xml', 'application/yaml']), _connector='OR')), _connector='OR'), then=models.Value('text')), default=models.Value('other')), output_field=models.CharField(choices=[('image', 'images'), ('pdf', 'PDFs'), ('text', 'text'), ('other', 'other')], max_length=5)),
        ),
    ]
