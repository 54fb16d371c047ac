"""The user's side of the upload benchmark (bench/uploads.py): a logged-in client of the site
that uploads a file through the node's form or straight to S3 through the direct-upload API.

Request bodies are streamed from disk, as a browser sends a file: a multipart/form-data body
is its fields, then the file read a block at a time, with a Content-Length.
"""

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

#: Parts of a multipart upload in flight at once, as a browser's uploader sends them.
PART_WORKERS = 4
#: The API signs at most this many parts per call.
SIGN_BATCH = 100
#: Bytes an HTTP client hands the socket at once (urllib3's default is 16 KiB).
SEND_BLOCK = 256 * 1024
#: Seconds an upload's complete calls may take in all, and the pause between two.
COMPLETE_DEADLINE = 120
COMPLETE_PAUSE = 0.5
#: Seconds any one request may take to answer.
REQUEST_TIMEOUT = 600

_PUBLIC_ID = re.compile(r"/library/([A-Za-z0-9_-]+)/$")


class BenchError(Exception):
    """The run cannot go on; the message says why in one line."""


def _worth_retrying(response):
    """Whether a complete call's answer says to ask again later."""
    if response.status_code >= 502:
        return True
    if response.status_code != 409:
        return False
    try:
        return response.json().get("code") == "joining"
    except ValueError:
        return False


class FileSlice:
    """Bytes [offset, offset + length) of a file, read as an HTTP client sends them."""

    def __init__(self, path, offset=0, length=None):
        self.file = open(path, "rb")
        self.file.seek(offset)
        self.left = os.path.getsize(path) - offset if length is None else length
        self.length = self.left

    def __len__(self):
        return self.length

    def read(self, size=-1):
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.file.read(size)
        self.left -= len(data)
        return data

    def close(self):
        self.file.close()


class MultipartBody:
    """A multipart/form-data body: text fields, then one file streamed from disk.

    Has a length (so the request carries a Content-Length, as a browser's form post does)
    and never holds more of the file than one read asks for.
    """

    BOUNDARY = "----stratus-bench-" + os.urandom(8).hex()

    def __init__(self, fields, file_field, path, filename):
        boundary = self.BOUNDARY
        head = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                       f"{value}\r\n" for name, value in fields.items())
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
        self.parts = [head.encode(), FileSlice(path), f"\r\n--{boundary}--\r\n".encode()]
        self.length = len(self.parts[0]) + len(self.parts[1]) + len(self.parts[2])
        self.content_type = f"multipart/form-data; boundary={boundary}"

    def __len__(self):
        return self.length

    def read(self, size=-1):
        out = bytearray()
        while self.parts and (size is None or size < 0 or len(out) < size):
            part = self.parts[0]
            want = -1 if size is None or size < 0 else size - len(out)
            if isinstance(part, FileSlice):
                data = part.read(want)
                if not data:
                    part.close()
                    self.parts.pop(0)
                out += data
            else:
                taken = part if want < 0 else part[:want]
                out += taken
                rest = part[len(taken):]
                if rest:
                    self.parts[0] = rest
                else:
                    self.parts.pop(0)
        return bytes(out)


class BigBlocks(HTTPAdapter):
    """requests' adapter handing the socket SEND_BLOCK bytes at a time, for big bodies."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["blocksize"] = SEND_BLOCK
        super().init_poolmanager(*args, **kwargs)


def http_session():
    session = requests.Session()
    adapter = BigBlocks(pool_maxsize=PART_WORKERS)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Uploader:
    """A user logged in at `site_url`: uploads a file either way and returns its public id."""

    def __init__(self, site_url, username, password):
        self.url = site_url
        self.site = http_session()
        self.s3 = threading.local()
        self.retried = 0
        self.site.get(self.url + "/accounts/login/", timeout=REQUEST_TIMEOUT)
        response = self.site.post(self.url + "/accounts/login/", data={
            "username": username, "password": password,
            "csrfmiddlewaretoken": self.csrf_token}, allow_redirects=False,
            timeout=REQUEST_TIMEOUT)
        if response.status_code != 302:
            raise BenchError(f"log-in refused: {response.status_code}")

    @property
    def csrf_token(self):
        return self.site.cookies["csrftoken"]

    def proxied(self, path, name):
        """The upload form, as a browser without JavaScript posts it."""
        body = MultipartBody({"csrfmiddlewaretoken": self.csrf_token, "title": name},
                             "file", path, name)
        response = self.site.post(self.url + "/library/upload/", data=body,
                                  headers={"Content-Type": body.content_type},
                                  allow_redirects=False, timeout=REQUEST_TIMEOUT)
        location = response.headers.get("Location", "")
        match = _PUBLIC_ID.search(location)
        if response.status_code != 302 or not match or match.group(1) == "upload":
            raise BenchError(f"the upload form answered {response.status_code} "
                             f"{location or response.text[:300]!r}")
        return match.group(1)

    def direct(self, path, name):
        """The direct-upload API: create, bytes straight to S3, complete."""
        size = os.path.getsize(path)
        upload = self._api("post", "/library/uploads/", 201,
                           {"name": name, "size": size, "title": name})
        if upload["method"] == "post":
            self._presigned_post(upload, path, name)
        else:
            self._multipart(upload, path, size)
        return self._complete(upload["upload"])

    def _complete(self, token):
        """Complete, asking again as an uploader would (the call is idempotent) while the
        node answers 5xx or 409 "joining" (S3 still joining the parts for an earlier call
        that ran out of time); each such answer is counted in `retried`."""
        path = f"/library/uploads/{token}/complete/"
        deadline = time.monotonic() + COMPLETE_DEADLINE
        while True:
            response = self._call("post", path, {})
            if not _worth_retrying(response) or time.monotonic() > deadline:
                break
            self.retried += 1
            time.sleep(COMPLETE_PAUSE)  # the node has no way to say when S3 is done
        # 200: an earlier attempt had published it, and its answer was lost.
        return self._checked(response, "post", path, (200, 201))["file"]

    def _api(self, method, path, expected, body):
        return self._checked(self._call(method, path, body), method, path, (expected,))

    def _call(self, method, path, body):
        return self.site.request(method, self.url + path, json=body,
                                 headers={"X-CSRFToken": self.csrf_token},
                                 timeout=REQUEST_TIMEOUT)

    @staticmethod
    def _checked(response, method, path, expected):
        """The JSON of `response`, or BenchError if its status is not one of `expected`."""
        if response.status_code == 404 and path == "/library/uploads/":
            raise BenchError("the node has no direct-upload API (POST /library/uploads/ "
                             "answered 404)")
        if response.status_code not in expected:
            raise BenchError(f"{method.upper()} {path} answered {response.status_code}: "
                             f"{response.text[:300]}")
        return response.json()

    def _s3(self):
        """This thread's S3 session (requests' sessions are not shared between threads)."""
        if not hasattr(self.s3, "session"):
            self.s3.session = http_session()
        return self.s3.session

    def _presigned_post(self, upload, path, name):
        body = MultipartBody(upload["fields"], "file", path, name)
        response = self._s3().post(upload["url"], data=body,
                                   headers={"Content-Type": body.content_type},
                                   timeout=REQUEST_TIMEOUT)
        if not response.ok:
            raise BenchError(f"S3 refused the presigned POST: {response.status_code} "
                             f"{response.text[:300]}")

    def _multipart(self, upload, path, size):
        part_size, count = upload["partSize"], upload["parts"]
        numbers = list(range(1, count + 1))
        urls = {}

        def remember(signed):
            for number, query in signed["parts"].items():
                urls[int(number)] = signed["url"] + "?" + urlencode({**signed["query"], **query})

        # The first parts come signed with the issue, as the browser's uploader uses them.
        remember(upload["signed"])
        unsigned = [number for number in numbers if number not in urls]
        for start in range(0, len(unsigned), SIGN_BATCH):
            remember(self._api("post", f"/library/uploads/{upload['upload']}/sign/", 200,
                               {"parts": unsigned[start:start + SIGN_BATCH]}))

        def put(number):
            offset = (number - 1) * part_size
            body = FileSlice(path, offset, min(part_size, size - offset))
            try:
                response = self._s3().put(urls[number], data=body, timeout=REQUEST_TIMEOUT)
            finally:
                body.close()
            if not response.ok:
                raise BenchError(f"S3 refused part {number}: {response.status_code} "
                                 f"{response.text[:300]}")

        with ThreadPoolExecutor(PART_WORKERS) as pool:
            list(pool.map(put, numbers))

    def delete(self, public_id):
        """Delete the file through the site, so that moto does not keep every run's bytes."""
        response = self.site.post(f"{self.url}/library/{public_id}/delete/",
                                  data={"csrfmiddlewaretoken": self.csrf_token},
                                  allow_redirects=False, timeout=REQUEST_TIMEOUT)
        if response.status_code != 302:
            raise BenchError(f"deleting {public_id} answered {response.status_code}")

