"""The log-in counters live in a domain of their own: culling the default cache (MAX_ENTRIES
culls a whole domain) or clearing it never lifts a lock-out."""

from django.conf import settings
from django.core.cache import caches

from storage_backends import aws, resources


def test_the_counters_domain_is_not_the_default_caches():
    assert caches[settings.AXES_CACHE].domain != caches["default"].domain


def test_provisioning_names_the_counters_domain():
    assert caches[settings.AXES_CACHE].domain in resources.domains()


def test_the_counters_domain_exists_on_the_local_stack():
    domains = aws.client("sdb").list_domains()["DomainNames"]
    assert caches[settings.AXES_CACHE].domain in domains
