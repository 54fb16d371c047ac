"""A file keeps the name its user gave for people; only its S3 key is sanitised.

The name is shown (autoescaped) in the list, on its page, on the delete page and in the
admin, and comes back in the download's Content-Disposition: an ASCII `filename=` for old
clients and the exact name as RFC 5987 `filename*`.
"""

import html
import re
from urllib.parse import unquote

import pytest
from django.urls import reverse

from apps.library.models import File

from .helpers import fetch, presigned_query, upload, upload_raw

pytestmark = pytest.mark.django_db

ACCENTED = "Résumé 2026 — été.pdf"
#: The audit's second example. No browser sends a slash inside a file's name (a file on
#: disk cannot hold one); Django's multipart parser keeps what follows the last one.
SCRIPT = "../<script>alert(1)</script>.txt"
SCRIPT_AS_RECEIVED = "script>.txt"
#: Markup that a file on disk can really be called: it reaches the site whole.
MARKUP = '<img src=x onerror="alert(1)">.txt'
DATA = b"%PDF-1.7\n"


def disposition_name(disposition):
    """The name a client that reads RFC 5987 takes from a Content-Disposition value."""
    [value] = re.findall(r"filename\*=([^;]+)", disposition)
    charset, _language, encoded = value.strip().split("'", 2)
    assert charset == "UTF-8"
    return unquote(encoded, encoding="utf-8", errors="strict")


def fallback_name(disposition):
    """The quoted ASCII `filename=` of a Content-Disposition value."""
    [value] = re.findall(r'filename="([^"]*)"', disposition)
    return value


def uploaded(client, name, raw=False):
    response = (upload_raw if raw else upload)(client, name, DATA)
    assert response.status_code == 302, response.content
    return File.objects.latest("pk")


def download_disposition(client, file):
    """The ResponseContentDisposition the download's presigned URL asks S3 for."""
    response = client.get(reverse("library:download", args=[file.public_id]))
    return presigned_query(response.url)["response-content-disposition"], response.url


def test_the_accented_name_is_kept_as_given(user_client):
    assert uploaded(user_client, ACCENTED).original_name == ACCENTED


def test_only_the_s3_key_is_sanitised(user_client):
    file = uploaded(user_client, ACCENTED)
    assert re.fullmatch(r"uploads/[0-9a-f]{32}/Résumé_2026__été\.pdf", file.file.name)


def test_the_list_and_the_page_show_the_accented_name(user_client):
    file = uploaded(user_client, ACCENTED)
    for url in [reverse("library:list"), file.get_absolute_url(),
                reverse("library:delete", args=[file.public_id])]:
        assert ACCENTED in user_client.get(url).content.decode()


def test_the_download_carries_the_accented_name_as_rfc_5987(user_client):
    disposition, _ = download_disposition(user_client, uploaded(user_client, ACCENTED))
    assert disposition_name(disposition) == ACCENTED
    assert fallback_name(disposition) == "Resume 2026 ete.pdf"
    assert disposition.isascii()


def test_s3_sends_the_accented_name_back(user_client):
    _, url = download_disposition(user_client, uploaded(user_client, ACCENTED))
    status, headers, _ = fetch(url)
    assert status == 200
    assert disposition_name(headers["Content-Disposition"]) == ACCENTED


def test_a_name_with_directories_keeps_what_follows_the_last_separator(user_client):
    file = uploaded(user_client, SCRIPT, raw=True)
    assert file.original_name == SCRIPT_AS_RECEIVED
    assert file.file.name.endswith("/script.txt")


def test_the_script_name_round_trips_as_text(user_client):
    file = uploaded(user_client, SCRIPT, raw=True)
    page = user_client.get(file.get_absolute_url()).content.decode()
    assert html.escape(SCRIPT_AS_RECEIVED) in page
    assert SCRIPT_AS_RECEIVED not in page  # never unescaped
    disposition, url = download_disposition(user_client, file)
    assert disposition_name(disposition) == SCRIPT_AS_RECEIVED
    assert fallback_name(disposition) == "script.txt"
    assert disposition_name(fetch(url)[1]["Content-Disposition"]) == SCRIPT_AS_RECEIVED


def test_markup_in_a_name_round_trips_escaped_everywhere(user_client, admin_client):
    file = uploaded(user_client, MARKUP, raw=True)
    assert file.original_name == MARKUP
    pages = [user_client.get(reverse("library:list")),
             user_client.get(file.get_absolute_url()),
             user_client.get(reverse("library:delete", args=[file.public_id])),
             admin_client.get(reverse("admin:library_file_changelist")),
             admin_client.get(reverse("admin:library_file_change", args=[file.pk]))]
    for page in pages:
        content = page.content.decode()
        assert "<img src=x" not in content
        assert html.escape(MARKUP) in content or html.escape(MARKUP, quote=False) in content


def test_markup_in_a_name_reaches_the_download_exactly(user_client):
    disposition, url = download_disposition(user_client, uploaded(user_client, MARKUP,
                                                                   raw=True))
    assert disposition_name(disposition) == MARKUP
    assert not set('<>"') & set(fallback_name(disposition))
    assert disposition_name(fetch(url)[1]["Content-Disposition"]) == MARKUP


def test_a_double_quote_sent_as_browsers_encode_it_is_kept(user_client):
    # WHATWG's multipart/form-data encoding sends " in a file name as %22.
    file = uploaded(user_client, "say %22cheese%22.txt", raw=True)
    assert file.original_name == 'say "cheese".txt'


def test_control_and_bidi_characters_never_reach_the_name(user_client):
    file = uploaded(user_client, "invoice\u202egnp.exe\x07", raw=True)
    assert file.original_name == "invoicegnp.exe"


def test_the_upload_message_names_the_file_as_given(user_client):
    response = upload(user_client, ACCENTED, DATA)
    page = user_client.get(response.url)
    assert f"Uploaded {ACCENTED}." in [str(m) for m in page.context["messages"]]


def test_a_long_name_is_bounded_and_keeps_its_extension(user_client):
    file = uploaded(user_client, "é" * 300 + ".pdf")
    assert len(file.original_name.encode()) <= 255
    assert file.original_name.endswith("éé.pdf")
    disposition, _ = download_disposition(user_client, file)
    assert disposition_name(disposition) == file.original_name


def test_the_admin_shows_the_name_as_given(admin_client, user_client):
    file = uploaded(user_client, ACCENTED)
    response = admin_client.get(reverse("admin:library_file_change", args=[file.pk]))
    assert ACCENTED in response.content.decode()
    assert file.file.name in response.content.decode()  # the sanitised key beside it


def test_the_admin_searches_the_name_as_given(admin_client, user_client):
    file = uploaded(user_client, ACCENTED)
    response = admin_client.get(reverse("admin:library_file_changelist"), {"q": "été"})
    assert list(response.context["cl"].result_list) == [file]


def test_unquoted_fallback_never_holds_a_percent_sign(user_client):
    # Some clients percent-decode filename=; a literal % must not reach it.
    disposition, _ = download_disposition(user_client, uploaded(user_client, "100% done.txt"))
    assert fallback_name(disposition) == "100 done.txt"
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "100% done.txt"
