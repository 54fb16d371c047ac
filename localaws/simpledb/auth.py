"""AWS Signature Version 2, verified on the server side.

The client signs `METHOD\\nhost\\npath\\n` followed by every parameter except `Signature`,
sorted by name and percent-encoded per RFC 3986, with HMAC-SHA256 (or HMAC-SHA1) of its
secret key. We decode the form, rebuild that string the same way, and compare.
"""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from . import exceptions

#: How far a request's Timestamp may be from the server's clock.
MAX_CLOCK_SKEW = timedelta(minutes=15)

_DIGESTS = {"HmacSHA256": hashlib.sha256, "HmacSHA1": hashlib.sha1}

#: Parameters that carry the signature rather than the request's meaning.
SIGNATURE_PARAMETERS = frozenset({
    "AWSAccessKeyId", "Signature", "SignatureVersion", "SignatureMethod", "Timestamp",
    "Expires", "SecurityToken",
})


def _encode(text):
    return quote(text, safe="-_.~")


def string_to_sign(method, host, path, params):
    """The canonical string SigV2 signs, from decoded parameters."""
    query = "&".join(
        f"{_encode(name)}={_encode(value)}"
        for name, value in sorted(
            ((n, v) for n, v in params.items() if n != "Signature"),
            key=lambda pair: pair[0].encode("utf-8"),
        )
    )
    return f"{method}\n{host}\n{path or '/'}\n{query}"


def sign(secret, method, host, path, params, algorithm="HmacSHA256"):
    """The base64 signature a client with `secret` would send."""
    digest = hmac.new(
        secret.encode("utf-8"),
        string_to_sign(method, host, path, params).encode("utf-8"),
        _DIGESTS[algorithm],
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def _parse_time(value, parameter):
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise exceptions.InvalidParameterValue(
            f"Value ({value}) for parameter {parameter} is invalid."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Credentials:
    """The access keys the emulator accepts; `None` accepts any request unsigned."""

    def __init__(self, keys=None):
        self.keys = dict(keys) if keys is not None else None

    @property
    def any(self):
        return self.keys is None

    def verify(self, method, host, path, params, now=None):
        """Raise the SimpleDB auth error a real endpoint would give this request, if any."""
        if self.any:
            return
        access_key = params.get("AWSAccessKeyId")
        if not access_key:
            raise exceptions.AuthMissingFailure()
        for name in ("Signature", "SignatureVersion", "SignatureMethod"):
            if not params.get(name):
                raise exceptions.IncompleteSignature(
                    f"Request must contain a signature that conforms to AWS standards: "
                    f"{name} is missing."
                )
        if params["SignatureVersion"] != "2":
            raise exceptions.InvalidParameterValue(
                f"Value ({params['SignatureVersion']}) for parameter SignatureVersion is invalid."
            )
        algorithm = params["SignatureMethod"]
        if algorithm not in _DIGESTS:
            raise exceptions.InvalidParameterValue(
                f"Value ({algorithm}) for parameter SignatureMethod is invalid."
            )
        self._check_time(params, now or datetime.now(UTC))
        secret = self.keys.get(access_key)
        if secret is None:
            raise exceptions.AuthFailure(
                "AWS was not able to validate the provided access credentials: "
                "unknown access key."
            )
        expected = sign(secret, method, host, path, params, algorithm)
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
            raise exceptions.AuthFailure(
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method."
            )

    @staticmethod
    def _check_time(params, now):
        if "Timestamp" in params:
            stamp = _parse_time(params["Timestamp"], "Timestamp")
            if abs(now - stamp) > MAX_CLOCK_SKEW:
                raise exceptions.RequestExpired(
                    f"Request has expired. Timestamp date is {params['Timestamp']}."
                )
        elif "Expires" in params:
            if _parse_time(params["Expires"], "Expires") < now:
                raise exceptions.RequestExpired(
                    f"Request has expired. Expires date is {params['Expires']}."
                )
        else:
            raise exceptions.MissingParameter(
                "The request must contain either a valid (registered) AWS access key ID or "
                "X.509 certificate: Timestamp or Expires is missing."
            )
