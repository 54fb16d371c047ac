"""`manage.py create_demo_user`: a superuser to try the site with, in local mode only."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

USERNAME = "demo"


class Command(BaseCommand):
    help = "Create (or reset) the local demo superuser 'demo' and print its password."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("create_demo_user only runs in local mode, never in production.")
        password = secrets.token_urlsafe(9)
        user, created = get_user_model().objects.get_or_create(username=USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(
            f"Demo superuser {'created' if created else 'reset'}: "
            f"username {USERNAME}, password {password} (log in at {settings.SITE_URL}/accounts/login/"
            f" or {settings.SITE_URL}/admin/)"
        )
