"""DynamoDBCache's OPTIONS: defaults, and validation when the cache is made."""

from django.core.exceptions import ImproperlyConfigured

from ..simpledb.cache.options import check_value_options
from ..simpledb.codec import DEFAULT_MAX_VALUE_BYTES

DEFAULT_OPTIONS = {
    # Read get/get_many/has_key with ConsistentRead (twice the read units).
    "CONSISTENT_READ": False,
    # Pickled values at least this long are compressed when that makes them smaller.
    "COMPRESS_MIN_BYTES": 1024,
    # The largest value (pickled, before compression) stored; a larger one is refused
    # (ValueTooLarge), and no read decompresses or downloads more.
    "MAX_VALUE_BYTES": DEFAULT_MAX_VALUE_BYTES,
    # Values too large for one item go to this S3 bucket under SPILL_PREFIX; None: they
    # are refused (ValueTooLarge: set() returns False, or raises with ON_ERROR "raise").
    "SPILL_BUCKET": None,
    "SPILL_PREFIX": "cache-spill/",
    # "degrade": failed reads are misses, failed writes return False, both logged;
    # "raise": the errors propagate.
    "ON_ERROR": "degrade",
}
#: Django's culling options, which this cache refuses (see the module docstring).
CULLING_OPTIONS = ("MAX_ENTRIES", "CULL_FREQUENCY")


def cache_options(params):
    """OPTIONS of a cache's params, completed with the defaults and checked;
    ImproperlyConfigured for an unknown or bad one."""
    options = dict(params.get("OPTIONS") or {})
    culling = [name for name in CULLING_OPTIONS
               if name in options or name.lower() in params]
    if culling:
        raise ImproperlyConfigured(
            f"DynamoDBCache does not cull ({', '.join(culling)}): DynamoDB has no table size "
            f"limit and no cheap count, so culling would Scan the whole table; the table's "
            f"TTL and `manage.py purge_cache` remove expired entries.")
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ImproperlyConfigured(f"Unknown DynamoDBCache OPTIONS: {', '.join(unknown)}; "
                                   f"known: {', '.join(DEFAULT_OPTIONS)}.")
    options = {**DEFAULT_OPTIONS, **options}
    check_value_options(options, "DynamoDBCache")
    return options
