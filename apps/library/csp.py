"""The media bucket's origin in the Content Security Policy, for the pages that need it.

The site's policy lets pages fetch and show only what the site itself serves. A page that
shows a stored image (a preview) or sends bytes to S3 (the uploader) must also name the
bucket's origin: S3's own in production, the local stack's in development and tests.
"""

from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage

#: Stands for the media bucket's origin in `extend_csp`'s sources, resolved per response.
MEDIA_ORIGIN = object()


def media_origin():
    """The scheme and host that the default storage's URLs point to; None if they are the
    site's own (a storage with relative URLs).

    Read from a URL the storage signs (locally, no call to S3), so it follows the endpoint,
    addressing style and region the storage really uses.
    """
    parts = urlsplit(default_storage.url("origin-probe"))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None


def extend_csp(**sources):
    """A view decorator adding sources to directives of the response's policy, e.g.
    `extend_csp(connect_src=[MEDIA_ORIGIN])`; underscores in names stand for hyphens."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            origin = media_origin()
            policy = dict(getattr(response, "_csp_config", settings.SECURE_CSP))
            for name, added in sources.items():
                directive = name.replace("_", "-")
                resolved = [origin if source is MEDIA_ORIGIN else source for source in added]
                policy[directive] = [*policy.get(directive, []), *filter(None, resolved)]
            response._csp_config = policy
            return response

        return wrapped

    return decorator


def allow_media_origin(*directives):
    """A view decorator: the response's policy also allows the media origin in `directives`
    (e.g. "img-src", "connect-src")."""
    return extend_csp(**{directive: [MEDIA_ORIGIN] for directive in directives})


#: For a page holding the uploader: it sends files to the bucket, and Uppy's stylesheet
#: draws a few icons as data: SVGs.
uploader_page = extend_csp(connect_src=[MEDIA_ORIGIN], img_src=["data:"])
