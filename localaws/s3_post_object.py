"""A fix for moto's S3 answering a browser's presigned POST without the headers S3 sends.

S3 answers a successful POST Object with the object's `ETag` and its `Location`, and, for
a request from another origin, the CORS headers the bucket's rule gives (the rule exposes
`ETag`). moto 5.2.5 sends none of them, so a browser script cannot read the answer and an
uploader (Uppy) waits for an ETag that never comes. `install()` adds them, as S3 does; the
object and the status moto chose are untouched. moto still checks no POST policy: the site
verifies what arrived (apps/uploads/publish.py).
"""

import functools
import threading
from urllib.parse import quote

_installed = threading.Lock()
_done = False


def install():
    """Make moto's POST Object answer carry ETag, Location and CORS headers (once)."""
    global _done
    with _installed:
        if _done:
            return
        from moto.s3.responses import S3Response

        post = S3Response._bucket_response_post

        @functools.wraps(post)
        def bucket_response_post(self, request, bucket_name):
            status, headers, body = post(self, request, bucket_name)
            if self.data.get("Action") == "PutObject" and 200 <= int(status) < 300:
                key = self.querystring["key"][0]
                stored = self.backend.get_object(bucket_name, key)
                host = request.headers.get("Host", "")
                headers = {**headers, **self._get_cors_headers_other(),
                           "ETag": stored.etag,
                           "Location": f"http://{host}/{bucket_name}/{quote(key)}"}
            return status, headers, body

        S3Response._bucket_response_post = bucket_response_post
        _done = True
