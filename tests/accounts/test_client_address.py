"""The client's address the throttle counts by: REMOTE_ADDR, or X-Forwarded-For behind proxies."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from apps.accounts.addresses import client_ip, counted_block
from apps.accounts.views import describe_seconds


def request_from(remote_addr="10.0.0.1", forwarded_for=None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().post("/accounts/login/", **extra)


def test_client_ip_is_remote_addr_without_trusted_proxies():
    assert client_ip(request_from("10.0.0.1", "203.0.113.5")) == "10.0.0.1"


def test_client_ip_is_none_without_a_usable_remote_addr():
    assert client_ip(request_from("")) is None
    assert client_ip(request_from("unix:/run/gunicorn.sock")) is None


def test_client_ip_normalises_ipv6():
    assert client_ip(request_from("2001:DB8:0:0:0:0:0:1")) == "2001:db8::1"


@pytest.mark.parametrize("count, forwarded_for, expected", [
    (1, "203.0.113.5", "203.0.113.5"),                  # only the proxy's entry
    (1, "192.0.2.66, 203.0.113.5", "203.0.113.5"),      # forged entry left of it ignored
    (2, "203.0.113.5, 10.1.1.1", "203.0.113.5"),        # a CDN, then the ALB
    (2, "192.0.2.66, 203.0.113.5, 10.1.1.1", "203.0.113.5"),
    (2, "203.0.113.5", "10.0.0.1"),                     # too short: did not pass both proxies
    (1, "", "10.0.0.1"),                                # no header: a direct request
    (1, "not-an-ip", "10.0.0.1"),
])
def test_client_ip_behind_trusted_proxies(settings, count, forwarded_for, expected):
    settings.STRATUS_TRUSTED_PROXY_COUNT = count

    assert client_ip(request_from("10.0.0.1", forwarded_for)) == expected


@pytest.mark.parametrize("count", [-1, "1", None, True])
def test_bad_trusted_proxy_count_is_refused(settings, count):
    settings.STRATUS_TRUSTED_PROXY_COUNT = count

    with pytest.raises(ImproperlyConfigured):
        client_ip(request_from())


@pytest.mark.parametrize("seconds, words", [
    (900, "15 minutes"), (60, "1 minute"), (61, "2 minutes"), (30, "30 seconds"), (1, "1 second"),
])
def test_wait_is_described_in_words_rounded_up(seconds, words):
    assert describe_seconds(seconds) == words


def test_client_ip_unmaps_ipv4_mapped_ipv6():
    assert client_ip(request_from("::ffff:198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize("address, block", [
    ("198.51.100.7", "198.51.100.7"),
    ("2001:db8:0:7::1", "2001:db8:0:7::/64"),
    ("2001:db8:0:7:ffff:ffff:ffff:ffff", "2001:db8:0:7::/64"),
])
def test_ipv4_addresses_count_alone_and_ipv6_by_their_64(address, block):
    assert counted_block(address) == block
