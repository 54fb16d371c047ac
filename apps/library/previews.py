"""Previews of uploaded files, from their bytes: a thumbnail, or the first lines of text.

`make_preview(chunks, ...)` takes a stored file's bytes as an iterator of chunks and returns
a Preview, or raises Refused with a short reason its owner can read. It decides the kind by
the bytes' signature, never by the name:

- PNG, JPEG, GIF and WebP images become a WebP thumbnail within THUMBNAIL_BOX, turned as
  their EXIF orientation says and stripped of every piece of metadata (EXIF, GPS, XMP, ICC).
- A PDF's first page is rendered by PDFium (pypdfium2) in a child process, then made a
  thumbnail like an image.
- Text (control-free UTF-8) gives its first TEXT_MAX_LINES lines, at most TEXT_MAX_CHARS.

Every file is hostile until proven otherwise, so the input is bounded before it is parsed:
text is read from the first TEXT_HEAD_BYTES alone; an image or PDF is read into a spooled
temporary file of at most `max_bytes`; an image's header is checked against `max_pixels`
before a single pixel is decoded (a small file may claim a huge picture); PDFium runs in a
process with a memory limit and a deadline, so a file that crashes or stalls it costs that
process only. Whatever a parser raises on corrupt bytes becomes Refused: it is the file's
fault, and retrying would not help. What the chunks' iterator raises (a storage outage) is
not caught here: that is worth retrying.
"""

import codecs
import io
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from . import files

logger = logging.getLogger(__name__)

#: A thumbnail fits within this box (width, height), keeping its aspect ratio.
THUMBNAIL_BOX = (480, 480)
#: The thumbnail's format, its type and the extension of its key.
THUMBNAIL_FORMAT, THUMBNAIL_TYPE, THUMBNAIL_EXTENSION = "WEBP", "image/webp", ".webp"
#: WebP quality: thumbnails are looked at, not printed.
THUMBNAIL_QUALITY = 80
#: Pillow formats a thumbnail is made from: only those whose signature was checked, so no
#: other of Pillow's parsers ever sees an uploaded file.
IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF",
                 "image/webp": "WEBP"}
#: A text preview keeps at most this many lines, and at most TEXT_MAX_CHARS characters.
TEXT_MAX_LINES = 20
TEXT_MAX_CHARS = 2000
#: Bytes read for a text preview: TEXT_MAX_CHARS characters of up to 4 bytes in UTF-8.
TEXT_HEAD_BYTES = 4 * TEXT_MAX_CHARS
#: Control characters that text may hold (files.TEXT_BYTES) but a page cannot show: dropped.
_SHOWN_NOTHING = dict.fromkeys(map(ord, "\a\b\f\x1b"))
#: An image or PDF is kept in memory up to this size while it is read, on disk beyond.
SPOOL_MEMORY_BYTES = 8 * 1024 * 1024
#: The PDF renderer's process: its deadline (seconds) and address-space limit (bytes).
PDF_SECONDS = 20
PDF_MEMORY_BYTES = 1024 * 1024 * 1024
#: The renderer: a script run by this Python, and its exit code for a PDF that needs a
#: password.
PDF_RENDERER = Path(__file__).with_name("pdfpage.py")
PDF_ENCRYPTED_EXIT = 3

class Refused(Exception):
    """No preview for this file; `reason` says why, in a few words for its owner."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Preview:
    """What make_preview made: a thumbnail's bytes (THUMBNAIL_TYPE), or text."""

    image: bytes = b""
    text: str = ""


class _Reader:
    """Reads an iterator of chunks as a stream: a head first, then the rest, bounded."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b""
        self.ended = False

    def head(self, size):
        """At least `size` bytes from the start, or all there are (then `ended` is set)."""
        while len(self._buffer) < size and not self.ended:
            self._fill()
        return self._buffer

    def spool(self, max_bytes):
        """Everything, into a temporary file kept in memory up to SPOOL_MEMORY_BYTES; Refused
        without reading further once more than `max_bytes` came."""
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
        try:
            size = 0
            while True:
                size += len(self._buffer)
                if size > max_bytes:
                    raise Refused("too large to preview")
                spooled.write(self._buffer)
                self._buffer = b""
                if self.ended:
                    break
                self._fill()
        except BaseException:
            spooled.close()
            raise
        spooled.seek(0)
        return spooled

    def _fill(self):
        chunk = next(self._chunks, None)
        if chunk is None:
            self.ended = True
        else:
            self._buffer += chunk


def make_preview(chunks, size, max_bytes, max_pixels):
    """A Preview of the file whose bytes `chunks` yields and whose size is `size`.

    Reads no more than it needs: the head for text; for an image or a PDF, all of it, if
    no more than `max_bytes` (else Refused before reading on). Refused for an empty file,
    a kind with no preview, and any file its parser finds corrupt or too big.
    """
    reader = _Reader(chunks)
    head = reader.head(TEXT_HEAD_BYTES)
    if not head:
        raise Refused("empty file")
    kind = files.signature_type(head[:files.SIGNATURE_BYTES])
    text, complete = head[:TEXT_HEAD_BYTES], reader.ended and len(head) <= TEXT_HEAD_BYTES
    if kind is None and _is_text(text, complete):
        return Preview(text=text_lines(text, complete))
    if kind not in IMAGE_FORMATS and kind != "application/pdf":
        raise Refused("no preview for this kind of file")
    if size > max_bytes:
        raise Refused("too large to preview")
    with reader.spool(max_bytes) as spooled:
        # Parsing starts here: from now on, an error is the file's (see the docstring).
        try:
            if kind == "application/pdf":
                return Preview(image=thumbnail(io.BytesIO(render_first_page(spooled)),
                                               max_pixels, ["PNG"]))
            return Preview(image=thumbnail(spooled, max_pixels, [IMAGE_FORMATS[kind]]))
        except Refused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Refused("image too large to preview") from None
        except Exception as error:  # noqa: BLE001 - any parser's error on hostile bytes
            logger.info("preview refused kind=%s error=%s: %s", kind, type(error).__name__,
                        str(error)[:200])
            raise Refused("could not be read") from error


def _is_text(head, complete):
    """Whether `head` is control-free UTF-8; a sequence cut at its end is allowed unless
    `head` is the whole file."""
    if not files.has_no_control_bytes(head):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def text_lines(head, complete):
    """The first TEXT_MAX_LINES lines of UTF-8 text `head`, at most TEXT_MAX_CHARS
    characters; no byte-order mark, line ends made "\\n", and without the control
    characters text may hold but a page cannot show (BEL, BS, FF, ESC; tabs stay)."""
    text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=complete)
    lines = text.splitlines()[:TEXT_MAX_LINES]
    return "\n".join(lines).translate(_SHOWN_NOTHING)[:TEXT_MAX_CHARS]


def thumbnail(stream, max_pixels, formats):
    """A THUMBNAIL_FORMAT thumbnail's bytes of the image in `stream` (one of `formats`).

    Refused if the image claims more than `max_pixels`, or more than Pillow's own
    MAX_IMAGE_PIXELS: the header is read first, and the pixels only after that check.
    (Pillow itself only warns up to twice its limit and decodes on; a warnings filter
    making that an error would be process-wide state, which catch_warnings() changes
    unsafely across the worker's threads, and pytest resets.) A JPEG is decoded at a
    fraction of its size where the thumbnail allows (draft mode). Only the pixels are
    kept: the result is a new image, so no metadata of the upload can reach it.
    """
    with Image.open(stream, formats=formats) as image:
        width, height = image.size
        if width * height > min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels):
            raise Refused("image too large to preview")
        image.draft("RGB", THUMBNAIL_BOX)  # JPEG only; a no-op for other formats
        # In place, and reduced before any conversion: one full-size copy of the pixels.
        ImageOps.exif_transpose(image, in_place=True)  # decodes the (first frame's) pixels
        mode = "RGBA" if image.has_transparency_data else "RGB"
        if image.mode not in ("RGB", "RGBA", "L", "LA"):  # palettes resize badly
            image = image.convert(mode)
        image.thumbnail(THUMBNAIL_BOX, Image.Resampling.LANCZOS)
        clean = Image.new(mode, image.size)
        clean.paste(image.convert(mode))
    output = io.BytesIO()
    clean.save(output, THUMBNAIL_FORMAT, quality=THUMBNAIL_QUALITY)
    return output.getvalue()


def render_first_page(spooled):
    """The first page of the PDF in `spooled` as PNG bytes within THUMBNAIL_BOX.

    PDFium is a large C++ parser and not thread-safe: it runs in a process of its own
    (pdfpage.py, which limits itself to PDF_MEMORY_BYTES of address space before it loads
    PDFium), reading the PDF from its standard input, killed after PDF_SECONDS. A crash, a
    limit hit or a refusal is Refused.
    """
    spooled.fileno()  # a SpooledTemporaryFile still in memory moves to disk for the child
    spooled.seek(0)
    command = [sys.executable, "-I", str(PDF_RENDERER), str(PDF_MEMORY_BYTES),
               *map(str, THUMBNAIL_BOX)]
    try:
        finished = subprocess.run(command, stdin=spooled, capture_output=True,
                                  timeout=PDF_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise Refused("took too long to render") from None
    if finished.returncode == PDF_ENCRYPTED_EXIT:
        raise Refused("protected by a password")
    if finished.returncode != 0:
        logger.info("pdf render failed exit=%s stderr=%s", finished.returncode,
                    finished.stderr[-300:].decode(errors="replace").strip())
        raise Refused("could not be read")
    return finished.stdout
