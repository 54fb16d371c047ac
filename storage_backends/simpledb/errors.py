"""The exceptions of the SimpleDB stores: what callers catch, whatever botocore raised."""


class SimpleDBError(Exception):
    """A SimpleDB call failed for a reason the caller did not ask about."""


class Unavailable(SimpleDBError):
    """SimpleDB (or S3, for a spilled value) could not be reached, or failed on its side."""


class ConditionFailed(SimpleDBError):
    """The put's or delete's condition did not hold."""


class NoSuchDomain(SimpleDBError):
    """The domain does not exist (not provisioned?)."""


class StoreFull(SimpleDBError):
    """SimpleDB refused a write for a size limit of the domain or the item
    (NumberDomainBytesExceeded, NumberDomainAttributesExceeded, NumberItemAttributesExceeded):
    writes fail until something is deleted."""


class ValueTooLarge(SimpleDBError):
    """A value needs more room than a record has, and no S3 spill is configured, or it is
    larger than the store's bound on values (`ValueCodec.max_value_bytes`)."""
