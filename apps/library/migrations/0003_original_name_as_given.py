from django.db import migrations, models


class Migration(migrations.Migration):
    """original_name now keeps the name as the user gave it (only the S3 key is sanitised).

    No data changes: existing rows keep the name they have, their sanitised one, which
    is all that is left of what their users gave.
    """

    dependencies = [
        ('library', '0002_file_facts'),
    ]

    operations = [
        migrations.AlterField(
            model_name='file',
            name='original_name',
            field=models.CharField(help_text="The file's name as its user gave it; the S3 key holds a sanitised form.", max_length=255),
        ),
    ]
