"""The client's address, as the log-in throttle counts it (django-axes's AXES_CLIENT_IP_CALLABLE)."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def client_ip(request):
    """The client's IP address, normalised, or None when it cannot be told.

    REMOTE_ADDR, unless STRATUS_TRUSTED_PROXY_COUNT says that many proxies each append the
    address they received the request from to X-Forwarded-For (behind the ALB: 1; the node's
    own nginx is not counted, apps.ops.forwarded gives its entry back to REMOTE_ADDR). The client's address is then the entry the outermost trusted proxy
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


def counted_block(address):
    """What the throttle counts an address as: itself for IPv4, its /64 for IPv6.

    A /64 is what one IPv6 subscriber is usually given, and a client can pick any address
    in it for each request: counted one by one, it would never reach a limit.
    """
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _trusted_proxy_count():
    count = settings.STRATUS_TRUSTED_PROXY_COUNT
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ImproperlyConfigured(
            f"STRATUS_TRUSTED_PROXY_COUNT must be a whole number of at least 0, not {count!r}."
        )
    return count


def _valid_ip(value):
    # Normalised, so that one address written two ways (IPv6 spellings, IPv4 mapped into
    # IPv6 by a dual-stack listener) is one address.
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
