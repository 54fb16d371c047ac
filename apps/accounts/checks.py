"""System checks: the log-in throttle's configuration, and its cache shared, consistent and
failing closed."""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

#: Caches that live in one process: each node would count on its own.
_PER_PROCESS_BACKENDS = {
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}


@checks.register(checks.Tags.security, checks.Tags.caches)
def check_login_failure_cache(app_configs, **kwargs):
    """AXES_CACHE must name a shared cache that reads consistently and raises on errors."""
    alias = getattr(settings, "AXES_CACHE", "default")
    config = settings.CACHES.get(alias)
    if config is None:
        return [checks.Error(f"AXES_CACHE names no cache: {alias!r}.",
                             hint="Add it to CACHES.", id="accounts.E001")]
    backend = config.get("BACKEND", "")
    if backend in _PER_PROCESS_BACKENDS:
        return [checks.Error(
            f"The log-in failure cache {alias!r} ({backend}) is not shared between nodes: "
            f"each would count failures on its own.",
            hint="Use the SimpleDB cache, as project/settings.py does.", id="accounts.E002")]
    errors = []
    if backend.startswith("storage_backends."):
        options = config.get("OPTIONS") or {}
        if options.get("ON_ERROR", "degrade") != "raise":
            errors.append(checks.Error(
                f"The log-in failure cache {alias!r} does not raise on errors: a lock-out "
                f"check that cannot read would let the log-in through.",
                hint='Set its OPTIONS["ON_ERROR"] to "raise".', id="accounts.E003"))
        if options.get("CONSISTENT_READ") is not True:
            errors.append(checks.Error(
                f"The log-in failure cache {alias!r} reads eventually consistently: a lock-out "
                f"check could read a count from before the latest failures.",
                hint='Set its OPTIONS["CONSISTENT_READ"] to True.', id="accounts.E004"))
    return errors


@checks.register(checks.Tags.security)
def check_login_throttle(app_configs, **kwargs):
    """The throttle's handler accepts its settings (limits, lock-out parameters)."""
    from .lockout import LoginFailureHandler

    try:
        LoginFailureHandler()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="accounts.E005")]
    return []
