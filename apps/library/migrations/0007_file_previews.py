from django.db import migrations, models


class Migration(migrations.Migration):
    """Previews: a state, a thumbnail's key, a text file's first lines, a note.

    Files uploaded before previews existed get none, with a note saying so, rather than a
    pending preview that no task would make; the admin's "Rebuild previews" action makes
    them. New files start pending.
    """

    dependencies = [
        ('library', '0006_public_id_unique'),
    ]

    operations = [
        # Step 1: the columns, filled for the rows already there.
        migrations.AddField(
            model_name='file',
            name='preview_state',
            field=models.CharField(choices=[('pending', 'being made'), ('ready', 'ready'), ('none', 'none')], default='none', max_length=8),
        ),
        migrations.AddField(
            model_name='file',
            name='preview_note',
            field=models.CharField(blank=True, default='uploaded before previews', help_text='Why there is no preview, for its owner.', max_length=100),
        ),
        migrations.AddField(
            model_name='file',
            name='preview_key',
            field=models.CharField(blank=True, help_text='The thumbnail\'s key in the media bucket, under previews/.', max_length=255, verbose_name="preview's key"),
        ),
        migrations.AddField(
            model_name='file',
            name='preview_text',
            field=models.TextField(blank=True, help_text="A text file's first lines."),
        ),
        # Step 2: the defaults for new rows.
        migrations.AlterField(
            model_name='file',
            name='preview_state',
            field=models.CharField(choices=[('pending', 'being made'), ('ready', 'ready'), ('none', 'none')], default='pending', max_length=8),
        ),
        migrations.AlterField(
            model_name='file',
            name='preview_note',
            field=models.CharField(blank=True, help_text='Why there is no preview, for its owner.', max_length=100),
        ),
    ]
