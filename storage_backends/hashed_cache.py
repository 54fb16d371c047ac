"""What the SimpleDB and DynamoDB caches share, whatever they store entries in.

Both check their settings the same way, name an entry's item by the SHA-256 of the key
Django makes (so any key of any length or script fits, and both stores name an entry
alike: `manage.py copy_state` relies on it), read the time through one method that tests
replace, and answer a failed call by ON_ERROR: raised, or logged and a miss.
"""

import hashlib
import math
import time

from django.core.cache.backends.base import BaseCache
from django.core.exceptions import ImproperlyConfigured

#: The longest KEY_PREFIX: it is stored in every entry, beside the value (and a SimpleDB
#: attribute value holds 1,024 bytes).
MAX_KEY_PREFIX_BYTES = 1024


class HashedEntriesCache(BaseCache):
    """A Django cache keeping each entry in one item named by its key's hash, in the domain
    or table named by LOCATION. Subclasses set the class attributes below and implement
    `_delete_items(names)` and `_discard_spilled(names)` for `delete_many`."""

    #: The store's name and what it calls LOCATION, for messages ("SimpleDB", "domain"),
    #: and the pattern of a valid LOCATION.
    store = None
    location_kind = None
    location_name = None
    #: The logger a failure is logged to, and what a failed call raises.
    logger = None
    failures = ()

    def __init__(self, location, params):
        name = type(self).__name__
        timeout = params.get("TIMEOUT", params.get("timeout", 300))
        if timeout is not None and (isinstance(timeout, bool) or
                                    not isinstance(timeout, (int, float))):
            raise ImproperlyConfigured(
                f"{name} TIMEOUT must be a number of seconds or None, not {timeout!r}.")
        super().__init__(params)
        if not isinstance(location, str) or not self.location_name.fullmatch(location):
            raise ImproperlyConfigured(
                f"{name} LOCATION must be a {self.store} {self.location_kind} name (3-255 of "
                f"a-z, A-Z, 0-9, '_', '-', '.'), not {location!r}.")
        if not isinstance(self.key_prefix, str) or \
                len(self.key_prefix.encode()) > MAX_KEY_PREFIX_BYTES:
            raise ImproperlyConfigured(
                f"{name} KEY_PREFIX must be a string of at most {MAX_KEY_PREFIX_BYTES} bytes.")
        if not isinstance(self.version, int) or isinstance(self.version, bool):
            raise ImproperlyConfigured(
                f"{name} VERSION must be an integer, not {self.version!r}.")
        self.location = location
        self._raise_errors = False  # set from ON_ERROR by the subclass

    def _now(self):
        """Seconds since the epoch (tests replace this to move time)."""
        return time.time()

    def _now_ms(self):
        return math.floor(self._now() * 1000)

    def _name(self, key, version):
        """The item name of `key`: the SHA-256 of the key Django makes from it."""
        made = self.make_and_validate_key(key, version=version)
        return hashlib.sha256(made.encode()).hexdigest()

    def _failed(self, operation, key, error, result):
        """`result` for a call that failed with `error`, or the error itself (ON_ERROR)."""
        if self._raise_errors:
            raise error
        self.logger.warning("cache %s failed: %s=%s key=%.200r error=%s: %s", operation,
                            self.location_kind, self.location, key, type(error).__name__,
                            error)
        return result

    def delete_many(self, keys, version=None):
        self._delete_many(keys, version)

    def _delete_many(self, keys, version):
        """Delete the keys' items; the keys that could not be deleted."""
        names = {self._name(key, version): key for key in keys}
        if not names:
            return []
        try:
            self._delete_items(list(names))
        except self.failures as error:
            return self._failed("delete_many", list(names.values()), error,
                                list(names.values()))
        self._discard_spilled(names)
        return []
