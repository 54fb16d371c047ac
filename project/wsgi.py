"""WSGI entry point for gunicorn (`project.wsgi:application`)."""

import os

from django.core.wsgi import get_wsgi_application

from apps.ops.forwarded import FromNodeProxy

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Behind the node's own nginx, the client's address comes back to REMOTE_ADDR.
application = FromNodeProxy(get_wsgi_application())
