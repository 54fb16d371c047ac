"""Bounds on request bodies: how much a URL may receive, and what stops a body past it.

A node reads at most `STRATUS_BODY_MAX_BYTES` from any request, and at most
`STRATUS_UPLOAD_BODY_MAX_BYTES` from the upload form's URL, whose file may hold
`STRATUS_FORM_UPLOAD_MAX_BYTES`. Three layers apply them, each for a case the one before cannot
see (docs/nodes.md, "Request bodies"):

1. the node's nginx (`client_max_body_size`, per URL, rendered from `limits()`), which
   also bounds chunked bodies as they arrive;
2. `apps.ops.middleware.RequestBodyLimitMiddleware`, which refuses a declared length over
   the limit before anything reads the body, and bounds the stream for the rest;
3. `BoundedUploadHandler`, first of `FILE_UPLOAD_HANDLERS`, which stops a multipart file
   once it passes `STRATUS_FORM_UPLOAD_MAX_BYTES`, before its excess reaches a temporary file.

A body stopped by 2 or 3 raises `RequestBodyTooLarge`; the middleware turns the request
into the 413 page.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.urls import NoReverseMatch, reverse

#: Set on a request whose body was stopped, so the middleware answers 413 even though
#: Django's handler turned the exception into its 400 response first.
STOPPED = "stratus.body_too_large"


class RequestBodyTooLarge(RequestDataTooBig):
    """A request body passed the limit of its URL."""


def limits():
    """(default limit, {path: limit}) for the node's URLs: the upload form's is larger.

    A URLconf without the upload form (a test's, say) has the default limit everywhere.
    """
    try:
        upload_path = reverse("library:upload")
    except NoReverseMatch:
        return settings.STRATUS_BODY_MAX_BYTES, {}
    return settings.STRATUS_BODY_MAX_BYTES, {upload_path: settings.STRATUS_UPLOAD_BODY_MAX_BYTES}


def error_page_context():
    """What the 413 page says; Django and the node's nginx show it with the same values."""
    return {"upload_max": settings.STRATUS_FORM_UPLOAD_MAX_BYTES,
            "body_max": settings.STRATUS_BODY_MAX_BYTES}


def declared_length(request):
    """The body length the request declares (0 when absent or malformed, as Django reads)."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def refuse(request, message):
    """Mark `request` as stopped for its body and raise `RequestBodyTooLarge`."""
    request.META[STOPPED] = True
    raise RequestBodyTooLarge(message)


class BoundedStream:
    """A request's input stream that refuses to return more than `limit` bytes in all.

    Django reads a WSGI body through a stream cut at the declared Content-Length, which the
    middleware has already compared with the limit; this bound holds whatever the server
    hands over (a body without a Content-Length, an ASGI body).
    """

    def __init__(self, request, stream, limit):
        self.request = request
        self.stream = stream
        self.limit = limit
        self.read_so_far = 0

    def _count(self, data):
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            refuse(self.request, f"Request body passed its limit of {self.limit} bytes.")
        return data

    def _room(self, size):
        # Never ask for more than one byte past the limit: that byte is enough to refuse.
        room = self.limit - self.read_so_far + 1
        return room if size is None or size < 0 else min(size, room)

    def read(self, size=-1):
        return self._count(self.stream.read(self._room(size)))

    def readline(self, size=-1):
        return self._count(self.stream.readline(self._room(size)))

    def __getattr__(self, name):
        return getattr(self.stream, name)


class BoundedUploadHandler(FileUploadHandler):
    """Stops an uploaded file once it passes STRATUS_FORM_UPLOAD_MAX_BYTES.

    First in FILE_UPLOAD_HANDLERS, so it sees each chunk before the handlers that keep it
    in memory or write it to a temporary file: nothing past the limit is stored, and a
    file whose part declares a larger size is refused before any of it is.
    """

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = settings.STRATUS_FORM_UPLOAD_MAX_BYTES

    def new_file(self, field_name, file_name, content_type, content_length, charset=None,
                 content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset,
                         content_type_extra)
        if content_length is not None and content_length > self.limit:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None

    def _refuse(self):
        # Django closes (and so deletes) the other handlers' temporary files only for
        # StopUpload; do it here, so nothing of this request stays on disk.
        for handler in self.request.upload_handlers:
            if handler is not self and hasattr(handler, "file"):
                handler.file.close()
        refuse(self.request, f"Uploaded file passed its limit of {self.limit} bytes.")
