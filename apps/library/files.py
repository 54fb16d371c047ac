"""What the library decides about an uploaded file: its stored name, its type, how it is served.

Nothing here trusts the browser: the name is reduced to a safe basename under a random
prefix, and the content type comes from that name, confirmed by the file's first bytes for
the image types a browser may show inline.
"""

import mimetypes
import os
import re
import unicodedata
import uuid
from urllib.parse import quote

from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

#: Longest basename kept, in characters: with "uploads/<32 hex>/" and a possible
#: collision suffix it stays within the FileField's 255 and S3's 1,024-byte key limit.
MAX_NAME_LENGTH = 100
#: Longest extension kept when a long name is shortened.
MAX_EXTENSION_LENGTH = 16
#: The basename used when nothing of the user's name survives sanitizing.
FALLBACK_NAME = "file"
#: Anything we cannot, or will not, name more precisely.
OCTET_STREAM = "application/octet-stream"

#: Image types served inline, each with a test of the file's first bytes. Only these: an
#: inline SVG or HTML could run script, so every other type is served as an attachment.
INLINE_SIGNATURES = {
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda head: head.startswith((b"GIF87a", b"GIF89a")),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
}
#: Bytes read to check a signature (WebP's is the longest: 12).
SIGNATURE_BYTES = 16

#: mimetypes reports "x.txt.gz" as text/plain with gzip encoding; the file itself is a
#: gzip archive, so it is typed as one (the mapping Django's FileResponse uses).
_ENCODING_TYPES = {
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip",
    "compress": "application/x-compress",
    "gzip": "application/gzip",
    "xz": "application/x-xz",
}


def safe_name(name):
    """The user's file name reduced to a safe basename: no directories, at most 100 chars.

    Directories (either slash), NULs and other unsafe characters go, leading dots go (no
    hidden files), spaces become underscores; a name with nothing left becomes "file".
    """
    basename = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    try:
        basename = get_valid_filename(basename).lstrip(".")
    except SuspiciousFileOperation:  # nothing usable was left
        basename = ""
    if len(basename) > MAX_NAME_LENGTH:
        root, extension = os.path.splitext(basename)
        extension = extension[:MAX_EXTENSION_LENGTH]
        basename = root[:MAX_NAME_LENGTH - len(extension)] + extension
    return basename or FALLBACK_NAME


def upload_to(instance, filename):
    """The S3 key for a new file: a random prefix, so no user ever chooses or guesses a path."""
    return f"uploads/{uuid.uuid4().hex}/{safe_name(filename)}"


def read_head(upload):
    """The first bytes of an uploaded file, leaving it positioned at its start."""
    upload.seek(0)
    head = upload.read(SIGNATURE_BYTES)
    upload.seek(0)
    return head


def content_type_for(name, head):
    """The type to store for a file called `name` (already safe) starting with `head`.

    Guessed from the name; an inline image type is kept only if the bytes carry that
    format's signature, since a browser would otherwise sniff and render something else.
    """
    guessed, encoding = mimetypes.guess_type(name)
    if encoding:
        return _ENCODING_TYPES.get(encoding, OCTET_STREAM)
    if guessed in INLINE_SIGNATURES:
        return guessed if INLINE_SIGNATURES[guessed](head) else OCTET_STREAM
    return guessed or OCTET_STREAM


def is_inline(content_type):
    """Whether a stored type is safe for a browser to show rather than save."""
    return content_type in INLINE_SIGNATURES


def content_disposition(name, inline=False):
    """A Content-Disposition value for `name` (RFC 6266).

    Always a quoted ASCII `filename` for old clients; a non-ASCII name adds the exact name
    as RFC 5987 `filename*`, which clients that understand it prefer.
    """
    kind = "inline" if inline else "attachment"
    root, extension = os.path.splitext(name)
    fallback = (_ascii(root) or FALLBACK_NAME) + _ascii(extension)
    header = f'{kind}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def _ascii(text):
    """`text` with accents dropped and everything but [-A-Za-z0-9_.] removed.

    What is left needs no escaping inside a quoted header value.
    """
    decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^-\w.]", "", decomposed, flags=re.ASCII)
