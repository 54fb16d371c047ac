"""The log-in counters live in a domain (or table) of their own: culling the default cache
(MAX_ENTRIES culls a whole domain) or clearing it never lifts a lock-out."""

import pytest
from django.conf import settings

from storage_backends import aws, resources

pytestmark = pytest.mark.usefixtures("each_state_store")


def location(alias):
    return settings.CACHES[alias]["LOCATION"]


def in_use():
    """The domains or tables provisioning makes for the store in use."""
    return resources.tables() if settings.STRATUS_STATE_STORE == "dynamodb" \
        else resources.domains()


def on_the_local_stack():
    if settings.STRATUS_STATE_STORE == "dynamodb":
        return aws.client("dynamodb").list_tables()["TableNames"]
    return aws.client("sdb").list_domains()["DomainNames"]


def test_the_counters_domain_is_not_the_default_caches():
    assert location(settings.AXES_CACHE) != location("default")


def test_provisioning_names_the_counters_domain():
    assert location(settings.AXES_CACHE) in in_use()


def test_the_counters_domain_exists_on_the_local_stack():
    assert location(settings.AXES_CACHE) in on_the_local_stack()
