"""System checks report a misconfigured session engine or cache before any request."""

from django.core import checks

from storage_backends.checks import (
    check_dynamodb_caches,
    check_simpledb_caches,
    check_simpledb_sessions,
)


def test_the_site_configuration_passes_the_checks():
    assert checks.run_checks() == []


def test_an_unknown_cache_option_is_an_error(settings):
    settings.CACHES = {"default": {"BACKEND": "storage_backends.simpledb.cache.SimpleDBCache",
                                   "LOCATION": "stratus-cache",
                                   "OPTIONS": {"CONSISTENT_READS": True}}}
    [error] = check_simpledb_caches(None)
    assert error.id == "storage_backends.E002"
    assert "CONSISTENT_READS" in error.msg


def test_a_bad_sessions_domain_is_an_error(settings):
    settings.SESSION_ENGINE = "storage_backends.simpledb.sessions"
    settings.SIMPLEDB_SESSIONS_DOMAIN = "x"
    [error] = check_simpledb_sessions(None)
    assert error.id == "storage_backends.E003"


def test_the_sessions_check_is_silent_for_other_engines(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    settings.SIMPLEDB_SESSIONS_DOMAIN = "x"
    assert check_simpledb_sessions(None) == []


def test_a_bad_dynamodb_cache_option_is_an_error(settings):
    settings.CACHES = {"default": {"BACKEND": "storage_backends.dynamodb.cache.DynamoDBCache",
                                   "LOCATION": "stratus-cache",
                                   "OPTIONS": {"MAX_ENTRIES": 1000}}}
    [error] = check_dynamodb_caches(None)
    assert error.id == "storage_backends.E010"
    assert "does not cull" in error.msg
