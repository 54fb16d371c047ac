"""Django's cache on Amazon SimpleDB.

    CACHES = {"default": {
        "BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
        "LOCATION": "stratus-cache",          # the SimpleDB domain (provision_aws makes it)
        "OPTIONS": {"ON_ERROR": "degrade"},   # see options.DEFAULT_OPTIONS
    }}

`backend` holds the cache's semantics (SimpleDBCache), `records` the signed record format,
`swaps` its conditional read-modify-writes, `culling` bulk deletes and MAX_ENTRIES,
`options` the OPTIONS and their checks.
"""

from .backend import SimpleDBCache
from .records import FOREVER
from .swaps import Contended

__all__ = ["Contended", "FOREVER", "SimpleDBCache"]
