"""What every Django session engine must do: a conformance mixin, bound by a one-line subclass.

Modelled on the behaviours Django's own SessionTestsMixin checks (the dict interface, keys,
persistence, cycling, expiry, encoding, the async twins SessionBase provides), written for
pytest. A subclass sets `backend` to a SessionStore class:

    class TestMyStore(SessionBackendContract):
        backend = SessionStore

Nothing here knows how a backend stores its data; engine-specific behaviour (call budgets,
consistency, failure) is tested next to the engine.
"""

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.serializers import JSONSerializer
from django.core import signing
from django.utils import timezone

#: A well-formed session key no test ever creates.
UNKNOWN_KEY = "nosuchsession0000000000000000000"


def async_test(function):
    """Run an `async def` test body to completion, in a thread with an event loop of its own.

    Not in the test's thread: a session-scoped fixture may keep a loop running there
    (Playwright's sync API does), and asgiref refuses to start another under it.
    """
    @functools.wraps(function)
    def run(*args, **kwargs):
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(async_to_sync(function), *args, **kwargs).result()
    return run


def close_to(value, expected, slack=1):
    return abs(value - expected) <= slack


class SessionBackendContract:
    backend = None  # the SessionStore class under test

    @pytest.fixture
    def session(self):
        store = self.backend()
        yield store
        store.delete()

    def saved(self, **data):
        """A session holding `data`, saved; its key."""
        store = self.backend()
        store.update(data)
        store.save()
        return store.session_key

    def reload(self, session_key):
        """A fresh store for the key, as the next request would get."""
        return self.backend(session_key)

    # -- a new session ----------------------------------------------------------------------
    def test_new_session_is_untouched(self, session):
        assert session.modified is False
        assert session.accessed is False
        assert session.session_key is None

    def test_new_session_is_empty(self, session):
        assert session.is_empty()
        assert not session
        assert list(session.keys()) == []

    def test_get_of_a_missing_key_is_none_or_the_default(self, session):
        assert session.get("cat") is None
        assert session.get("cat", "dog") == "dog"
        assert session.accessed is True
        assert session.modified is False

    # -- the dict interface -----------------------------------------------------------------
    def test_setting_a_value_marks_the_session_modified(self, session):
        session["cat"] = "dog"
        assert session.modified is True
        assert session.accessed is True
        assert session["cat"] == "dog"
        assert "cat" in session

    def test_getitem_of_a_missing_key_raises_keyerror(self, session):
        with pytest.raises(KeyError):
            session["cat"]

    def test_delitem_removes_and_marks_modified(self, session):
        session["cat"] = "dog"
        session.modified = False
        del session["cat"]
        assert "cat" not in session
        assert session.modified is True

    def test_pop_returns_the_value_and_marks_modified(self, session):
        session["cat"] = "dog"
        session.modified = False
        session.accessed = False
        assert session.pop("cat") == "dog"
        assert session.accessed is True
        assert session.modified is True
        assert session.get("cat") is None

    def test_pop_of_a_missing_key_returns_the_default_unmodified(self, session):
        assert session.pop("cat", "dog") == "dog"
        assert session.accessed is True
        assert session.modified is False

    def test_pop_default_may_be_given_by_name(self, session):
        assert session.pop("cat", default="dog") == "dog"
        assert session.modified is False

    def test_pop_of_a_missing_key_without_default_raises_keyerror(self, session):
        with pytest.raises(KeyError):
            session.pop("cat")
        assert session.modified is False

    def test_setdefault_sets_once(self, session):
        assert session.setdefault("cat", "dog") == "dog"
        assert session.setdefault("cat", "mouse") == "dog"
        assert session["cat"] == "dog"
        assert session.modified is True

    def test_update_merges_and_marks_modified(self, session):
        session["cat"] = "dog"
        session.modified = False
        session.update({"cat": "mouse", "bird": "fish"})
        assert session.modified is True
        assert dict(session.items()) == {"cat": "mouse", "bird": "fish"}

    def test_has_key(self, session):
        session["cat"] = "dog"
        session.modified = False
        assert session.has_key("cat")
        assert not session.has_key("bird")
        assert session.modified is False

    def test_keys_values_items(self, session):
        session.update({"a": 1, "b": [2, 3]})
        session.modified = False
        session.accessed = False
        assert sorted(session.keys()) == ["a", "b"]
        assert session.accessed is True
        assert sorted(map(str, session.values())) == ["1", "[2, 3]"]
        assert sorted(session.items()) == [("a", 1), ("b", [2, 3])]
        assert session.modified is False

    def test_clear_empties_without_loading(self, session):
        session.update({"a": 1})
        session.modified = False
        session.accessed = False
        session.clear()
        assert list(session.items()) == []
        assert session.accessed is True
        assert session.modified is True

    def test_truthiness_follows_content(self, session):
        assert not session
        session["a"] = 1
        assert session
        assert not session.is_empty()

    def test_test_cookie(self, session):
        assert not session.test_cookie_worked()
        session.set_test_cookie()
        assert session.test_cookie_worked()
        session.delete_test_cookie()
        assert not session.test_cookie_worked()

    # -- persistence ------------------------------------------------------------------------
    def test_save_gives_a_key_that_exists(self, session):
        session["cat"] = "dog"
        session.save()
        assert session.session_key is not None
        assert session.exists(session.session_key)

    def test_saved_data_reads_back_in_another_store(self):
        key = self.saved(cat="dog", numbers=[1, 2, 3], nested={"a": {"b": None}}, flag=True)
        again = self.reload(key)
        assert again["cat"] == "dog"
        assert again["numbers"] == [1, 2, 3]
        assert again["nested"] == {"a": {"b": None}}
        assert again["flag"] is True
        assert again.session_key == key
        again.delete()

    def test_saving_again_updates_the_stored_data(self):
        key = self.saved(cat="dog")
        store = self.reload(key)
        store["cat"] = "mouse"
        store.save()
        assert store.session_key == key
        assert self.reload(key)["cat"] == "mouse"
        store.delete()

    def test_save_keeps_the_data_in_memory(self, session):
        session["cat"] = "dog"
        session.save()
        assert session["cat"] == "dog"
        assert dict(session.items()) == {"cat": "dog"}

    def test_an_empty_session_saved_and_loaded_is_empty(self, session):
        session.save()
        assert session.session_key is not None
        assert dict(self.reload(session.session_key).items()) == {}

    def test_create_saves_an_empty_session_under_a_new_key(self, session):
        session.create()
        assert session.session_key is not None
        assert session.modified is True
        assert session.exists(session.session_key)
        other = self.backend()
        other.create()
        assert other.session_key != session.session_key
        other.delete()

    def test_delete_removes_the_stored_session(self, session):
        session["cat"] = "dog"
        session.save()
        session.delete()
        assert not session.exists(session.session_key)
        assert dict(self.reload(session.session_key).items()) == {}

    def test_delete_by_key_removes_that_session_only(self, session):
        first, second = self.saved(n=1), self.saved(n=2)
        session.delete(first)
        assert not session.exists(first)
        assert session.exists(second)
        session.delete(second)

    def test_delete_without_a_key_does_nothing(self, session):
        session.delete()
        assert session.session_key is None

    def test_delete_of_an_unknown_key_does_nothing(self, session):
        session.delete(UNKNOWN_KEY)
        assert not session.exists(UNKNOWN_KEY)

    def test_flush_empties_deletes_and_forgets_the_key(self, session):
        session["cat"] = "dog"
        session.save()
        key = session.session_key
        session.flush()
        assert not session.exists(key)
        assert session.session_key is None
        assert session.modified is True
        assert session.accessed is True
        assert dict(session.items()) == {}

    def test_cycle_key_keeps_data_under_a_new_key_and_deletes_the_old(self, session):
        session["cat"] = "dog"
        session.save()
        old_key = session.session_key
        session.cycle_key()
        assert session.session_key != old_key
        assert session["cat"] == "dog"
        assert not session.exists(old_key)
        session.save()
        assert self.reload(session.session_key)["cat"] == "dog"

    def test_cycle_key_loads_data_it_did_not_have_yet(self):
        key = self.saved(cat="dog", bird="fish")
        store = self.reload(key)
        store.cycle_key()
        assert store.session_key != key
        assert dict(store.items()) == {"cat": "dog", "bird": "fish"}
        assert not store.exists(key)
        assert self.reload(store.session_key)["bird"] == "fish"
        store.delete()

    def test_cycle_key_of_an_unsaved_session_creates_one(self, session):
        session["cat"] = "dog"
        session.cycle_key()
        assert session.session_key is not None
        assert session["cat"] == "dog"
        assert session.exists(session.session_key)

    def test_exists_is_false_for_unknown_and_missing_keys(self, session):
        assert not session.exists(UNKNOWN_KEY)
        assert not session.exists(None)
        assert not session.exists("")

    def test_an_unknown_key_loads_empty_and_creates_nothing(self):
        store = self.backend(UNKNOWN_KEY)
        assert store.load() == {}
        assert store.session_key is None
        assert not store.exists(UNKNOWN_KEY)

    def test_an_unknown_key_gets_a_new_key_when_data_is_saved(self):
        store = self.backend(UNKNOWN_KEY)
        store["cat"] = "dog"
        store.save()
        assert store.session_key not in (None, UNKNOWN_KEY)
        assert self.reload(store.session_key)["cat"] == "dog"
        assert not store.exists(UNKNOWN_KEY)
        store.delete()

    def test_an_invalid_key_is_replaced_on_save(self):
        store = self.backend("1")
        store["cat"] = "dog"
        store.save()
        assert store.session_key not in (None, "1")
        store.delete()

    def test_updating_a_session_deleted_elsewhere_raises_update_error(self):
        key = self.saved(cat="dog")
        mine = self.reload(key)
        mine["cat"] = "mouse"  # loaded while it still existed
        self.reload(key).delete()  # a log-out in a concurrent request
        with pytest.raises(UpdateError):
            mine.save()
        assert self.reload(key).load() == {}
        assert not mine.exists(key)

    def test_saving_an_unloaded_session_that_is_gone_raises_update_error(self):
        key = self.saved(cat="dog")
        mine = self.reload(key)
        self.reload(key).delete()
        with pytest.raises(UpdateError):
            mine.save()
        assert not mine.exists(key)

    # -- the key ----------------------------------------------------------------------------
    def test_empty_key_is_no_key(self, session):
        session._session_key = ""
        assert session.session_key is None

    def test_key_shorter_than_eight_is_no_key(self, session):
        session._session_key = "1234567"
        assert session.session_key is None

    def test_key_of_eight_or_more_is_kept(self, session):
        session._session_key = "12345678"
        assert session.session_key == "12345678"

    def test_session_key_is_read_only(self, session):
        with pytest.raises(AttributeError):
            session.session_key = "12345678"

    def test_new_keys_are_lowercase_letters_and_digits(self, session):
        session.save()
        assert len(session.session_key) >= 8
        assert session.session_key == session.session_key.lower()
        assert session.session_key.isalnum()

    # -- expiry -----------------------------------------------------------------------------
    def test_default_expiry_is_the_cookie_age(self, session, settings):
        assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
        expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        assert close_to(session.get_expiry_date().timestamp(), expected.timestamp())

    def test_expiry_of_zero_is_the_cookie_age_too(self, session, settings):
        session.set_expiry(0)
        assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
        expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        assert close_to(session.get_expiry_date().timestamp(), expected.timestamp())

    def test_expiry_in_seconds(self, session):
        session.set_expiry(10)
        assert session.get_expiry_age() == 10
        expected = timezone.now() + timedelta(seconds=10)
        assert close_to(session.get_expiry_date().timestamp(), expected.timestamp())

    def test_expiry_as_timedelta(self, session):
        session.set_expiry(timedelta(seconds=10))
        assert session.get_expiry_age() in (9, 10)
        expected = timezone.now() + timedelta(seconds=10)
        assert close_to(session.get_expiry_date().timestamp(), expected.timestamp())

    def test_expiry_as_datetime(self, session):
        moment = timezone.now() + timedelta(seconds=10)
        session.set_expiry(moment)
        assert session.get_expiry_age() in (9, 10)
        assert session.get_expiry_date() == moment

    def test_expiry_none_restores_the_default(self, session, settings):
        session.set_expiry(10)
        session.set_expiry(None)
        assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
        session.set_expiry(None)  # with nothing to remove
        assert "_session_expiry" not in session

    def test_expiry_age_and_date_from_given_values_do_not_load(self):
        key = self.saved(cat="dog")
        store = self.reload(key)
        modification = timezone.now()
        assert store.get_expiry_age(modification=modification, expiry=30) == 30
        moment = modification + timedelta(seconds=30)
        assert store.get_expiry_age(modification=modification, expiry=moment) == 30
        assert store.get_expiry_age(modification=modification,
                                    expiry=moment.isoformat()) == 30
        assert store.get_expiry_date(modification=modification, expiry=30) == moment
        assert store.get_expiry_date(modification=modification, expiry=moment) == moment
        assert store.accessed is False
        store.delete()

    def test_expiry_age_given_no_expiry_is_the_cookie_age(self, session, settings):
        modification = timezone.now()
        assert session.get_expiry_age(modification=modification,
                                      expiry=None) == settings.SESSION_COOKIE_AGE
        assert session.get_expiry_date(modification=modification, expiry=None) == (
            modification + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        )

    def test_expire_at_browser_close_follows_the_setting_by_default(self, session, settings):
        settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = False
        assert session.get_expire_at_browser_close() is False
        settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
        assert session.get_expire_at_browser_close() is True

    @pytest.mark.parametrize("setting", [False, True])
    def test_expire_at_browser_close_follows_a_custom_expiry(self, session, settings, setting):
        settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = setting
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(0)
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is setting

    def test_custom_expiry_is_saved_with_the_session(self):
        store = self.backend()
        store["cat"] = "dog"
        store.set_expiry(123)
        store.save()
        again = self.reload(store.session_key)
        assert again.get_expiry_age() == 123
        again.delete()

    def test_a_session_past_its_expiry_reads_as_empty(self):
        store = self.backend()
        store["cat"] = "dog"
        store.set_expiry(-timedelta(seconds=10))
        store.save()
        key = store.session_key
        try:
            again = self.reload(key)
            assert "cat" not in again
            assert not store.exists(key)
        finally:
            store.delete(key)

    def test_a_session_with_negative_seconds_expiry_reads_as_empty(self):
        store = self.backend()
        store["cat"] = "dog"
        store.set_expiry(-10)
        store.save()
        try:
            assert "cat" not in self.reload(store.session_key)
        finally:
            store.delete()

    # -- encoding ---------------------------------------------------------------------------
    def test_encode_then_decode_round_trips(self, session):
        data = {"a test key": "a test value", "n": 1, "list": [1, "two"]}
        assert session.decode(session.encode(data)) == data

    def test_encoded_data_is_signed(self, session):
        encoded = session.encode({"a": 1})
        assert signing.loads(encoded, salt=session.key_salt) == {"a": 1}

    def test_data_signed_with_another_key_decodes_empty_and_is_logged(self, session, caplog):
        forged = signing.dumps({"a": 1}, key="another secret", salt=session.key_salt,
                               compress=True)
        with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
            assert session.decode(forged) == {}
        assert "Session data corrupted" in caplog.text

    def test_garbage_decodes_empty(self, session, caplog):
        with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
            assert session.decode("not:a-signed:value") == {}
        assert "Session data corrupted" in caplog.text

    def test_a_serializer_failure_decodes_empty(self, session, monkeypatch):
        def explode(self, data):
            raise ValueError("not this")
        monkeypatch.setattr(JSONSerializer, "loads", explode)
        assert session.decode(session.encode({"a": 1})) == {}

    def test_data_signed_with_a_fallback_key_still_decodes(self, session, settings):
        encoded = session.encode({"a": 1})
        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = "a rotated secret key, long enough for anyone's taste"
        assert session.decode(encoded) == {"a": 1}

    def test_the_default_serializer_is_json(self, session):
        assert session.serializer is JSONSerializer

    # -- async --------------------------------------------------------------------------------
    @async_test
    async def test_aget_of_a_missing_key(self, session):
        assert await session.aget("cat") is None
        assert await session.aget("cat", "dog") == "dog"

    @async_test
    async def test_aset_marks_modified(self, session):
        await session.aset("cat", "dog")
        assert session.modified is True
        assert await session.aget("cat") == "dog"

    @async_test
    async def test_apop(self, session):
        await session.aset("cat", "dog")
        session.modified = False
        assert await session.apop("cat") == "dog"
        assert session.modified is True
        assert await session.apop("cat", "mouse") == "mouse"
        assert await session.apop("cat", default="bird") == "bird"
        with pytest.raises(KeyError):
            await session.apop("cat")

    @async_test
    async def test_asetdefault_and_aupdate(self, session):
        assert await session.asetdefault("cat", "dog") == "dog"
        assert await session.asetdefault("cat", "mouse") == "dog"
        session.modified = False
        await session.aupdate({"bird": "fish"})
        assert session.modified is True
        assert await session.ahas_key("bird")
        assert not await session.ahas_key("fox")

    @async_test
    async def test_akeys_avalues_aitems(self, session):
        await session.aupdate({"a": 1, "b": 2})
        assert sorted(await session.akeys()) == ["a", "b"]
        assert sorted(await session.avalues()) == [1, 2]
        assert sorted(await session.aitems()) == [("a", 1), ("b", 2)]

    @async_test
    async def test_atest_cookie(self, session):
        assert not await session.atest_cookie_worked()
        await session.aset_test_cookie()
        assert await session.atest_cookie_worked()
        await session.adelete_test_cookie()
        assert not await session.atest_cookie_worked()

    @async_test
    async def test_asave_then_aload_round_trips(self, session):
        await session.aset("cat", "dog")
        await session.asave()
        again = self.backend(session.session_key)
        assert await again.aload() == {"cat": "dog"}
        assert await again.aget("cat") == "dog"
        assert await session.aexists(session.session_key)

    @async_test
    async def test_acreate_and_adelete(self, session):
        await session.acreate()
        key = session.session_key
        assert key is not None
        assert await session.aexists(key)
        await session.adelete()
        assert not await session.aexists(key)

    @async_test
    async def test_adelete_by_key_and_without_one(self, session):
        await session.adelete()  # no key: nothing to do
        await session.aset("n", 1)
        await session.asave()
        await self.backend().adelete(session.session_key)
        assert not await session.aexists(session.session_key)

    @async_test
    async def test_aflush(self, session):
        await session.aset("cat", "dog")
        await session.asave()
        key = session.session_key
        await session.aflush()
        assert session.session_key is None
        assert not await session.aexists(key)
        assert await session.aget("cat") is None

    @async_test
    async def test_acycle_key(self, session):
        await session.aset("cat", "dog")
        await session.asave()
        old_key = session.session_key
        await session.acycle_key()
        assert session.session_key != old_key
        assert await session.aget("cat") == "dog"
        assert not await session.aexists(old_key)

    @async_test
    async def test_acycle_key_loads_data_it_did_not_have_yet(self):
        key = self.saved(cat="dog")
        store = self.backend(key)
        await store.acycle_key()
        assert store.session_key != key
        assert await store.aget("cat") == "dog"
        assert not await store.aexists(key)
        await store.adelete()

    @async_test
    async def test_aload_of_an_unknown_key_creates_nothing(self):
        store = self.backend(UNKNOWN_KEY)
        assert await store.aload() == {}
        assert store.session_key is None
        assert not await store.aexists(UNKNOWN_KEY)

    @async_test
    async def test_asave_of_a_session_deleted_elsewhere_raises_update_error(self):
        key = self.saved(cat="dog")
        mine = self.backend(key)
        await mine.aset("cat", "mouse")
        await self.backend(key).adelete()
        with pytest.raises(UpdateError):
            await mine.asave()
        assert await self.backend(key).aload() == {}

    @async_test
    async def test_async_expiry(self, session, settings):
        assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE
        await session.aset_expiry(10)
        assert await session.aget_expiry_age() == 10
        expected = timezone.now() + timedelta(seconds=10)
        assert close_to((await session.aget_expiry_date()).timestamp(), expected.timestamp())
        assert await session.aget_expire_at_browser_close() is False
        await session.aset_expiry(0)
        assert await session.aget_expire_at_browser_close() is True
        await session.aset_expiry(timedelta(seconds=20))
        assert await session.aget_expiry_age() in (19, 20)
        moment = timezone.now() + timedelta(seconds=30)
        await session.aset_expiry(moment)
        assert await session.aget_expiry_date() == moment
        await session.aset_expiry(None)
        await session.aset_expiry(None)
        assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE

    @async_test
    async def test_async_expiry_from_given_values(self, session):
        modification = datetime(2030, 1, 1, tzinfo=UTC)
        assert await session.aget_expiry_age(modification=modification, expiry=5) == 5
        assert await session.aget_expiry_date(modification=modification, expiry=5) == (
            modification + timedelta(seconds=5)
        )
        assert session.accessed is False

    @async_test
    async def test_a_session_past_its_expiry_reads_as_empty_async(self):
        store = self.backend()
        await store.aset("cat", "dog")
        await store.aset_expiry(-timedelta(seconds=10))
        await store.asave()
        key = store.session_key
        try:
            assert await self.backend(key).aget("cat") is None
        finally:
            await store.adelete(key)
