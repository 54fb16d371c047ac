"""Log-in attempts counted per (username, address) pair and per address: django-axes's handler.

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

**Counted on arrival.** An attempt is counted before its password is checked. The check
axes makes first (``is_locked``) reads both counters and refuses, writing nothing, an
attempt whose pair or address has reached its limit; otherwise it counts the attempt on
both, and refuses it if either new count is over its limit. Such a refused attempt checks
no password and uses up no attempt: a count it made within its limit is given back (a
count past a limit changes nothing, that counter refuses until its window ends). Counting
first makes the limit hold whatever the concurrency: N guesses racing for one pair each get
their own count, and only those within the limit have their password checked (when the
count came after the check, all N read "below the limit" first). A failed password adds
nothing more. A successful log-in clears its pair (those attempts were the owner's) and
gives back its count on the address, so successes never bring an address nearer its limit,
nor reset it (else one valid account would reset an address between guesses at others).

Each counter is a cache entry that ``add`` creates with STRATUS_LOGIN_WINDOW as its timeout
and ``incr`` raises (keeping the expiry): the window starts at the first attempt counted
and the count is gone when it ends; nothing extends it. An attempt whose address is unknown
(REMOTE_ADDR unusable and no trusted proxy header) is counted by username alone, with no
address counter. An IPv6 address counts as its /64.

**Fails closed.** The cache (AXES_CACHE) must read consistently and raise on errors
(``checks.py`` says so at start-up): a lock-out check or a count that cannot be made raises
(``Unavailable``, or ``Contended`` when other writers of a counter keep winning), and
ServiceUnavailableMiddleware answers the 503 page. Nothing is ever read as "not locked"
because the store did not answer, and an attempt that could not be counted checks no
password (what it had counted stays counted).

**Cache calls** per attempt: the check, one ``get_many``, all that an attempt refused there
costs; an attempt let through then counts on each counter with one ``incr`` when the read
saw the counter, else one ``add`` (on SimpleDB: two calls, or one; five calls in all when
both counters exist, three when neither does); a failure, nothing more; a success, one
``delete`` (pair) and one ``decr`` (address, two calls). An attempt that raced past the read
and is refused for its address gives its pair's count back (one ``decr``).
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

from storage_backends.simpledb.cache import Contended

from .addresses import counted_block

log = logging.getLogger(__name__)

#: The only AXES_LOCKOUT_PARAMETERS this handler implements (axes logs and checks it).
LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]

#: Prefix of every counter's cache key; the rest is a SHA-256 hex digest, so keys are short
#: and safe whatever the username holds.
KEY_PREFIX = "accounts:login-failures"

#: How often counting is tried when the counter vanishes between ``add`` and ``incr``. Each
#: retry needs it to vanish within milliseconds again (its window ending, or a success
#: clearing it), so three is plenty.
_CREATE_ATTEMPTS = 3


class LoginFailureHandler(AbstractAxesHandler, AxesBaseHandler):
    """Counts log-in attempts per (username, address) and per address, each with its limit."""

    def __init__(self):
        self.pair_limit = _whole_setting("STRATUS_LOGIN_ATTEMPTS")
        self.address_limit = _whole_setting("STRATUS_LOGIN_ADDRESS_ATTEMPTS")
        self.window = _whole_setting("STRATUS_LOGIN_WINDOW")
        if self.address_limit < self.pair_limit:
            raise ImproperlyConfigured(
                f"STRATUS_LOGIN_ADDRESS_ATTEMPTS ({self.address_limit}) must be at least "
                f"STRATUS_LOGIN_ATTEMPTS ({self.pair_limit}): an address is shared by many "
                f"people, so its limit is the higher one."
            )
        # Keyed as _keys() keys the counters.
        self.limits = {"pair": self.pair_limit, "address": self.address_limit}
        if settings.AXES_LOCKOUT_PARAMETERS != LOCKOUT_PARAMETERS:
            raise ImproperlyConfigured(
                f"{type(self).__name__} counts by AXES_LOCKOUT_PARAMETERS = "
                f"{LOCKOUT_PARAMETERS!r} only, not {settings.AXES_LOCKOUT_PARAMETERS!r}."
            )

    @property
    def cache(self):
        """The counters' cache, looked up on each use rather than held: Django keeps one
        per thread, and AXES_CACHE's store may change under an override."""
        return caches[settings.AXES_CACHE]

    # -- the check (before a password is tried): counts the attempt --------------------
    def is_locked(self, request, credentials=None):
        """Whether the attempt is refused; an attempt let through has been counted first.

        Axes's backend asks this before any password is checked (after its allow lists).
        """
        request.stratus_login_counted = None
        username, address = _attempt(request, credentials)
        keys = _keys(username, address)
        seen = self.cache.get_many(list(keys.values()))
        counts = {counter: seen.get(key, 0) for counter, key in keys.items()}
        if self._reached(counts):
            self._log_refused(username, address, counts)
            return True
        within_limits = []
        for counter, key in keys.items():
            counts[counter] = self._count(key, exists=key in seen)
            if counts[counter] > self.limits[counter]:
                # Others raced past the read and took the last attempts: refused. A count
                # past its limit changes nothing (that counter refuses until its window
                # ends); one within its limit would use up an attempt, so it is given back.
                for counted in within_limits:
                    self._give_back(counted)
                self._log_refused(username, address, counts)
                return True
            within_limits.append(key)
        request.stratus_login_counted = (keys, counts)
        return False

    def get_failures(self, request, credentials=None):
        """The attempt's pair's count (the limits differ, so is_locked compares both)."""
        username, address = _attempt(request, credentials)
        return self.cache.get(_keys(username, address)["pair"], 0)

    # -- Django's auth signals -----------------------------------------------------------
    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        """Nothing more to count (the check counted it); lock out if it was the last attempt."""
        # None when the check refused the attempt or never ran: a request on an allow list,
        # or none at all (then the backend refused authenticate() before any password).
        counted = _take_counted(request)
        if counted is None:
            return
        _, counts = counted
        username, address = _attempt(request, credentials)
        request.axes_failures_since_start = counts["pair"]
        log.warning("login failed username=%.150r address=%s pair_failures=%d/%d "
                    "address_failures=%d/%d", username, address, counts["pair"],
                    self.pair_limit, counts.get("address", 0), self.address_limit)
        if self._reached(counts):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=username,
                                 ip_address=address)

    def user_logged_in(self, sender, request, user, **kwargs):
        """Clear the pair's count (the owner's own typing) and give back the address's."""
        counted = _take_counted(request)
        if counted is None:
            return  # logged in without authenticate() (sign-up): nothing was counted
        keys, _ = counted
        self.cache.delete(keys["pair"])
        if "address" in keys:
            self._give_back(keys["address"])

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

    def _reached(self, counts):
        return any(count >= self.limits[counter] for counter, count in counts.items())

    def _count(self, key, exists):
        """Count an attempt under `key` and return the new count. `exists`: whether the check
        saw the counter (then ``incr`` first, else ``add`` first: the call that usually works)."""
        for _ in range(_CREATE_ATTEMPTS):
            if exists:
                try:
                    return self.cache.incr(key)
                except ValueError:
                    pass  # its window ended, or a success cleared it: start a new one
            # add() creates the counter atomically, or refuses when another attempt did.
            if self.cache.add(key, 1, timeout=self.window):
                return 1
            exists = True
        raise Contended(f"Could not count a log-in attempt under {key}: other attempts keep "
                        f"creating and clearing it.")

    def _give_back(self, key):
        """Take one attempt off `key`'s count, if the counter is still there."""
        try:
            self.cache.decr(key)
        except ValueError:
            pass  # its window ended meanwhile: nothing left to give back

    @staticmethod
    def _log_refused(username, address, counts):
        log.warning("login refused reason=locked username=%.150r address=%s "
                    "pair_failures=%d address_failures=%d",
                    username, address, counts["pair"], counts.get("address", 0))


def _take_counted(request):
    """The (keys, counts) is_locked counted the request's attempt under, once; else None."""
    counted = getattr(request, "stratus_login_counted", None)
    if counted is not None:
        request.stratus_login_counted = None
    return counted


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
