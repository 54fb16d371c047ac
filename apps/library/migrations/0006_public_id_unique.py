import apps.library.models
from django.db import migrations, models


class Migration(migrations.Migration):
    """Step 3 of 3: every file has a public id; make it required and unique (its index
    serves every library URL's lookup)."""

    dependencies = [
        ('library', '0005_backfill_public_ids'),
    ]

    operations = [
        migrations.AlterField(
            model_name='file',
            name='public_id',
            field=models.CharField(default=apps.library.models.new_public_id, editable=False, max_length=22, unique=True),
        ),
    ]
