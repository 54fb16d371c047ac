"""Liveness and readiness for the load balancer and Auto Scaling."""

import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .checks import run_checks
from .middleware import is_unavailable


@never_cache
@require_GET
def healthz(request):
    """Alive: the process answers. No network calls, so a slow dependency never kills nodes."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
def readyz(request):
    """Ready: database, S3, SQS and SimpleDB all answer; 503 naming what failed otherwise."""
    results = run_checks()
    failed = sorted(name for name, result in results.items() if result != "ok")
    body = {"status": "ok" if not failed else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)


def server_error(request):
    """The 500 handler: a failure that is an AWS service being unreachable is a 503.

    Errors raised by middleware (the session engine saving a session, say) never reach
    `ServiceUnavailableMiddleware`; they all come here.
    """
    if is_unavailable(sys.exception()):
        return render(request, "503.html", status=503)
    return render(request, "500.html", status=500)
