"""Liveness and readiness for the load balancer and Auto Scaling, the favicon, the 500 page."""

import os
import sys
from functools import cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

from .checks import run_checks
from .middleware import is_unavailable

#: How long browsers may keep the favicon (it changes with a deploy, if ever).
FAVICON_MAX_AGE = 24 * 3600


# HEAD as well as GET: uptime checkers and some load balancers probe with HEAD.
@never_cache
@require_safe
def healthz(request):
    """Alive: the process answers. No network calls, so a slow dependency never kills nodes."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_safe
def readyz(request):
    """Ready: database, S3, SQS and the state store (SimpleDB or DynamoDB) all answer; 503
    naming what failed otherwise.

    A draining node (its `STRATUS_DRAIN_FILE` exists) is 503 at once, checking nothing: the
    balancer takes it out of service while it finishes the requests it has, and probing a
    node on its way out costs the services nothing.
    """
    if settings.STRATUS_DRAIN_FILE and os.path.exists(settings.STRATUS_DRAIN_FILE):
        return JsonResponse({"status": "draining"}, status=503)
    results = run_checks()
    failed = sorted(name for name, result in results.items() if result != "ok")
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


@cache
def _favicon_bytes():
    # From the project's static files on this node's disk (they ship with the code), so
    # /favicon.ico needs no network call whether static files are served locally or by a CDN.
    with open(finders.find("favicon.ico"), "rb") as icon:
        return icon.read()


@cache_control(public=True, max_age=FAVICON_MAX_AGE)
@require_safe
def favicon(request):
    """/favicon.ico, which browsers ask for on every page that names no icon (the admin's)."""
    return HttpResponse(_favicon_bytes(), content_type="image/vnd.microsoft.icon")


def server_error(request):
    """The 500 handler: a failure that is an AWS service being unreachable is a 503.

    Errors raised by middleware (the session engine saving a session, say) never reach
    `ServiceUnavailableMiddleware`; they all come here.
    """
    if is_unavailable(sys.exception()):
        return render(request, "503.html", status=503)
    return render(request, "500.html", status=500)
