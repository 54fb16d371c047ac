"""The WSGI application: routing, request decoding, authentication and fault injection.

Routes:
- `POST /` (or `GET /?...`): the SimpleDB query API, answered by `responses.Responses`.
- `GET /_localaws/simpledb/faults`: the current injection settings as JSON.
- `POST /_localaws/simpledb/faults` with a JSON object: change any of `latency_ms`,
  `fail_rate`, `stale_read_rate` at run time.
"""

import json
import re
from http import HTTPStatus
import logging
import time
import uuid
from urllib.parse import parse_qsl

from . import exceptions
from .auth import Credentials
from .faults import Faults
from .responses import Responses, error_xml

log = logging.getLogger("localaws.simpledb")

CONTROL_PATH = "/_localaws/simpledb/faults"
#: Largest request body accepted (a BatchPutAttributes is at most 1 MB of data, which
#: percent-encoding can triple).
MAX_BODY_BYTES = 4 * 1024 * 1024


def _read_body(environ):
    too_large = exceptions.InvalidHttpRequest(
        f"The HTTP request is invalid: the body exceeds {MAX_BODY_BYTES} bytes."
    )
    if not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
        body = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)  # a chunked body
        if len(body) > MAX_BODY_BYTES:
            raise too_large
        return body
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise exceptions.InvalidHttpRequest("The HTTP request is invalid: bad Content-Length.") from None
    if length > MAX_BODY_BYTES:
        raise too_large
    return environ["wsgi.input"].read(length) if length else b""


def _loggable(text):
    """A parameter as one log token: no spaces or control characters can split the line."""
    return re.sub(r"[\s\x00-\x1f\x7f]", "?", text)[:100] if text else "-"


def _decode_params(raw):
    try:
        text = raw.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict")
    except (UnicodeError, ValueError):
        raise exceptions.InvalidHttpRequest(
            "The HTTP request is invalid: parameters are not URL-encoded UTF-8."
        ) from None
    return dict(pairs)


class SimpleDBApp:
    """A WSGI application emulating the SimpleDB endpoint of one account."""

    def __init__(self, backend, credentials=None, faults=None):
        self.backend = backend
        self.credentials = credentials or Credentials()
        self.faults = faults or Faults()
        self.responses = Responses(backend, self.faults)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "/").startswith("/_localaws/"):
            status, body, content_type = self.control(environ)
        else:
            status, body, content_type = self.api(environ)
        payload = body.encode("utf-8")
        start_response(status, [("Content-Type", content_type),
                                ("Content-Length", str(len(payload)))])
        return [payload]

    def api(self, environ):
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        method = environ.get("REQUEST_METHOD", "GET")
        params = {}
        try:
            if method == "POST":
                params = _decode_params(_read_body(environ))
            elif method == "GET":
                params = _decode_params(environ.get("QUERY_STRING", "").encode("latin-1"))
            else:
                raise exceptions.InvalidHttpRequest(
                    f"The HTTP request is invalid: method {method} is not supported."
                )
            self.faults.delay()
            if self.faults.should_fail():
                raise exceptions.ServiceUnavailable()
            self.credentials.verify(method, environ.get("HTTP_HOST", ""),
                                    environ.get("PATH_INFO") or "/", params)
            body, code = self.responses.dispatch(params), 200
        except exceptions.SimpleDBError as error:
            body, code = error_xml(error, request_id), error.status
        except Exception:
            log.exception("request_id=%s action=%s internal error", request_id,
                          params.get("Action"))
            error = exceptions.InternalError()
            body, code = error_xml(error, request_id), error.status
        log.info(
            "action=%s domain=%s status=%s ms=%.1f request_id=%s",
            _loggable(params.get("Action")), _loggable(params.get("DomainName")), code,
            (time.monotonic() - started) * 1000, request_id,
        )
        return f"{code} {HTTPStatus(code).phrase}", body, "text/xml"

    def control(self, environ):
        if environ.get("PATH_INFO") != CONTROL_PATH:
            return "404 Not Found", json.dumps({"error": "unknown control path"}), "application/json"
        method = environ.get("REQUEST_METHOD")
        if method == "POST":
            try:
                settings = json.loads(_read_body(environ) or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("expected a JSON object")
                self.faults.update(**settings)
            except (ValueError, TypeError, exceptions.SimpleDBError) as error:
                return "400 Bad Request", json.dumps({"error": str(error)}), "application/json"
            log.info("faults %s", self.faults.as_dict())
        elif method != "GET":
            return "405 Method Not Allowed", json.dumps({"error": "use GET or POST"}), \
                "application/json"
        return "200 OK", json.dumps(self.faults.as_dict()), "application/json"
