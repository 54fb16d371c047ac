"""The browser's side of a direct upload, for tests: the API over Django's test client, the
bytes over real HTTP straight to the local S3 (as a browser sends them)."""

import json
import uuid
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from django.urls import reverse


def call(client, method, url, body=None):
    """One API call as the uploader makes it: JSON in, JSON out (Accept says so)."""
    kwargs = {"content_type": "application/json", "HTTP_ACCEPT": "application/json"}
    if body is not None:
        kwargs["data"] = json.dumps(body)
    return getattr(client, method)(url, **kwargs)


def create(client, name, size, **fields):
    return call(client, "post", reverse("uploads:uploads"), {"name": name, "size": size, **fields})


def sign(client, token, numbers):
    return call(client, "post", reverse("uploads:sign", args=[token]), {"parts": numbers})


def complete(client, token, **body):
    return call(client, "post", reverse("uploads:complete", args=[token]), body)


def post_form(issued, data):
    """Send `data` to S3 as the browser does for a small file: the presigned form POST."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in issued["fields"].items():
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                 f"{value}\r\n").encode()
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    request = Request(issued["url"], data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urlopen(request, timeout=30) as response:
        return response.status


def part_url(signed, number):
    """Part `number`'s presigned URL from a compact sign answer."""
    return f"{signed['url']}?{urlencode({**signed['query'], **signed['parts'][str(number)]})}"


def put_part(url, data):
    """PUT one part to S3; its ETag."""
    request = Request(url, data=data, method="PUT",
                      headers={"Content-Type": "application/octet-stream"})
    with urlopen(request, timeout=60) as response:
        return response.headers["ETag"]


def send_parts(client, issued, data, numbers=None):
    """Sign and PUT the parts `numbers` (all by default) of `data`."""
    size = issued["partSize"]
    numbers = numbers or list(range(1, issued["parts"] + 1))
    signed = json.loads(sign(client, issued["upload"], numbers).content)
    for number in numbers:
        put_part(part_url(signed, number), data[(number - 1) * size:number * size])


def upload(client, name, data, **fields):
    """The whole direct upload of `data` as `name`; the completion's response."""
    response = create(client, name, len(data), **fields)
    assert response.status_code == 201, response.content
    issued = json.loads(response.content)
    if issued["method"] == "post":
        post_form(issued, data)
    else:
        send_parts(client, issued, data)
    return complete(client, issued["upload"], key=issued["key"])
