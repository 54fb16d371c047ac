"""The S3 calls of a direct upload, on the media bucket, through storage_backends.aws's client.

Every URL handed to a browser is presigned here and names exactly the key this site chose.
S3 (and the local stack's moto, which checks no POST policy) is not trusted to have kept
the rules: `apps.uploads.publish` checks the stored object before it is shown.
"""

from urllib.parse import parse_qsl, urlsplit, urlunsplit

from botocore.exceptions import ClientError
from django.core.files.storage import default_storage

from storage_backends import aws

#: Stored objects are encrypted at rest, as the media storage's own writes are.
ENCRYPTION = "AES256"
#: The type given to the stored object: the site decides and sends the real one on
#: download (a presigned GET's ResponseContentType), never the browser's claim.
STORED_TYPE = "application/octet-stream"
#: Seconds CompleteMultipartUpload may go without sending a byte. S3 may take minutes to
#: join a big upload (it keeps the connection alive meanwhile; the local stack does not).
JOIN_READ_TIMEOUT = 300


def error_code(error):
    return error.response.get("Error", {}).get("Code", "")


class UploadBucket:
    """The media bucket, seen by the upload views."""

    def __init__(self):
        self.name = default_storage.bucket_name
        self.s3 = aws.client("s3")

    def presigned_post(self, key, size, expires):
        """URL and form fields for one browser POST of exactly `size` bytes to `key`."""
        fields = {"Content-Type": STORED_TYPE, "x-amz-server-side-encryption": ENCRYPTION}
        conditions = [
            {"Content-Type": STORED_TYPE},
            {"x-amz-server-side-encryption": ENCRYPTION},
            ["content-length-range", size, size],
        ]
        # botocore adds the bucket and the exact key to the policy's conditions.
        return self.s3.generate_presigned_post(self.name, key, Fields=fields,
                                               Conditions=conditions, ExpiresIn=expires)

    def create_multipart(self, key):
        """Start a multipart upload to `key`: its UploadId."""
        return self.s3.create_multipart_upload(
            Bucket=self.name, Key=key, ContentType=STORED_TYPE,
            ServerSideEncryption=ENCRYPTION)["UploadId"]

    def sign_parts(self, key, upload_id, numbers, expires):
        """Presigned PUT URLs for parts `numbers`, compactly: the URL and query parameters
        they share, and each part's own parameters (its number and signature).

        Signing is local (no call to S3); the compact form keeps what passes through the
        node small when a file has many parts.
        """
        urls = {number: self.s3.generate_presigned_url(
            "upload_part", ExpiresIn=expires,
            Params={"Bucket": self.name, "Key": key, "UploadId": upload_id,
                    "PartNumber": number}) for number in numbers}
        queries = {number: dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
                   for number, url in urls.items()}
        first = next(iter(queries.values()))
        shared = {name: value for name, value in first.items()
                  if all(query.get(name) == value for query in queries.values())}
        base = urlunsplit(urlsplit(next(iter(urls.values())))._replace(query=""))
        return {
            "url": base,
            "query": shared,
            "parts": {str(number): {name: value for name, value in query.items()
                                    if name not in shared}
                      for number, query in queries.items()},
        }

    def list_parts(self, key, upload_id):
        """The parts S3 holds for an upload: [{"PartNumber", "Size", "ETag"}], in order."""
        parts = []
        paginator = self.s3.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.name, Key=key, UploadId=upload_id):
            parts += [{"PartNumber": part["PartNumber"], "Size": part["Size"],
                       "ETag": part["ETag"]} for part in page.get("Parts", [])]
        return parts

    def complete(self, key, upload_id, parts):
        """Join the parts. Joining a big upload takes S3 a while (it may answer only when
        done): this one call may wait up to JOIN_READ_TIMEOUT for bytes, and the caller's
        budget (aws_budget_for_transfer) bounds it in all."""
        aws.client("s3", read_timeout=JOIN_READ_TIMEOUT).complete_multipart_upload(
            Bucket=self.name, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": part["PartNumber"],
                                        "ETag": part["ETag"]} for part in parts]})

    def abort(self, key, upload_id):
        """Abort a multipart upload; one S3 no longer knows is already gone."""
        try:
            self.s3.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)
        except ClientError as error:
            if error_code(error) != "NoSuchUpload":
                raise

    def stored_size(self, key):
        """The size of the object at `key`, or None if there is none."""
        try:
            return self.s3.head_object(Bucket=self.name, Key=key)["ContentLength"]
        except ClientError as error:
            if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def read_head(self, key, count):
        """The first `count` bytes of the object at `key` (fewer if it is shorter)."""
        body = self.s3.get_object(Bucket=self.name, Key=key,
                                  Range=f"bytes=0-{count - 1}")["Body"]
        try:
            return body.read(count)
        finally:
            body.close()

    def delete(self, key):
        self.s3.delete_object(Bucket=self.name, Key=key)
