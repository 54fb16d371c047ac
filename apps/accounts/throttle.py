"""Log-in throttling: failed attempts counted per username and per client IP in the cache.

Each counter is a cache key that ``cache.add`` creates with the window as its timeout and
``cache.incr`` raises afterwards; the window therefore starts at the first failure, and
the count is gone when the key expires. Because the counters live in ``caches["default"]``
they hold across web nodes once that cache is shared. Only the plain cache API is used
(get_many, add, incr, delete), so any Django cache backend will do, provided its ``incr``
is atomic and keeps the key's expiry (LocMemCache and RedisCache do; ``BaseCache.incr``
does neither).

Cache calls per log-in attempt: one ``get_many`` to check; on failure one ``add`` per
counter, plus an ``incr`` for each that already existed; on success one ``delete``.
"""

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

#: Prefix of every counter key; the rest is a SHA-256 hex digest, so keys are short and
#: safe for any backend whatever the username holds (length, Unicode, spaces).
KEY_PREFIX = "accounts:login-failures"

#: How often a counter is re-created if it expires between ``add`` and ``incr``. Each
#: retry needs the key to expire within microseconds again, so two is plenty.
_CREATE_ATTEMPTS = 2


class LoginThrottle:
    """Counts failed log-ins per username and per IP, and says when either is locked out.

    A username or IP is locked out once it has ``attempts`` failures within ``window``
    seconds of its first failure, until that window ends. Usernames are compared
    case-insensitively, so "Alice" and "alice" share a counter.
    """

    def __init__(self, *, attempts, window, cache):
        for name, value in (("attempts", attempts), ("window", window)):
            # bool is an int, but True attempts is surely a mistake.
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ImproperlyConfigured(
                    f"LoginThrottle {name} must be a whole number of at least 1, not {value!r}."
                )
        self.attempts = attempts
        self.window = window
        self.cache = cache

    @classmethod
    def from_settings(cls):
        """The throttle configured by STRATUS_LOGIN_ATTEMPTS and STRATUS_LOGIN_WINDOW."""
        return cls(
            attempts=getattr(settings, "STRATUS_LOGIN_ATTEMPTS", 5),
            window=getattr(settings, "STRATUS_LOGIN_WINDOW", 900),
            cache=caches["default"],
        )

    def is_locked_out(self, username, ip):
        """Whether attempts for this username, or from this IP (None: unknown), are refused."""
        counts = self.cache.get_many(self._keys(username, ip))
        return any(count >= self.attempts for count in counts.values())

    def record_failure(self, username, ip):
        """Count one failed attempt; return the failures so far as (username's, IP's or None)."""
        user_key, *ip_key = self._keys(username, ip)
        user_count = self._increment(user_key)
        ip_count = self._increment(ip_key[0]) if ip_key else None
        return user_count, ip_count

    def clear(self, username):
        """Forget the username's failures (after it logged in).

        The IP's counter stays: otherwise anyone holding one valid account could reset
        their IP's counter between guesses at other accounts.
        """
        self.cache.delete(username_key(username))

    def _keys(self, username, ip):
        return [username_key(username)] + ([ip_key(ip)] if ip else [])

    def _increment(self, key):
        for _ in range(_CREATE_ATTEMPTS):
            # add() creates the counter atomically; when it exists already, incr() raises it.
            if self.cache.add(key, 1, timeout=self.window):
                return 1
            try:
                return self.cache.incr(key)
            except ValueError:
                continue  # The key expired between add() and incr(): start a new window.
        raise RuntimeError(f"Could not count a failed log-in under {key}: it keeps expiring.")


def username_key(username):
    """The cache key of a username's failure counter (case-insensitive)."""
    return _key("user", username.casefold())


def ip_key(ip):
    """The cache key of a client IP's failure counter."""
    return _key("ip", ip)


def _key(kind, value):
    digest = hashlib.sha256(value.encode()).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def client_ip(request):
    """The client's IP address, or None when it cannot be told.

    REMOTE_ADDR, unless STRATUS_TRUSTED_PROXY_COUNT (default 0) says that many proxies
    (e.g. 1 for an AWS load balancer) each append the address they received from to
    X-Forwarded-For. The client's address is then the entry the outermost trusted proxy
    appended, counted from the right: entries left of it come from the client and can be
    forged. A header with fewer entries than that did not pass through every proxy, so
    REMOTE_ADDR applies.
    """
    trusted = _trusted_proxy_count()
    if trusted:
        forwarded = [part.strip() for part in
                     request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= trusted:
            candidate = _valid_ip(forwarded[-trusted])
            if candidate:
                return candidate
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def _trusted_proxy_count():
    count = getattr(settings, "STRATUS_TRUSTED_PROXY_COUNT", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ImproperlyConfigured(
            f"STRATUS_TRUSTED_PROXY_COUNT must be a whole number of at least 0, not {count!r}."
        )
    return count


def _valid_ip(value):
    # Normalised, so that one IPv6 address written two ways shares one counter.
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
