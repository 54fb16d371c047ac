"""One account per email address, in the database itself.

The sign-up form checks the address first, but two sign-ups with one address can both pass
that check before either is saved; this index lets only one of them in. Case-insensitive,
as the form and the password reset compare addresses; accounts without an address (made
in the admin or before sign-up asked for one) are not constrained. Django's user model is
not ours, so the index is plain SQL that PostgreSQL and SQLite both accept.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(
            "CREATE UNIQUE INDEX accounts_user_email_unique ON auth_user (LOWER(email)) "
            "WHERE email <> ''",
            reverse_sql="DROP INDEX accounts_user_email_unique",
        ),
    ]
