"""When a file's page warns: the type its name suggests against the type its bytes show."""

import pytest
from django.utils import timezone

from apps.library.files import content_type_for
from apps.library.models import File

PNG_HEAD = b"\x89PNG\r\n\x1a\n"


def checked(name, head, detected):
    """A File named `name` whose content starts with `head`, facts recorded as `detected`."""
    return File(original_name=name, content_type=content_type_for(name, head),
                detected_type=detected, facts_recorded_at=timezone.now())


@pytest.mark.parametrize("name, head, detected", [
    ("fake.png", b"plain text", "text/plain"),
    ("fake.jpg", b"%PDF-1.7", "application/pdf"),
    ("report.pdf", b"plain text", "text/plain"),
    ("photo.png", b"PK\x03\x04", "application/zip"),
    ("archive.zip", PNG_HEAD, "image/png"),
], ids=["png-name-text", "jpeg-name-pdf", "pdf-name-text", "png-name-zip", "zip-name-png"])
def test_contents_that_contradict_the_name_disagree(name, head, detected):
    assert checked(name, head, detected).type_disagrees


def test_a_png_name_on_other_bytes_is_still_compared_as_png():
    file = checked("fake.png", b"plain text", "text/plain")
    assert file.content_type == "application/octet-stream"  # what is stored and served
    assert file.type_from_name == "image/png"  # what the warning compares


@pytest.mark.parametrize("name, head, detected", [
    ("dot.png", PNG_HEAD, "image/png"),
    ("notes.txt", b"text", "text/plain"),
    ("data.json", b"{}", "text/plain"),
    ("page.svg", b"<svg", "text/plain"),
    ("letter.docx", b"PK\x03\x04", "application/zip"),
    ("blob.txt", b"\x00\x01", "application/octet-stream"),
    ("README", b"text", "text/plain"),
    ("odd.nosuchtype", b"%PDF-", "application/pdf"),
], ids=["png", "text", "json-is-text", "svg-is-text", "docx-is-zip", "unknown-bytes",
        "no-extension", "unknown-extension"])
def test_contents_that_fit_the_name_or_say_nothing_agree(name, head, detected):
    assert not checked(name, head, detected).type_disagrees


def test_a_file_whose_facts_are_pending_never_disagrees():
    file = File(original_name="fake.png", content_type="application/octet-stream")
    assert file.facts_pending and not file.type_disagrees
