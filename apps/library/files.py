"""What the library decides about an uploaded file: its names, its type, how it is served.

A file has two names. The one the user gave is kept for people: shown (always
autoescaped) on the site and in the admin, and sent back in the download's
Content-Disposition; only control characters and directories are taken out of it, and its
length is bounded. The S3 key is the other: a random prefix and that name reduced to a
safe basename. Nothing here trusts the browser's claimed type: the content type comes from
the name, confirmed by the file's first bytes for the image types a browser may show
inline.
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
#: Longest name kept for display, in UTF-8 bytes: the most that common file systems
#: (ext4, APFS, NTFS in practice) let a downloaded file be called. Percent-encoded in a
#: presigned URL's ResponseContentDisposition, it stays well within URL limits.
MAX_DISPLAY_NAME_BYTES = 255
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
#: Signatures beyond the inline image types: (type, test of the first bytes).
OTHER_SIGNATURES = {
    "application/pdf": lambda head: head.startswith(b"%PDF-"),
    # A local file header, or the end record of an empty archive.
    "application/zip": lambda head: head.startswith((b"PK\x03\x04", b"PK\x05\x06")),
    "application/gzip": lambda head: head.startswith(b"\x1f\x8b"),
}
#: Every type the bytes can show by their signature, tested in this order.
SIGNATURES = {**INLINE_SIGNATURES, **OTHER_SIGNATURES}
#: Bytes that occur in text: printable ASCII, everything above 0x7F (UTF-8 is checked
#: apart), and BEL, BS, TAB, LF, FF, CR, ESC (the set `file` and binaryornot use).
TEXT_BYTES = bytes({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x7F)) | set(range(0x80, 0x100)))

#: How browsers escape three characters in a multipart file name, and what they stand for.
_FORM_DATA_ESCAPES = {"%22": '"', "%0A": "\n", "%0D": "\r"}

#: mimetypes reports "x.txt.gz" as text/plain with gzip encoding; the file itself is a
#: gzip archive, so it is typed as one (the mapping Django's FileResponse uses).
_ENCODING_TYPES = {
    "br": "application/x-brotli",
    "bzip2": "application/x-bzip",
    "compress": "application/x-compress",
    "gzip": "application/gzip",
    "xz": "application/x-xz",
}


def display_name(name):
    """The user's file name as given, fit to show and to send back: the file's own name.

    Only what a file's name cannot hold goes: anything up to the last slash or backslash (a
    directory), and every character that is not printable (controls, format characters
    such as bidi overrides, line separators), as Django's multipart parser also does.
    Composed to NFC, so a name a Mac sends decomposed looks and searches the same.
    Shortened to MAX_DISPLAY_NAME_BYTES keeping its extension; "file" if nothing is left.
    Markup is kept as text: templates escape it.
    """
    # Browsers send a double quote in a file's name as %22, LF and CR as %0A and %0D (the
    # WHATWG form-data encoding): undone, so the quote is kept and the others go below.
    name = str(name)
    for sent, meant in _FORM_DATA_ESCAPES.items():
        name = name.replace(sent, meant)
    basename = re.split(r"[/\\]", name)[-1]
    basename = "".join(char for char in basename if char.isprintable()).strip()
    basename = unicodedata.normalize("NFC", basename)
    if basename in ("", ".", ".."):
        return FALLBACK_NAME
    return _shorten(basename, MAX_DISPLAY_NAME_BYTES)


def _shorten(name, max_bytes):
    """`name` cut to at most `max_bytes` in UTF-8, keeping a short extension whole."""
    if len(name.encode()) <= max_bytes:
        return name
    root, extension = os.path.splitext(name)
    if len(extension) > MAX_EXTENSION_LENGTH:
        root, extension = name, ""
    room = max_bytes - len(extension.encode())
    # Cut on a character boundary: drop the bytes of a character cut in half.
    root = root.encode()[:room].decode(errors="ignore")
    return root + extension


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


def type_from_name(name):
    """The type a file called `name` claims to be, by its extension alone.

    What a person expects from the name; the bytes may say otherwise (see content_type_for
    and the record_file_facts task).
    """
    guessed, encoding = mimetypes.guess_type(name)
    if encoding:
        return _ENCODING_TYPES.get(encoding, OCTET_STREAM)
    return guessed or OCTET_STREAM


def content_type_for(name, head):
    """The type to store, and serve, for a file called `name` starting with `head`.

    The name's type; but an inline image type is kept only if the bytes carry that
    format's signature, since a browser would otherwise sniff and render something else.
    """
    claimed = type_from_name(name)
    if claimed in INLINE_SIGNATURES and not INLINE_SIGNATURES[claimed](head):
        return OCTET_STREAM
    return claimed


def signature_type(head):
    """The type whose signature `head` (a file's first SIGNATURE_BYTES or more) carries;
    None if no signature matches."""
    return next((content_type for content_type, matches in SIGNATURES.items()
                 if matches(head)), None)


def has_no_control_bytes(data):
    """Whether `data` holds only TEXT_BYTES (UTF-8 validity is checked apart)."""
    return not data.translate(None, TEXT_BYTES)


def is_inline(content_type):
    """Whether a stored type is safe for a browser to show rather than save."""
    return content_type in INLINE_SIGNATURES


def content_disposition(name, inline=False):
    """A Content-Disposition value for `name` (RFC 6266).

    Always a quoted ASCII `filename` for old clients; a name that fallback does not spell
    exactly adds the exact name as RFC 5987 `filename*` (UTF-8, percent-encoded), which
    every current browser prefers.
    """
    kind = "inline" if inline else "attachment"
    root, extension = os.path.splitext(name)
    fallback = (_ascii(root) or FALLBACK_NAME) + _ascii(extension)
    header = f'{kind}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def _ascii(text):
    """`text` in plain ASCII: accents dropped, runs of spaces made one, and only letters,
    digits, spaces and -_.()+,=@ kept.

    What is left needs no escaping inside a quoted header value, and holds none of the
    characters (quotes, backslash, percent, semicolon) that clients read differently.
    """
    decomposed = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    kept = re.sub(r"[^-\w.()+,=@ ]", "", decomposed, flags=re.ASCII)
    return " ".join(kept.split()) if kept.strip(" ._-") else ""
