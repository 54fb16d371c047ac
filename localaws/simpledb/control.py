"""The control endpoint: read or change fault injection while the emulator runs.

`GET /_localaws/simpledb/faults` answers the settings as JSON; `POST` with form fields
`latency_ms`, `fail_rate`, `stale_read_rate` (any of them) changes them (an invalid value
is a 400 and changes nothing). The endpoint exists only when the emulator was started
with `--control`, and a request is signed with Signature Version 2 exactly like an API
call (its path is part of what is signed), so with keys set, only their holder can inject
faults. `change_faults()` is a client for it.
"""

import json
import logging
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from . import exceptions
from .auth import SIGNATURE_PARAMETERS

log = logging.getLogger("localaws.simpledb")

PATH = "/_localaws/simpledb/faults"
#: Parameters a signed request carries besides the settings (a query client adds Version).
NOT_SETTINGS = SIGNATURE_PARAMETERS | {"Version"}


class Control:
    """Answers control requests: `control(environ, read_params)` → (status, JSON object)."""

    def __init__(self, credentials, faults):
        self.credentials = credentials
        self.faults = faults

    def __call__(self, environ, read_params):
        if environ.get("PATH_INFO") != PATH:
            return 404, {"error": f"Unknown control path; the control endpoint is {PATH}."}
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "POST"):
            return 405, {"error": "Use GET to read the settings, POST to change them."}
        try:
            params = read_params(environ)
            self.credentials.verify(method, environ.get("HTTP_HOST", ""), PATH, params)
        except exceptions.SimpleDBError as error:
            return error.status, {"error": error.code, "message": error.text}
        settings = {name: value for name, value in params.items()
                    if name not in NOT_SETTINGS}
        if settings and method == "GET":
            return 400, {"error": "Use POST to change the settings."}
        try:
            self.faults.update(**settings)
        except ValueError as error:
            return 400, {"error": str(error)}
        if settings:
            log.info("faults changed: %s", self.faults.as_dict())
        return 200, self.faults.as_dict()


def change_faults(endpoint_url, access_key=None, secret_key=None, timeout=10, **settings):
    """POST `settings` to an emulator's control endpoint (GET if none); returns the
    resulting settings. Signed with botocore's own SigV2 signer when keys are given.

    Raises `RuntimeError` with the endpoint's answer if it refuses.
    """
    from botocore.auth import SigV2Auth  # the local stack's tools need botocore; sites do not
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    method = "POST" if settings else "GET"
    params = {name: str(value) for name, value in settings.items()}
    url = endpoint_url.rstrip("/") + PATH
    if access_key is not None:
        request = AWSRequest(method=method, url=url, data=params, params={})
        SigV2Auth(Credentials(access_key, secret_key)).add_auth(request)
        params = dict(request.data or request.params)  # the signer fills one of them
    body = urlencode(params).encode("ascii")
    http = (Request(url, data=body, method="POST",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
            if method == "POST" else Request(f"{url}?{body.decode()}", method="GET"))
    try:
        with urlopen(http, timeout=timeout) as response:
            return json.loads(response.read())
    except HTTPError as error:
        raise RuntimeError(f"{error.code}: {error.read().decode('utf-8', 'replace')}") from None
