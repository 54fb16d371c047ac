"""Naming, typing and disposition rules of apps.library.files, without S3."""

import re

import pytest

from apps.library import files

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 12
GIF = b"GIF89a" + b"\x00" * 10
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 "


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("a/b\\c.txt", "c.txt"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
    ("evil\x00.txt", "evil.txt"),
    (".htaccess", "htaccess"),
    ("...hidden.txt", "hidden.txt"),
    ("my holiday photo.jpg", "my_holiday_photo.jpg"),
    ("résumé.pdf", "résumé.pdf"),
    ("<script>.html", "script.html"),
])
def test_safe_name_keeps_only_a_safe_basename(name, expected):
    assert files.safe_name(name) == expected


@pytest.mark.parametrize("name", [
    "Résumé 2026 — été.pdf",
    "<script>alert(1)<script>.txt",
    'my "quoted" 100% file; v2.txt',
    "日本語のファイル.txt",
    "  spaced  inside  .txt",
    "📄 emoji.png",
])
def test_display_name_keeps_a_name_as_given(name):
    assert files.display_name(name) == name.strip()


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\report.pdf", "report.pdf"),
    ("evil\x00.txt", "evil.txt"),
    ("tab\there\n.txt", "tabhere.txt"),
    ("invoice\u202egnp.exe", "invoicegnp.exe"),
    ("line\u2028break.txt", "linebreak.txt"),
    ("e\u0301te\u0301.txt", "été.txt"),
])
def test_display_name_drops_directories_and_unprintable_characters(name, expected):
    assert files.display_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", ".", "/", "dir/", "\x00\x01"])
def test_display_name_falls_back_to_file_when_nothing_is_left(name):
    assert files.display_name(name) == "file"


def test_display_name_bounds_a_long_name_in_bytes_and_keeps_its_extension():
    name = files.display_name("é" * 300 + ".pdf")
    assert len(name.encode()) <= files.MAX_DISPLAY_NAME_BYTES
    assert name == "é" * 125 + ".pdf"


def test_display_name_never_cuts_a_character_in_half():
    name = files.display_name("😀" * 100)
    assert name == "😀" * 63


@pytest.mark.parametrize("name", ["", "..", "/", "../..", "...", "???", "dir/"])
def test_safe_name_falls_back_to_file_when_nothing_is_left(name):
    assert files.safe_name(name) == "file"


def test_safe_name_caps_a_long_name_and_keeps_its_extension():
    name = files.safe_name("x" * 300 + ".tar")
    assert len(name) == files.MAX_NAME_LENGTH
    assert name.endswith("x.tar")


def test_upload_to_puts_the_safe_name_under_a_random_prefix():
    key = files.upload_to(None, "../../etc/passwd")
    assert re.fullmatch(r"uploads/[0-9a-f]{32}/passwd", key)


def test_upload_to_gives_the_same_name_a_new_prefix_each_time():
    assert files.upload_to(None, "a.txt") != files.upload_to(None, "a.txt")


@pytest.mark.parametrize("name, head, expected", [
    ("a.png", PNG, "image/png"),
    ("a.jpg", JPEG, "image/jpeg"),
    ("a.gif", GIF, "image/gif"),
    ("a.webp", WEBP, "image/webp"),
])
def test_an_image_type_is_kept_when_the_bytes_match(name, head, expected):
    assert files.content_type_for(name, head) == expected


@pytest.mark.parametrize("name, head", [
    ("a.png", b"<html><script>"),
    ("a.jpg", PNG),
    ("a.gif", b"GIF8"),
    ("a.webp", b"RIFF\x10\x00\x00\x00WAVE"),
])
def test_an_image_type_becomes_octet_stream_when_the_bytes_do_not_match(name, head):
    assert files.content_type_for(name, head) == "application/octet-stream"


def test_other_types_come_from_the_name():
    assert files.content_type_for("a.txt", b"anything") == "text/plain"


def test_an_unknown_extension_is_octet_stream():
    assert files.content_type_for("a.nosuchtype", b"x") == "application/octet-stream"


def test_a_compressed_file_is_typed_as_its_archive_not_its_contents():
    assert files.content_type_for("notes.txt.gz", b"\x1f\x8b") == "application/gzip"


def test_svg_is_not_inline():
    assert not files.is_inline(files.content_type_for("a.svg", b"<svg"))


def test_disposition_of_an_ascii_name_is_a_quoted_filename():
    assert files.content_disposition("report.pdf") == 'attachment; filename="report.pdf"'


def test_disposition_inline():
    assert files.content_disposition("a.png", inline=True) == 'inline; filename="a.png"'


def test_disposition_of_a_non_ascii_name_adds_the_rfc_5987_form():
    assert files.content_disposition("résumé.pdf") == (
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")


def test_disposition_fallback_keeps_spaces_and_drops_what_clients_misread():
    assert files.content_disposition('Résumé 2026 — "été" 50%.pdf') == (
        'attachment; filename="Resume 2026 ete 50.pdf"; '
        "filename*=UTF-8''R%C3%A9sum%C3%A9%202026%20%E2%80%94%20%22%C3%A9t%C3%A9%22%2050%25.pdf")


def test_type_from_name_ignores_the_bytes():
    assert files.type_from_name("fake.png") == "image/png"
    assert files.content_type_for("fake.png", b"text") == "application/octet-stream"


def test_disposition_of_a_name_with_no_ascii_letters_falls_back_to_file():
    assert files.content_disposition("日本.txt") == (
        "attachment; filename=\"file.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt")
