"""What both session engines (SimpleDB's and DynamoDB's) do alike: the keys they accept,
loading a session by one consistent read, and creating one by a conditional write under a
fresh key."""

import hashlib
import math

from django.contrib.sessions.backends.base import (
    VALID_KEY_CHARS,
    CreateError,
    SessionBase,
    UpdateError,
)
from django.utils.crypto import get_random_string

#: How many fresh keys `create()` tries before giving up. Django's keys are 32 characters
#: of 36 (165 bits): one taken key is already a near-impossibility.
CREATE_ATTEMPTS = 10
#: Length of the keys `create()` makes (Django's own choice).
KEY_LENGTH = 32
#: The longest cookie looked up: SimpleDB names an item by at most 1,024 bytes (DynamoDB's
#: partition key allows 2,048); the engines make 32-character keys, all ASCII.
MAX_KEY_LENGTH = 1024

_KEY_CHARS = frozenset(VALID_KEY_CHARS)


def fingerprint(session_key):
    """What logs say instead of a session key, which is a credential."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:12]


class ConditionalCreateSessionStore(SessionBase):
    """A SessionBase whose `save(must_create=True)` is a conditional write that raises
    CreateError when the key is taken; subclasses name their store in `store_name`, read a
    session's stored form with `_read(key)` (one consistent read) and turn it into the
    encoded session, or None, with `_readable_data(stored)`; `_write(encoded, expiry,
    must_create)` is one conditional write (False when its condition fails: the key is
    taken, or gone), `_remove(key)` one delete."""

    #: The store, for the message when every fresh key is refused.
    store_name = "the session store"

    def _validate_session_key(self, key):
        """Django's rule (at least 8 characters) and only keys this engine could have made.

        Keys these stores make are lowercase letters and digits (VALID_KEY_CHARS); a cookie
        holding anything else cannot name one of our sessions, so it is no session (and
        costs no call) rather than a name the store would refuse.
        """
        return (isinstance(key, str) and 8 <= len(key) <= MAX_KEY_LENGTH
                and _KEY_CHARS.issuperset(key))

    def load(self):
        if self.session_key is None:
            return {}
        data = self._readable_data(self._read(self.session_key))
        if data is None:
            # Gone, expired or unreadable: a new session, with a new key when saved.
            self._session_key = None
            return {}
        return self.decode(data)

    def save(self, must_create=False):
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        if self.session_key is None:
            # Loading it just now found the session gone: there is nothing to update.
            raise UpdateError
        expiry = math.ceil(self.get_expiry_date().timestamp())
        if not self._write(self.encode(data), expiry, must_create):
            raise CreateError if must_create else UpdateError

    def delete(self, session_key=None):
        if session_key is None:
            session_key = self.session_key
        if not self._validate_session_key(session_key):
            return  # no item can have that key
        self._remove(session_key)

    def create(self):
        for _ in range(CREATE_ATTEMPTS):
            # No exists() first: the conditional write is the check, in the same call.
            self._session_key = get_random_string(KEY_LENGTH, VALID_KEY_CHARS)
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError(
            f"Unable to create a new session key: {CREATE_ATTEMPTS} fresh keys were all "
            f"refused as taken by {self.store_name}. It is likely that its conditional "
            f"writes are failing."
        )
