"""NextTokens: opaque to clients, signed, and bound to what they continue.

A token carries a purpose (`list-domains`, or a Select's domain and query digest) and a
position; it is base64 JSON with an HMAC made with a secret kept in the database, so tokens
survive a restart and a tampered or foreign token is `InvalidNextToken`, never a crash.
"""

import base64
import hashlib
import hmac
import json

from . import exceptions


class Tokens:
    """Makes and checks the NextTokens of one emulated account."""

    def __init__(self, secret):
        self._secret = secret

    def _sign(self, payload):
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def encode(self, purpose, position):
        payload = base64.urlsafe_b64encode(
            json.dumps([purpose, position], separators=(",", ":")).encode()
        ).decode()
        return payload + "." + self._sign(payload)

    def decode(self, token, purpose):
        """The position a token continues from, if it was made for `purpose`."""
        try:
            payload, signature = token.rsplit(".", 1)
            if not hmac.compare_digest(self._sign(payload), signature):
                raise ValueError("bad signature")
            token_purpose, position = json.loads(base64.urlsafe_b64decode(payload))
        except (ValueError, TypeError, UnicodeError):
            raise exceptions.InvalidNextToken() from None
        if token_purpose != purpose:
            raise exceptions.InvalidNextToken()
        return position
