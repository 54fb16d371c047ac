"""Password guesses on share links, limited as log-in attempts are (apps.accounts.lockout).

The same rules, limits and store as the log-in throttle, on counters of their own:
- per (link, address): STRATUS_LOGIN_ATTEMPTS guesses; a guesser locks out only their own
  guesses at that link, and the people it was sent to still get in from their addresses;
- per address, over every link: STRATUS_LOGIN_ADDRESS_ATTEMPTS guesses, which bounds one
  address guessing across many links.

A guess is counted on arrival, before its password is checked, so racing guesses cannot all
slip under the limit; a guess over a limit checks no password. A right password clears its
pair's counter and gives back its count on the address. Each counter lives
STRATUS_LOGIN_WINDOW seconds from its first guess, in the log-in throttle's cache
(AXES_CACHE: consistent reads, errors raised), so it holds on every node and fails closed:
a store outage is a 503, never an unthrottled guess. An address that cannot be told (no
usable REMOTE_ADDR) is counted per link alone.
"""

import hashlib
import json

from django.conf import settings
from django.core.cache import caches

from apps.accounts.addresses import client_ip, counted_block
from storage_backends.simpledb.cache import Contended

KEY_PREFIX = "sharing:password-guesses"
#: How often counting is retried when a counter vanishes between add and incr (its window
#: ending at that instant): once more is nearly always enough.
_CREATE_ATTEMPTS = 3


class Guesses:
    """The counters of one visitor's guesses at one link."""

    def __init__(self, request, link):
        address = client_ip(request)
        block = counted_block(address) if address else ""
        self.keys = {"pair": _key("pair", link.public_id, block)}
        self.limits = {"pair": settings.STRATUS_LOGIN_ATTEMPTS}
        if block:
            self.keys["address"] = _key("address", block)
            self.limits["address"] = settings.STRATUS_LOGIN_ADDRESS_ATTEMPTS

    @property
    def cache(self):
        return caches[settings.AXES_CACHE]

    def admit(self):
        """Count a guess, if no limit is reached; whether its password may be checked."""
        seen = self.cache.get_many(list(self.keys.values()))
        if any(seen.get(key, 0) >= self.limits[name] for name, key in self.keys.items()):
            return False
        counted = []
        for name, key in self.keys.items():
            if self._count(key, exists=key in seen) > self.limits[name]:
                for key in counted:  # raced past the read: give back what was in limits
                    self._give_back(key)
                return False
            counted.append(key)
        return True

    def succeeded(self):
        """The right password: those guesses were the recipient's own."""
        self.cache.delete(self.keys["pair"])
        if "address" in self.keys:
            self._give_back(self.keys["address"])

    def _count(self, key, exists):
        for _ in range(_CREATE_ATTEMPTS):
            if exists:
                try:
                    return self.cache.incr(key)
                except ValueError:
                    pass  # its window ended: start a new one
            if self.cache.add(key, 1, timeout=settings.STRATUS_LOGIN_WINDOW):
                return 1
            exists = True
        raise Contended(f"Could not count a share password guess under {key}.")

    def _give_back(self, key):
        try:
            self.cache.decr(key)
        except ValueError:
            pass  # its window ended meanwhile


def _key(*parts):
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return f"{KEY_PREFIX}:{digest}"
