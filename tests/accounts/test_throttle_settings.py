"""The throttle's configuration: required in production, and refused when it would fail open."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.accounts.checks import check_login_failure_cache, check_login_throttle
from apps.accounts.lockout import LoginFailureHandler
from tests.site.test_settings import PRODUCTION, manage, setting


def test_production_requires_the_trusted_proxy_count():
    env = dict(PRODUCTION)
    del env["STRATUS_TRUSTED_PROXY_COUNT"]

    result = manage("check", **env)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].endswith(
        "which are not set: STRATUS_TRUSTED_PROXY_COUNT")


def test_production_takes_the_trusted_proxy_count_it_is_given():
    assert setting("STRATUS_TRUSTED_PROXY_COUNT", **PRODUCTION) == "1"


def test_local_mode_trusts_no_forwarded_for_by_default():
    assert setting("STRATUS_TRUSTED_PROXY_COUNT") == "0"


def test_the_sites_login_failure_cache_passes_its_checks():
    assert check_login_failure_cache(None) == []


def cache_config(**options):
    return {"BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
            "LOCATION": "stratus-cache", "OPTIONS": options}


@pytest.mark.parametrize("config, error_ids", [
    (cache_config(CONSISTENT_READ=True), ["accounts.E003"]),
    (cache_config(CONSISTENT_READ=True, ON_ERROR="degrade"), ["accounts.E003"]),
    (cache_config(ON_ERROR="raise"), ["accounts.E004"]),
    (cache_config(), ["accounts.E003", "accounts.E004"]),
    ({"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, ["accounts.E002"]),
])
def test_a_login_failure_cache_that_would_fail_open_is_an_error(settings, config, error_ids):
    settings.CACHES = {**settings.CACHES, settings.AXES_CACHE: config}

    assert [error.id for error in check_login_failure_cache(None)] == error_ids


def test_a_missing_login_failure_cache_is_an_error(settings):
    settings.AXES_CACHE = "nowhere"

    assert [error.id for error in check_login_failure_cache(None)] == ["accounts.E001"]


@pytest.mark.parametrize("overrides", [
    {"STRATUS_LOGIN_ATTEMPTS": 0},
    {"STRATUS_LOGIN_ADDRESS_ATTEMPTS": "100"},
    {"STRATUS_LOGIN_WINDOW": True},
    {"STRATUS_LOGIN_ATTEMPTS": 10, "STRATUS_LOGIN_ADDRESS_ATTEMPTS": 9},
    {"AXES_LOCKOUT_PARAMETERS": ["ip_address"]},
])
def test_the_handler_refuses_configuration_it_does_not_implement(overrides):
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured):
        LoginFailureHandler()


def test_refused_throttle_configuration_is_a_system_check_error():
    with override_settings(STRATUS_LOGIN_ATTEMPTS=10, STRATUS_LOGIN_ADDRESS_ATTEMPTS=9):
        errors = check_login_throttle(None)

    assert [error.id for error in errors] == ["accounts.E005"]
    assert "STRATUS_LOGIN_ADDRESS_ATTEMPTS (9) must be at least" in errors[0].msg


def test_the_sites_throttle_configuration_passes_its_check():
    assert check_login_throttle(None) == []
