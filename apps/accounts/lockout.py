"""Failed log-ins counted per (username, address) pair and per address: django-axes's handler.

django-axes does the wiring: its backend (``backends.LoginThrottleBackend``, first in
AUTHENTICATION_BACKENDS) asks this handler before every ``authenticate()`` whether the
attempt is locked out, Django's ``user_login_failed`` signal reaches it after each failure,
and AxesMiddleware turns a lock-out into the lock-out page (``views.locked_out``). So the
site's log-in page, the admin's, and any other ``authenticate()`` are throttled alike.

Axes's own cache handler compares every counter with one limit, restarts the window on
every failure (a ``touch``: two more calls each), and keys a pair by username and address
joined with no separator, so that "bob20" failing from 3.0.113.5 would lock out "bob" at
203.0.113.5. This handler keeps axes's contract (AbstractAxesHandler) with two limits:

- **pair**: a (username, address) pair is locked after STRATUS_LOGIN_ATTEMPTS failures.
  A guesser locks out only their own attempts at that account; the account's owner, from
  an address that has not failed for it, still gets in.
- **address**: an address is locked, for every username, after
  STRATUS_LOGIN_ADDRESS_ATTEMPTS failures, much higher, since many people may share one
  address (an office, a carrier's NAT). It bounds guessing across many accounts.

Each counter is a cache entry that ``add`` creates with STRATUS_LOGIN_WINDOW as its timeout
and ``incr`` raises (keeping the expiry): the window starts at the first failure and the
count is gone when it ends. A refused attempt checks no password and is not counted. A
successful log-in clears its pair (those failures were the owner's), never the address
(else one valid account would reset an address between guesses at others). An attempt
whose address is unknown (REMOTE_ADDR unusable and no trusted proxy header) is counted by
username alone, with no address counter. An IPv6 address counts as its /64.

**Fails closed.** The cache (AXES_CACHE) must read consistently and raise on errors
(``checks.py`` says so at start-up): a lock-out check or a count that cannot be made raises,
and ServiceUnavailableMiddleware answers the 503 page. Nothing is ever read as "not locked"
because the store did not answer.

**Cache calls** per attempt: the check, one ``get_many``; a failure, per counter one
``add``, then when the counter exists one ``incr`` (on SimpleDB: one call for a new
counter, four for an existing one); a success after failures, one ``delete``.
"""

import hashlib
import json
import logging

from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from axes.helpers import get_client_username
from axes.signals import user_locked_out
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from .addresses import counted_block

log = logging.getLogger(__name__)

#: The only AXES_LOCKOUT_PARAMETERS this handler implements (axes logs and checks it).
LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]

#: Prefix of every counter's cache key; the rest is a SHA-256 hex digest, so keys are short
#: and safe whatever the username holds.
KEY_PREFIX = "accounts:login-failures"

#: How often a counter is re-created when it expires between ``add`` and ``incr``. Each
#: retry needs the key to expire within milliseconds again, so two is plenty.
_CREATE_ATTEMPTS = 2


class LoginFailureHandler(AbstractAxesHandler, AxesBaseHandler):
    """Counts failed log-ins per (username, address) and per address, each with its limit."""

    def __init__(self):
        self.cache = caches[settings.AXES_CACHE]
        self.pair_limit = _whole_setting("STRATUS_LOGIN_ATTEMPTS")
        self.address_limit = _whole_setting("STRATUS_LOGIN_ADDRESS_ATTEMPTS")
        self.window = _whole_setting("STRATUS_LOGIN_WINDOW")
        if self.address_limit < self.pair_limit:
            raise ImproperlyConfigured(
                f"STRATUS_LOGIN_ADDRESS_ATTEMPTS ({self.address_limit}) must be at least "
                f"STRATUS_LOGIN_ATTEMPTS ({self.pair_limit}): an address is shared by many "
                f"people, so its limit is the higher one."
            )
        if settings.AXES_LOCKOUT_PARAMETERS != LOCKOUT_PARAMETERS:
            raise ImproperlyConfigured(
                f"{type(self).__name__} counts by AXES_LOCKOUT_PARAMETERS = "
                f"{LOCKOUT_PARAMETERS!r} only, not {settings.AXES_LOCKOUT_PARAMETERS!r}."
            )

    # -- the check (before a password is tried) ------------------------------------------
    def is_locked(self, request, credentials=None):
        """Whether the attempt's pair or address has reached its limit: one consistent read."""
        username, address = _attempt(request, credentials)
        keys = _keys(username, address)
        counts = self.cache.get_many(list(keys.values()))
        pair = counts.get(keys["pair"], 0)
        by_address = counts.get(keys["address"], 0) if "address" in keys else 0
        # A success clears the pair's counter only if there was one (a call saved per log-in).
        request.stratus_pair_failures = pair
        if pair >= self.pair_limit or by_address >= self.address_limit:
            log.warning("login refused reason=locked username=%.150r address=%s "
                        "pair_failures=%d address_failures=%d",
                        username, address, pair, by_address)
            return True
        return False

    def get_failures(self, request, credentials=None):
        """The attempt's pair's failures (the limits differ, so is_locked compares both)."""
        username, address = _attempt(request, credentials)
        return self.cache.get(_keys(username, address)["pair"], 0)

    # -- Django's auth signals -----------------------------------------------------------
    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        """Count a failure for the pair and the address; lock out at either's limit."""
        if request is None:
            # The backend refuses authenticate() without a request before any password
            # is checked, so no guess can arrive here uncounted.
            return
        if request.axes_locked_out:
            return  # refused by the check: no password was tried, nothing to count
        if self.is_whitelisted(request, credentials):
            return
        username, address = _attempt(request, credentials)
        keys = _keys(username, address)
        pair = self._count(keys["pair"])
        by_address = self._count(keys["address"]) if "address" in keys else 0
        request.axes_failures_since_start = pair
        log.warning("login failed username=%.150r address=%s pair_failures=%d/%d "
                    "address_failures=%d/%d", username, address, pair, self.pair_limit,
                    by_address, self.address_limit)
        if pair >= self.pair_limit or by_address >= self.address_limit:
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=username,
                                 ip_address=address)

    def user_logged_in(self, sender, request, user, **kwargs):
        """Clear the pair's failures: they were the owner's own typing."""
        if getattr(request, "stratus_pair_failures", 0):
            self.cache.delete(_keys(user.get_username(), request.axes_ip_address)["pair"])

    def user_logged_out(self, sender, request, user, **kwargs):
        """Nothing to count."""

    # -- axes's reset commands (axes_reset_ip, axes_reset_ip_username) --------------------
    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False):
        """Forget a pair's failures (address and username) or an address's (address alone).

        A cache cannot list the pairs of a username, so a username alone cannot be reset.
        """
        if ip_or_username or not ip_address:
            raise NotImplementedError(
                "Log-in failures are reset by address (axes_reset_ip) or by address and "
                "username (axes_reset_ip_username): the cache cannot list a username's pairs."
            )
        keys = _keys(username, ip_address)
        return int(bool(self.cache.delete(keys["pair"] if username else keys["address"])))

    def _count(self, key):
        for _ in range(_CREATE_ATTEMPTS):
            # add() creates the counter atomically; when it exists already, incr() raises it.
            if self.cache.add(key, 1, timeout=self.window):
                return 1
            try:
                return self.cache.incr(key)
            except ValueError:
                continue  # it expired between add() and incr(): start a new window
        raise RuntimeError(f"Could not count a failed log-in under {key}: it keeps expiring.")


def _attempt(request, credentials):
    """(username, address) of an attempt; the address is None when it cannot be told."""
    return get_client_username(request, credentials), request.axes_ip_address


def _keys(username, address):
    """{"pair": key, "address": key (only when the address is known)}.

    Usernames are compared case-insensitively, so "Alice" and "alice" share a counter;
    an IPv6 address counts as its /64 (addresses.counted_block).
    Each key hashes its parts as a JSON list, so no username can be spelled to collide
    with another pair's key.
    """
    block = counted_block(address) if address else ""
    keys = {"pair": _key("pair", (username or "").casefold(), block)}
    if block:
        keys["address"] = _key("address", block)
    return keys


def _key(*parts):
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return f"{KEY_PREFIX}:{digest}"


def _whole_setting(name):
    value = getattr(settings, name)
    # bool is an int, but True attempts is surely a mistake.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number of at least 1, not {value!r}.")
    return value
