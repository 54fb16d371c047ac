"""A full domain or item (NumberDomainBytesExceeded, NumberDomainAttributesExceeded,
NumberItemAttributesExceeded) degrades the cache like any other error (ON_ERROR), and the
log says so once per process and domain, not on every write.

The domain limits are AWS's 10 GB and one billion attributes: these tests run an emulator
of their own, on a free port, with those limits lowered (its `Limits`, meant for this)."""

import logging
import os
import uuid

import pytest

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.models import Limits
from storage_backends import aws
from storage_backends.simpledb.client import StoreFull

from .conftest import overwrite

LOGGER = "storage_backends.simpledb.cache"


@pytest.fixture
def small_simpledb(settings):
    """start(**limits): an emulator with lowered limits, with a fresh domain, that Django's
    clients use until the test ends; returns the domain's name."""
    servers = []

    def start(**limits):
        keys = {settings.AWS_ACCESS_KEY_ID: settings.AWS_SECRET_ACCESS_KEY}
        server = SimpleDBServer(keys=keys, limits=Limits(**limits)).start()
        servers.append(server)
        settings.AWS_ENDPOINT_URLS = {**settings.AWS_ENDPOINT_URLS,
                                      "sdb": server.endpoint_url}
        aws.reset()
        name = f"full-{uuid.uuid4().hex[:12]}"
        aws.client("sdb").create_domain(DomainName=name)
        return name

    yield start
    for server in servers:
        server.stop()
    aws.reset()  # settings are restored by pytest-django; drop clients made for the server


def fill(cache):
    """Write entries until the domain refuses one; how many were stored."""
    for n in range(1000):
        if not cache.set(f"k{n}", "x" * 500):
            return n
    raise AssertionError("the domain never filled")


def warnings_about_a_full_domain(caplog):
    return [r for r in caplog.records
            if r.levelno >= logging.WARNING and "domain is full" in r.getMessage()]


def test_a_domain_out_of_bytes_degrades_and_is_logged_once(small_simpledb, make_cache,
                                                           caplog):
    domain = small_simpledb(max_domain_bytes=20_000)
    cache = make_cache(location=domain)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        stored = fill(cache)
        assert cache.set("more", "x" * 500) is False
        assert cache.add("more", "x" * 500) is False
        assert cache.set_many({"a": "x" * 500, "b": "x" * 500}) == ["a", "b"]
    assert stored > 0
    [warning] = warnings_about_a_full_domain(caplog)
    assert "NumberDomainBytesExceeded" in warning.getMessage() and domain in warning.getMessage()
    assert cache.get("k0") == "x" * 500  # reads go on


def test_a_domain_out_of_attributes_degrades_and_is_logged_once(small_simpledb, make_cache,
                                                                caplog):
    domain = small_simpledb(max_domain_attributes=60)
    cache = make_cache(location=domain)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        fill(cache)
        assert cache.set("more", 1) is False
    [warning] = warnings_about_a_full_domain(caplog)
    assert "NumberDomainAttributesExceeded" in warning.getMessage()


def test_a_full_domain_raises_store_full_with_on_error_raise(small_simpledb, make_cache):
    domain = small_simpledb(max_domain_bytes=20_000)
    degrading = make_cache(location=domain)
    fill(degrading)
    with pytest.raises(StoreFull, match="NumberDomainBytesExceeded"):
        make_cache(location=domain, ON_ERROR="raise").set("more", "x" * 500)


def test_a_full_item_degrades_and_is_logged_once(own_domain, make_cache, caplog):
    cache = make_cache(location=own_domain)
    cache.set("key", "value")
    overwrite(cache, "key", {f"junk{n:03d}": "x" for n in range(240)})
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        assert cache.set("key", os.urandom(20_000)) is False  # 27 chunks more
        assert cache.set("key", os.urandom(20_000)) is False
    [warning] = warnings_about_a_full_domain(caplog)
    assert "NumberItemAttributesExceeded" in warning.getMessage()


def test_an_outage_is_still_logged_on_every_failure(make_cache, caplog):
    cache = make_cache(location="never-provisioned-domain")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        cache.set("a", 1)
        cache.set("b", 1)
    assert caplog.text.count("cache set failed") == 2


def test_the_emulator_reports_each_limit_with_its_aws_code(small_simpledb):
    domain = small_simpledb(max_domain_bytes=100)
    sdb = aws.client("sdb")
    with pytest.raises(sdb.exceptions.ClientError) as caught:
        sdb.put_attributes(DomainName=domain, ItemName="i",
                           Attributes=[{"Name": "a", "Value": "x" * 200}])
    assert caught.value.response["Error"]["Code"] == "NumberDomainBytesExceeded"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
