"""A session item is decompressed before Django checks the signature inside it, so the
decompression is bounded by the longest session the engine saves: a planted zlib bomb is
no session (logged), never a worker inflating hundreds of megabytes."""

import base64
import logging
import secrets

import pytest

from storage_backends.simpledb.client import SimpleDBClient, ValueTooLarge
from storage_backends.simpledb.sessions import MAX_ENCODED_BYTES, SessionStore, expiry_value
from tests.fixtures.zlib_bombs import MIB, peak_allocation, zlib_bomb

LOGGER = "storage_backends.simpledb.sessions"
BOMB_BYTES = 64 * MIB


def plant_bomb(sdb, domain):
    """A live session item whose data is a zlib stream of 64 MiB; its key."""
    key = secrets.token_hex(16)
    text = base64.b64encode(zlib_bomb(BOMB_BYTES)).decode()
    chunks = [text[i:i + 1024] for i in range(0, len(text), 1024)]
    SimpleDBClient(domain, sdb).put(key, {
        "s": "1", "x": expiry_value(2_000_000_000), "vn": str(len(chunks)), "vz": "1",
        "vs3": "", **{f"v{n:03d}": chunk for n, chunk in enumerate(chunks)},
    })
    return key


def test_a_planted_zlib_bomb_is_a_fresh_session_and_is_not_inflated(sdb, sessions_domain,
                                                                   caplog):
    key = plant_bomb(sdb, sessions_domain)
    store = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger=LOGGER), peak_allocation() as peak:
        assert store.load() == {}
    assert store.session_key is None
    assert peak[0] < 8 * MIB < BOMB_BYTES
    assert f"decompresses to more than {MAX_ENCODED_BYTES} bytes" in caplog.text


def test_a_planted_zlib_bomb_in_a_cookie_gets_a_page_and_a_new_session(settings, client, sdb,
                                                                     sessions_domain):
    settings.SESSION_ENGINE = "storage_backends.simpledb.sessions"
    settings.ROOT_URLCONF = "tests.sessions.urls"
    key = plant_bomb(sdb, sessions_domain)
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    response = client.get("/write/")
    assert response.status_code == 200 and response.content == b"1"
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != key


def test_a_session_whose_encoding_is_over_the_bound_is_refused_on_save(sessions_domain):
    store = SessionStore()
    store["noise"] = secrets.token_urlsafe(MAX_ENCODED_BYTES)
    with pytest.raises(ValueTooLarge, match=f"more than the {MAX_ENCODED_BYTES}"):
        store.save()
