"""Values as record attributes: `ValueCodec` (bytes to attributes and back) and `S3Spill`
(values too large for a record), shared by the sessions, the cache and the task results.

A value is compressed when that helps, base64-encoded and split into numbered attributes of
at most 1,024 bytes, with a count written in the same put, so that leftover chunks of a
longer earlier value are never read as data. A value bigger than the record can hold spills
to S3 under a configurable prefix; the record keeps a pointer.

**Bounded reads.** Whatever is read back may have been planted by anyone who can write to
the domain or the bucket, and is read before any signature over the value can be checked.
So each codec has `max_value_bytes`, the largest value it writes (`encode` refuses a larger
one with `ValueTooLarge`) and therefore the largest it can legitimately read: decompression
stops one byte past it (`zlib.decompressobj` with `max_length`), a spilled object longer
than it is refused from its Content-Length and never read whole, and a pointer outside the
spill prefix is refused. Any of these is a `ValueError` ("corrupt"), which each store turns
into its own answer (no session, a cache miss, an unreadable task result).
"""

import base64
import hashlib
import uuid
import zlib

from botocore.exceptions import BotoCoreError, ClientError

from .errors import Unavailable, ValueTooLarge

#: SimpleDB's limits (SDBLimits) that shape a record.
MAX_ATTRIBUTE_BYTES = 1024
MAX_PAIRS = 256
#: Attribute names the codec uses: the chunks are v000, v001, ...
CHUNK_PREFIX = "v"
CHUNK_COUNT = "vn"   # how many chunks make the value (written with them, in one put)
COMPRESSED = "vz"    # "1" if the chunks hold zlib-compressed bytes
SPILLED = "vs3"      # S3 key holding the value, when the record could not
#: Raw bytes per chunk: base64 turns 3 bytes into 4 characters, 1,024 of them per attribute.
CHUNK_RAW_BYTES = MAX_ATTRIBUTE_BYTES // 4 * 3
#: The default bound on a value (before compression), for codecs not given their own.
DEFAULT_MAX_VALUE_BYTES = 16 * 1024 * 1024


class ValueOverBound(ValueError):
    """Stored bytes that would make a value larger than the codec ever writes."""


def inflate(data, limit):
    """`data` zlib-decompressed; ValueOverBound, with at most `limit` + 1 bytes ever made,
    if it holds more than `limit` bytes; ValueError if it is not one whole zlib stream."""
    inflater = zlib.decompressobj()
    try:
        value = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise ValueError(f"not zlib data: {error}") from error
    if len(value) > limit or inflater.unconsumed_tail:
        raise ValueOverBound(f"decompresses to more than {limit} bytes")
    if not inflater.eof:
        raise ValueError("truncated zlib data")
    return value


class ValueCodec:
    """Bytes to record attributes and back.

    `reserved` attributes of each record belong to the caller (expiry, signature, ...), so
    a value may use the rest of the record's 256 pairs. `compress_min_bytes`: values at
    least this long are compressed when that makes them smaller. `spill` is an
    `S3Spill` (or None, and too large a value is `ValueTooLarge`). `max_value_bytes`: the
    largest value written, and so the most any read may produce (see the module docstring).
    """

    def __init__(self, reserved=8, compress_min_bytes=1024, spill=None,
                 max_value_bytes=DEFAULT_MAX_VALUE_BYTES):
        self.max_chunks = MAX_PAIRS - reserved - 3  # the codec's own three attributes
        self.compress_min_bytes = compress_min_bytes
        self.spill = spill
        self.max_value_bytes = max_value_bytes

    @property
    def capacity(self):
        """The largest value (after compression) a record holds without spilling."""
        return self.max_chunks * CHUNK_RAW_BYTES

    def encode(self, record_name, data):
        """Attributes holding `data` (bytes); may write it to S3 and return a pointer."""
        if len(data) > self.max_value_bytes:
            raise ValueTooLarge(f"{len(data)} bytes are more than the {self.max_value_bytes} "
                                f"this store holds in one value")
        compressed = False
        if len(data) >= self.compress_min_bytes:
            packed = zlib.compress(data, 6)
            if len(packed) < len(data):
                data, compressed = packed, True
        flag = "1" if compressed else "0"
        if len(data) > self.capacity:
            if self.spill is None:
                raise ValueTooLarge(
                    f"{len(data)} bytes do not fit in one record ({self.capacity} at most) "
                    f"and no S3 spill is configured"
                )
            key = self.spill.write(record_name, data)
            return {CHUNK_COUNT: "0", COMPRESSED: flag, SPILLED: key}
        text = base64.b64encode(data).decode("ascii")
        chunks = [text[i:i + MAX_ATTRIBUTE_BYTES] for i in range(0, len(text), MAX_ATTRIBUTE_BYTES)]
        attributes = {f"{CHUNK_PREFIX}{n:03d}": chunk for n, chunk in enumerate(chunks)}
        attributes.update({CHUNK_COUNT: str(len(chunks)), COMPRESSED: flag, SPILLED: ""})
        return attributes

    @staticmethod
    def stored_fields(attributes):
        """The strings that make up a stored value, in a fixed order (for signing it).

        KeyError if a chunk the count promises is missing.
        """
        count = int(attributes[CHUNK_COUNT])
        return [attributes[CHUNK_COUNT], attributes[COMPRESSED], attributes[SPILLED],
                *(attributes[f"{CHUNK_PREFIX}{n:03d}"] for n in range(count))]

    def decode(self, attributes):
        """The bytes `encode` stored in these attributes; ValueError if they are incomplete,
        corrupt or larger than `max_value_bytes`."""
        try:
            count = int(attributes[CHUNK_COUNT])
            if attributes.get(SPILLED):
                if self.spill is None:
                    raise ValueError("value spilled to S3, but no spill is configured")
                data = self.spill.read(attributes[SPILLED], self.max_value_bytes)
            else:
                if not 0 <= count <= self.max_chunks:
                    raise ValueError(f"a chunk count of {count}")
                text = "".join(attributes[f"{CHUNK_PREFIX}{n:03d}"] for n in range(count))
                data = base64.b64decode(text, validate=True)
            if attributes.get(COMPRESSED) == "1":
                return inflate(data, self.max_value_bytes)
            if len(data) > self.max_value_bytes:
                raise ValueOverBound(f"{len(data)} bytes, over {self.max_value_bytes}")
            return data
        except (KeyError, ValueError) as error:
            raise ValueError(f"stored value is incomplete or corrupt: {error}") from error


class S3Spill:
    """Values too large for a record, stored as S3 objects under `prefix`.

    Each value gets a new key under a folder named after the record
    (`prefix/<sha256 of record name>/<random>`), so a write whose put then fails never
    changes what the record points to. `discard(record, keep=...)` removes a record's other
    objects: after a spilled write succeeds, and when the record is deleted. A bucket
    lifecycle rule on the prefix is the backstop for anything left behind.
    """

    def __init__(self, s3, bucket, prefix):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix

    def folder(self, record_name):
        return f"{self.prefix}{hashlib.sha256(record_name.encode()).hexdigest()}/"

    def write(self, record_name, data):
        key = self.folder(record_name) + uuid.uuid4().hex
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as error:
            raise Unavailable(f"S3 spill write failed: {error}") from error
        return key

    def read(self, key, limit=DEFAULT_MAX_VALUE_BYTES):
        """The object's bytes; ValueError if it is gone, outside the prefix, or over `limit`
        bytes (refused from its length, never read whole)."""
        if not key.startswith(self.prefix):
            raise ValueError(f"spill pointer {key!r} is outside {self.prefix!r}")
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            try:
                if response.get("ContentLength", 0) > limit:
                    raise ValueOverBound(f"spilled value {key} holds "
                                         f"{response['ContentLength']} bytes, over {limit}")
                data = body.read(limit + 1)
            finally:
                body.close()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ValueError(f"spilled value {key} is gone") from error
            raise Unavailable(f"S3 spill read failed: {error}") from error
        except BotoCoreError as error:
            raise Unavailable(f"S3 spill read failed: {error}") from error
        if len(data) > limit:
            raise ValueOverBound(f"spilled value {key} holds more than {limit} bytes")
        return data

    def remove(self, record_name, key):
        """Delete the record's spilled object `key`, once the record no longer points to
        it; ValueError, and nothing deleted, if `key` (read from the store, so possibly
        planted) is not in the record's own folder."""
        if not key.startswith(self.folder(record_name)):
            raise ValueError(f"spill pointer {key!r} is outside the record's folder")
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            raise Unavailable(f"S3 spill clean-up failed: {error}") from error

    def discard(self, record_name, keep=None):
        """Delete the record's spilled objects, except `keep`."""
        try:
            listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.folder(record_name))
            stale = [{"Key": o["Key"]} for o in listing.get("Contents", []) if o["Key"] != keep]
            if stale:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": stale})
        except (ClientError, BotoCoreError) as error:
            raise Unavailable(f"S3 spill clean-up failed: {error}") from error
