"""Request ids for logs, bounded request bodies, and the 503 page when AWS cannot be reached."""

import logging
import re
import uuid

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.contrib.auth import SESSION_KEY
from django.http import JsonResponse
from django.shortcuts import render

from storage_backends.simpledb.cache import Contended
from storage_backends.simpledb.client import Unavailable

from . import bodies
from .logging import request_id

log = logging.getLogger(__name__)

#: What a script is told when an AWS service cannot be reached (the 503 page says as much).
UNAVAILABLE_MESSAGE = ("A service the site depends on cannot be reached right now. Please try "
                       "again in a moment.")

#: An id from the load balancer (X-Request-ID) is kept if it looks like one.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:=-]{1,128}")


class RequestIdMiddleware:
    """Gives each request an id, logs carry it, and the response's X-Request-ID returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        current = incoming if _ACCEPTABLE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(current)
        request.request_id = current
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = current
        return response


class RequestBodyLimitMiddleware:
    """A body over its URL's limit is the 413 page, and is never read past that limit.

    Before every middleware that may read the body (after the session, which says whether
    the user is logged in: only they get the upload form's limit):
    CsrfViewMiddleware reads request.POST (so the whole body, spooled to a temporary file)
    before any view could refuse it. A declared Content-Length over
    the limit is refused here without reading a byte; otherwise the body's stream is
    bounded and `bodies.BoundedUploadHandler` bounds each file (see `apps.ops.bodies`).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.default_limit, self.path_limits = bodies.limits()

    def __call__(self, request):
        limit = self.path_limits.get(request.path_info, self.default_limit)
        if limit > self.default_limit and SESSION_KEY not in request.session:
            # Only a logged-in user may upload: anyone else gets the small limit, so an
            # anonymous 100 MB POST is refused here, not spooled to disk by the CSRF check.
            limit = self.default_limit
        length = bodies.declared_length(request)
        if length > limit:
            return self.refused(request)
        # HttpRequest reads its body (request.body, request.POST, request.read()) from
        # _stream; bounding it there bounds every way of reading.
        request._stream = bodies.BoundedStream(request, request._stream, limit)
        response = self.get_response(request)
        if request.META.get(bodies.STOPPED):
            # Django answered RequestBodyTooLarge with its 400 page; the answer is a 413.
            return self.refused(request)
        return response

    @staticmethod
    def refused(request):
        # Logged once, as every 4xx is, by django.request.
        return render(request, "413.html", bodies.error_page_context(), status=413)


def is_unavailable(error):
    """Whether an exception means an AWS service could not be reached or failed on its side,
    or that a cache entry could not be changed now (`Contended`: other writers kept winning
    its compare-and-swap; a retry later may succeed, as after any 503)."""
    if isinstance(error, (Unavailable, Contended)):
        return True
    # Refused or timed-out connections, and connections dropped or timed out mid-read.
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500
    return False


class ServiceUnavailableMiddleware:
    """An AWS dependency that is down is a 503 page for the user, never a traceback."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_unavailable(exception):
            return None
        log.error("AWS dependency unavailable: %s: %s", type(exception).__name__, exception)
        if "application/json" in request.headers.get("Accept", ""):
            # A script's call (the uploader's): an answer it can show, not a page.
            return JsonResponse({"error": UNAVAILABLE_MESSAGE, "code": "unavailable"},
                                status=503)
        return render(request, "503.html", status=503)
