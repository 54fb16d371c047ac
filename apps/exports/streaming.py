"""Writing a zip straight into S3: a write-only stream that sends S3 multipart parts as it
fills (MultipartUpload), and write_zip, which streams each file's object into it.

Memory stays flat whatever the sizes: a file is read from S3 CHUNK_BYTES at a time and
the zip is held at most one part (PART_BYTES) before it is sent; nothing touches the disk.
Python's zipfile writes to a stream it cannot seek with a data descriptor after each entry,
and with ZIP64 records where a size or an offset needs them (an entry whose declared size
is near 4 GiB, an archive past 4 GiB).
"""

import zipfile

from apps.library.tasks import CHUNK_BYTES, stored_chunks

#: Bytes of each multipart part: S3 wants at least 5 MiB but for the last; at most 10,000
#: parts, so 16 MiB parts reach 156 GiB.
PART_BYTES = 16 * 1024 * 1024


class MultipartUpload:
    """A write-only, unseekable stream into one new S3 object, by multipart upload.

    complete() sends the rest and makes the object; abort() drops the parts sent.
    """

    def __init__(self, s3, bucket, key, part_bytes=PART_BYTES):
        self.s3, self.bucket, self.key, self.part_bytes = s3, bucket, key, part_bytes
        self.upload_id = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType="application/zip",
            ServerSideEncryption="AES256")["UploadId"]
        self.buffer = bytearray()
        self.parts = []
        self.size = 0

    def write(self, data):
        self.buffer += data
        self.size += len(data)
        while len(self.buffer) >= self.part_bytes:
            self._send(bytes(self.buffer[:self.part_bytes]))
            del self.buffer[:self.part_bytes]
        return len(data)

    def flush(self):
        """Nothing: a part goes when it is full (S3's minimum part size)."""

    def complete(self):
        if self.buffer or not self.parts:
            self._send(bytes(self.buffer))
            self.buffer.clear()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts})

    def abort(self):
        self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                       UploadId=self.upload_id)

    def _send(self, body):
        number = len(self.parts) + 1
        etag = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                   PartNumber=number, Body=body)["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})


def entry_names(names):
    """Names for the zip's entries: no path separators (an entry cannot land outside the
    folder it is unpacked in), and each unique ("a.txt", "a (2).txt", …)."""
    taken = set()
    result = []
    for name in names:
        name = name.replace("/", "_").replace("\\", "_").lstrip(".") or "file"
        stem, dot, suffix = name.rpartition(".")
        if not dot or not stem:
            stem, dot, suffix = name, "", ""
        candidate, n = name, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{stem} ({n}){dot}{suffix}"
        taken.add(candidate.casefold())
        result.append(candidate)
    return result


def write_zip(stream, files, on_progress):
    """Write `files` (File rows) as a zip into `stream`, each streamed from its S3 object.

    on_progress(files_done, bytes_done) is called after each chunk read and each file (it
    may raise, to stop).
    """
    bytes_done = 0
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        for done, (file, name) in enumerate(
                zip(files, entry_names(f.original_name for f in files)), start=1):
            info = zipfile.ZipInfo(name, date_time=file.uploaded_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = file.size  # so zipfile chooses ZIP64 for a large entry up front
            with archive.open(info, "w") as entry, \
                    stored_chunks(file.file.name, file.file.storage, CHUNK_BYTES) as chunks:
                for chunk in chunks:
                    entry.write(chunk)
                    bytes_done += len(chunk)
                    on_progress(done - 1, bytes_done)
            on_progress(done, bytes_done)
