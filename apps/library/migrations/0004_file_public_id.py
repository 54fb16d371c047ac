from django.db import migrations, models


class Migration(migrations.Migration):
    """Step 1 of 3 of the public id (Django's recipe for a unique field on existing rows):
    the column, empty, without its unique index yet."""

    dependencies = [
        ('library', '0003_original_name_as_given'),
    ]

    operations = [
        migrations.AddField(
            model_name='file',
            name='public_id',
            field=models.CharField(editable=False, max_length=22, null=True),
        ),
    ]
