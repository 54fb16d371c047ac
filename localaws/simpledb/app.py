"""The WSGI application: routing, request decoding, authentication and fault injection.

Routes:
- `POST /` (or `GET /?...`): the SimpleDB query API, answered by `responses.Responses`.
  A request is authenticated first; only then are injected latency and failures applied
  (an unsigned call is refused with 403 whatever the failure rate).
- `/_localaws/simpledb/faults`: the control endpoint (`control.py`), served only when the
  emulator was started with it, and signed like any API call.
"""

import json
import logging
import re
import time
import uuid
from http import HTTPStatus
from urllib.parse import parse_qsl

from ..logs import level_for, request_logger
from . import exceptions
from .auth import Credentials
from .control import Control
from .faults import Faults
from .responses import Responses, error_xml

log = logging.getLogger("localaws.simpledb")
request_log = request_logger("simpledb")
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


def request_params(environ):
    """The query parameters of a request: its form body (POST) or its query string (GET)."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method == "POST":
        return _decode_params(_read_body(environ))
    if method == "GET":
        return _decode_params(environ.get("QUERY_STRING", "").encode("latin-1"))
    raise exceptions.InvalidHttpRequest(
        f"The HTTP request is invalid: method {_loggable(method)} is not supported."
    )


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

    def __init__(self, backend, credentials=None, faults=None, control=False):
        self.backend = backend
        self.credentials = credentials or Credentials()
        self.faults = faults or Faults()
        self.responses = Responses(backend, self.faults)
        self.control = Control(self.credentials, self.faults) if control else None

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "/").startswith("/_localaws/"):
            if self.control is None:
                status, body = 404, {"error": "The control endpoint is off: start the "
                                              "emulator with --control to use it."}
            else:
                status, body = self.control(environ, request_params)
            payload = json.dumps(body).encode("utf-8")
            content_type = "application/json"
            request_log.log(level_for(status), "control method=%s status=%s",
                            _loggable(environ.get("REQUEST_METHOD")), status)
        else:
            status, text = self.api(environ)
            payload, content_type = text.encode("utf-8"), "text/xml"
        start_response(f"{status} {HTTPStatus(status).phrase}",
                       [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
        return [payload]

    def api(self, environ):
        """(HTTP status, XML body) of one SimpleDB API request."""
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        params = {}
        try:
            params = request_params(environ)
            self.credentials.verify(environ.get("REQUEST_METHOD", "GET"),
                                    environ.get("HTTP_HOST", ""),
                                    environ.get("PATH_INFO") or "/", params)
            self.faults.delay()
            if self.faults.should_fail():
                raise exceptions.ServiceUnavailable()
            body, code = self.responses.dispatch(params), 200
        except exceptions.SimpleDBError as error:
            body, code = error_xml(error, request_id), error.status
        except Exception:
            log.exception("request_id=%s action=%s internal error", request_id,
                          _loggable(params.get("Action")))
            error = exceptions.InternalError()
            body, code = error_xml(error, request_id), error.status
        request_log.log(
            level_for(code), "action=%s domain=%s status=%s ms=%.1f request_id=%s",
            _loggable(params.get("Action")), _loggable(params.get("DomainName")), code,
            (time.monotonic() - started) * 1000, request_id,
        )
        return code, body
