"""How a file is cut into multipart parts: S3's limits and our choice of part size."""

import math

MIB = 1024 * 1024
#: S3's smallest part (all but the last) and most parts per upload.
S3_MIN_PART_BYTES = 5 * MIB
S3_MAX_PARTS = 10_000
#: Our part sizes: big enough that signing costs little per byte, small enough that a
#: resumed upload repeats little and several parts travel in parallel.
MIN_PART_BYTES = 8 * MIB
MAX_PART_BYTES = 64 * MIB
#: Parts a file is cut into when that keeps parts within the bounds above.
TARGET_PARTS = 8
#: Part URLs signed at once: the first batch comes with the upload's issue, the uploader
#: asks for the others in batches of as many, shortly before it needs them.
SIGN_BATCH = 16


def part_size(size):
    """The part size for a file of `size` bytes: about TARGET_PARTS parts, in whole MiB,
    between MIN_PART_BYTES and MAX_PART_BYTES, and never more than S3_MAX_PARTS parts."""
    wanted = math.ceil(size / TARGET_PARTS / MIB) * MIB
    chosen = min(max(wanted, MIN_PART_BYTES), MAX_PART_BYTES)
    if math.ceil(size / chosen) > S3_MAX_PARTS:
        chosen = math.ceil(size / S3_MAX_PARTS / MIB) * MIB
    return chosen


def part_count(size, part_bytes):
    """How many parts a file of `size` bytes has at `part_bytes` each (at least one)."""
    return max(1, math.ceil(size / part_bytes))
