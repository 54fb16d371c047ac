"""The cache's OPTIONS: defaults, and validation when the cache is made."""

from django.core.exceptions import ImproperlyConfigured

from ..codec import DEFAULT_MAX_VALUE_BYTES

DEFAULT_OPTIONS = {
    # Read get/get_many/has_key with ConsistentRead (twice the read cost on AWS).
    "CONSISTENT_READ": False,
    # Values (pickled) at least this long are compressed when that makes them smaller.
    "COMPRESS_MIN_BYTES": 1024,
    # The largest value (pickled, before compression) stored; a larger one is refused
    # (ValueTooLarge), and no read decompresses or downloads more.
    "MAX_VALUE_BYTES": DEFAULT_MAX_VALUE_BYTES,
    # Values too large for one record go to this S3 bucket under SPILL_PREFIX; None: they
    # are refused (ValueTooLarge: set() returns False, or raises with ON_ERROR "raise").
    "SPILL_BUCKET": None,
    "SPILL_PREFIX": "cache-spill/",
    # "degrade": failed reads are misses, failed writes return False, both logged;
    # "raise": SimpleDBError (Unavailable, ...) propagates.
    "ON_ERROR": "degrade",
    # Django's culling options (BaseCache's names): None for both means unbounded, as
    # Django's Redis and Memcached backends are. When either is given, the other takes
    # BaseCache's default (300 entries, cull a third), as DatabaseCache would.
    "MAX_ENTRIES": None,
    "CULL_FREQUENCY": None,
}
ON_ERROR_CHOICES = ("degrade", "raise")
#: BaseCache's defaults, used when only one of MAX_ENTRIES and CULL_FREQUENCY is given.
DJANGO_MAX_ENTRIES = 300
DJANGO_CULL_FREQUENCY = 3


def cache_options(params):
    """OPTIONS of a cache's params, completed with the defaults and checked;
    ImproperlyConfigured for an unknown or bad one."""
    options = dict(params.get("OPTIONS") or {})
    # BaseCache also reads these two from the top level, lowercase.
    for name in ("max_entries", "cull_frequency"):
        if name in params:
            options.setdefault(name.upper(), params[name])
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown SimpleDBCache OPTIONS: {', '.join(unknown)}; "
            f"known: {', '.join(DEFAULT_OPTIONS)}."
        )
    options = {**DEFAULT_OPTIONS, **options}
    check_value_options(options, "SimpleDBCache")
    if options["MAX_ENTRIES"] is not None or options["CULL_FREQUENCY"] is not None:
        if options["MAX_ENTRIES"] is None:
            options["MAX_ENTRIES"] = DJANGO_MAX_ENTRIES
        if options["CULL_FREQUENCY"] is None:
            options["CULL_FREQUENCY"] = DJANGO_CULL_FREQUENCY
        _whole_number(options, "MAX_ENTRIES", 1, "SimpleDBCache")
        _whole_number(options, "CULL_FREQUENCY", 0, "SimpleDBCache")
    return options


def check_value_options(options, backend):
    """Check the options both stores' caches share (consistency, compression, value bound,
    spill, errors); ImproperlyConfigured naming `backend` for a bad one."""
    if not isinstance(options["CONSISTENT_READ"], bool):
        raise ImproperlyConfigured(f"{backend} CONSISTENT_READ must be True or False.")
    _whole_number(options, "COMPRESS_MIN_BYTES", 0, backend)
    _whole_number(options, "MAX_VALUE_BYTES", 1, backend)
    bucket, prefix = options["SPILL_BUCKET"], options["SPILL_PREFIX"]
    if bucket is not None and (not isinstance(bucket, str) or not bucket):
        raise ImproperlyConfigured(f"{backend} SPILL_BUCKET must be a bucket name or None.")
    if not isinstance(prefix, str) or not prefix:
        raise ImproperlyConfigured(f"{backend} SPILL_PREFIX must be a non-empty string.")
    if options["ON_ERROR"] not in ON_ERROR_CHOICES:
        raise ImproperlyConfigured(
            f"{backend} ON_ERROR must be one of {', '.join(ON_ERROR_CHOICES)}, "
            f"not {options['ON_ERROR']!r}."
        )


def _whole_number(options, name, least, backend):
    value = options[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ImproperlyConfigured(
            f"{backend} {name} must be a whole number of at least {least}, not {value!r}."
        )
