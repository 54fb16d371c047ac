"""CreateDomain, DeleteDomain, ListDomains and DomainMetadata against the emulator over HTTP."""

import time
import uuid

import pytest
from botocore.exceptions import ClientError

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.models import Limits
from tests.fixtures.simpledb import (
    ACCESS_KEY,
    SECRET_KEY,
    count_items,
    error_of,
    raw_request,
    sdb_client,
)




def unique(prefix="dom"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"




@pytest.fixture(scope="module")
def small_account_server():
    """A private emulator allowing only three domains."""
    server = SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY}, limits=Limits(max_domains=3)).start()
    yield server
    server.stop()


@pytest.fixture
def small_account(small_account_server):
    """A client for the three-domain emulator, which starts each test with no domains."""
    client = sdb_client(small_account_server.endpoint_url)
    for name in client.list_domains().get("DomainNames", []):
        client.delete_domain(DomainName=name)
    return client


# -- CreateDomain ------------------------------------------------------------------------
def test_create_domain_twice_keeps_items(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="item",
                       Attributes=[{"Name": "color", "Value": "red"}])

    sdb.create_domain(DomainName=domain)

    got = sdb.get_attributes(DomainName=domain, ItemName="item", ConsistentRead=True)
    assert got["Attributes"] == [{"Name": "color", "Value": "red"}]


def test_create_domain_twice_lists_it_once(sdb, domain):
    sdb.create_domain(DomainName=domain)

    names = sdb.list_domains()["DomainNames"]
    assert names.count(domain) == 1


def test_created_domain_appears_in_list_domains(sdb):
    name = unique()
    sdb.create_domain(DomainName=name)
    try:
        assert name in sdb.list_domains()["DomainNames"]
    finally:
        sdb.delete_domain(DomainName=name)


# -- DeleteDomain ------------------------------------------------------------------------
def test_delete_domain_removes_it_from_list_domains(sdb):
    name = unique()
    sdb.create_domain(DomainName=name)

    sdb.delete_domain(DomainName=name)

    assert name not in sdb.list_domains().get("DomainNames", [])


def test_delete_domain_removes_its_items(sdb):
    name = unique()
    sdb.create_domain(DomainName=name)
    sdb.put_attributes(DomainName=name, ItemName="item",
                       Attributes=[{"Name": "color", "Value": "red"}])

    sdb.delete_domain(DomainName=name)
    sdb.create_domain(DomainName=name)
    try:
        got = sdb.get_attributes(DomainName=name, ItemName="item", ConsistentRead=True)
        assert "Attributes" not in got
        assert count_items(sdb, name) == 0
        assert sdb.domain_metadata(DomainName=name)["ItemCount"] == 0
    finally:
        sdb.delete_domain(DomainName=name)


def test_delete_missing_domain_is_not_an_error(sdb):
    response = sdb.delete_domain(DomainName=unique("missing"))

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_domain_twice_is_not_an_error(sdb):
    name = unique()
    sdb.create_domain(DomainName=name)
    sdb.delete_domain(DomainName=name)

    response = sdb.delete_domain(DomainName=name)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


# -- ListDomains -------------------------------------------------------------------------
@pytest.fixture
def seven_domains(sdb):
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in (3, 0, 6, 1, 5, 2, 4)]
    for name in names:
        sdb.create_domain(DomainName=name)
    yield sorted(names)
    for name in names:
        sdb.delete_domain(DomainName=name)


def walk_list_domains(sdb, page_size):
    pages, token = [], None
    while True:
        kwargs = {"MaxNumberOfDomains": page_size}
        if token:
            kwargs["NextToken"] = token
        response = sdb.list_domains(**kwargs)
        pages.append(response.get("DomainNames", []))
        token = response.get("NextToken")
        if not token:
            return pages


def test_list_domains_pages_hold_at_most_max_number_of_domains(sdb, seven_domains):
    pages = walk_list_domains(sdb, 3)

    assert len(pages) >= 3
    assert all(1 <= len(page) <= 3 for page in pages)
    assert all(len(page) == 3 for page in pages[:-1])


def test_list_domains_pages_cover_every_domain_once_in_order(sdb, seven_domains):
    names = [name for page in walk_list_domains(sdb, 3) for name in page]

    assert len(names) == len(set(names))
    assert names == sorted(names)
    assert set(seven_domains) <= set(names)
    assert [name for name in names if name in seven_domains] == seven_domains


def test_list_domains_pages_match_an_unpaged_listing(sdb, seven_domains):
    paged = [name for page in walk_list_domains(sdb, 2) for name in page]

    assert paged == sdb.list_domains()["DomainNames"]


def test_list_domains_last_page_has_no_next_token(sdb, seven_domains):
    everything = sdb.list_domains()["DomainNames"]

    response = sdb.list_domains(MaxNumberOfDomains=len(everything))

    assert response["DomainNames"] == everything
    assert "NextToken" not in response


def test_list_domains_tampered_next_token_is_invalid(sdb, seven_domains):
    token = sdb.list_domains(MaxNumberOfDomains=1)["NextToken"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    with pytest.raises(ClientError) as excinfo:
        sdb.list_domains(MaxNumberOfDomains=1, NextToken=tampered)

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("InvalidNextToken", 400)


def test_list_domains_garbage_next_token_is_invalid(sdb):
    with pytest.raises(ClientError) as excinfo:
        sdb.list_domains(NextToken="not-a-token")

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("InvalidNextToken", 400)


def test_list_domains_non_ascii_next_token_is_invalid(sdb, seven_domains):
    token = sdb.list_domains(MaxNumberOfDomains=1)["NextToken"]

    with pytest.raises(ClientError) as excinfo:
        sdb.list_domains(MaxNumberOfDomains=1, NextToken=token[:-1] + "é")

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("InvalidNextToken", 400)


@pytest.mark.parametrize("number", ["0", "101", "ten"])
def test_list_domains_max_number_out_of_range_is_invalid(simpledb_server, number):
    response = raw_request(simpledb_server.endpoint_url,
                           {"Action": "ListDomains", "MaxNumberOfDomains": number})

    assert response.status == 400
    assert "<Code>InvalidParameterValue</Code>" in response.text


# -- domain names ------------------------------------------------------------------------
def test_create_domain_name_too_short_is_invalid_with_message(sdb):
    with pytest.raises(ClientError) as excinfo:
        sdb.create_domain(DomainName="ab")

    assert error_of(excinfo) == (
        "InvalidParameterValue", 400, "Value (ab) for parameter DomainName is invalid."
    )


def test_create_domain_name_of_256_characters_is_invalid(sdb):
    with pytest.raises(ClientError) as excinfo:
        sdb.create_domain(DomainName="a" * 256)

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)


@pytest.mark.parametrize("name", ["a b!", "abc/def", "dom@in", "café-domain"])
def test_create_domain_name_with_bad_characters_is_invalid(sdb, name):
    with pytest.raises(ClientError) as excinfo:
        sdb.create_domain(DomainName=name)

    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert message == f"Value ({name}) for parameter DomainName is invalid."


@pytest.mark.parametrize("length", [3, 255])
def test_create_domain_name_length_boundaries_are_accepted(sdb, length):
    name = ("x" + uuid.uuid4().hex * 8)[:length]
    assert len(name) == length
    sdb.create_domain(DomainName=name)
    try:
        assert name in sdb.list_domains()["DomainNames"]
    finally:
        sdb.delete_domain(DomainName=name)


def test_create_domain_name_with_all_allowed_characters_is_accepted(sdb):
    name = "Az09_-." + uuid.uuid4().hex[:8]
    sdb.create_domain(DomainName=name)
    try:
        assert name in sdb.list_domains()["DomainNames"]
    finally:
        sdb.delete_domain(DomainName=name)


def test_invalid_domain_name_is_not_created(sdb):
    with pytest.raises(ClientError):
        sdb.create_domain(DomainName="a b!")

    assert "a b!" not in sdb.list_domains().get("DomainNames", [])


# -- NumberDomainsExceeded ---------------------------------------------------------------
def test_create_domain_beyond_limit_is_number_domains_exceeded(small_account):
    for name in ("one", "two", "three"):
        small_account.create_domain(DomainName=name)

    with pytest.raises(ClientError) as excinfo:
        small_account.create_domain(DomainName="four")

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberDomainsExceeded", 409)
    assert small_account.list_domains()["DomainNames"] == ["one", "three", "two"]


def test_recreate_existing_domain_at_limit_is_fine(small_account):
    for name in ("one", "two", "three"):
        small_account.create_domain(DomainName=name)
    small_account.put_attributes(DomainName="two", ItemName="item",
                                 Attributes=[{"Name": "a", "Value": "1"}])

    small_account.create_domain(DomainName="two")

    got = small_account.get_attributes(DomainName="two", ItemName="item", ConsistentRead=True)
    assert got["Attributes"] == [{"Name": "a", "Value": "1"}]


def test_deleting_a_domain_at_limit_frees_a_slot(small_account):
    for name in ("one", "two", "three"):
        small_account.create_domain(DomainName=name)
    small_account.delete_domain(DomainName="one")

    small_account.create_domain(DomainName="four")

    assert small_account.list_domains()["DomainNames"] == ["four", "three", "two"]


# -- NoSuchDomain ------------------------------------------------------------------------
MISSING_DOMAIN_CALLS = {
    "DomainMetadata": lambda sdb, d: sdb.domain_metadata(DomainName=d),
    "PutAttributes": lambda sdb, d: sdb.put_attributes(
        DomainName=d, ItemName="i", Attributes=[{"Name": "a", "Value": "1"}]),
    "GetAttributes": lambda sdb, d: sdb.get_attributes(DomainName=d, ItemName="i"),
    "DeleteAttributes": lambda sdb, d: sdb.delete_attributes(DomainName=d, ItemName="i"),
    "BatchPutAttributes": lambda sdb, d: sdb.batch_put_attributes(
        DomainName=d, Items=[{"Name": "i", "Attributes": [{"Name": "a", "Value": "1"}]}]),
    "BatchDeleteAttributes": lambda sdb, d: sdb.batch_delete_attributes(
        DomainName=d, Items=[{"Name": "i"}]),
    "Select": lambda sdb, d: sdb.select(SelectExpression=f"select * from `{d}`"),
}


@pytest.mark.parametrize("action", sorted(MISSING_DOMAIN_CALLS))
def test_operation_on_missing_domain_is_no_such_domain(sdb, action):
    with pytest.raises(ClientError) as excinfo:
        MISSING_DOMAIN_CALLS[action](sdb, unique("missing"))

    assert error_of(excinfo) == ("NoSuchDomain", 400, "The specified domain does not exist.")


def test_put_on_missing_domain_does_not_create_it(sdb):
    name = unique("missing")
    with pytest.raises(ClientError):
        MISSING_DOMAIN_CALLS["PutAttributes"](sdb, name)

    assert name not in sdb.list_domains().get("DomainNames", [])


# -- DomainMetadata ----------------------------------------------------------------------
@pytest.fixture
def metadata_domain(sdb, domain):
    """A small data set with multi-byte characters; sizes are in UTF-8 bytes.

    items:  "café" (5 bytes), "i2" (2 bytes)                          -> 2 items, 7 bytes
    names:  "名前" (6), "color" (5), "size" (4), unique               -> 3 names, 15 bytes
    values: "ü" (2), "red" (3), "blue" (4), "grün" (5), "L" (1)       -> 5 values, 15 bytes
    """
    sdb.put_attributes(DomainName=domain, ItemName="café", Attributes=[
        {"Name": "名前", "Value": "ü"},
        {"Name": "color", "Value": "red"},
        {"Name": "color", "Value": "blue"},
    ])
    sdb.put_attributes(DomainName=domain, ItemName="i2", Attributes=[
        {"Name": "color", "Value": "grün"},
        {"Name": "size", "Value": "L"},
    ])
    return domain


@pytest.mark.parametrize("key, expected", [
    ("ItemCount", 2),
    ("ItemNamesSizeBytes", 7),
    ("AttributeNameCount", 3),
    ("AttributeNamesSizeBytes", 15),
    ("AttributeValueCount", 5),
    ("AttributeValuesSizeBytes", 15),
])
def test_domain_metadata_counts_bytes_of_known_data(sdb, metadata_domain, key, expected):
    metadata = sdb.domain_metadata(DomainName=metadata_domain)

    assert metadata[key] == expected


def test_domain_metadata_of_empty_domain_is_all_zero(sdb, domain):
    metadata = sdb.domain_metadata(DomainName=domain)

    for key in ("ItemCount", "ItemNamesSizeBytes", "AttributeNameCount",
                "AttributeNamesSizeBytes", "AttributeValueCount", "AttributeValuesSizeBytes"):
        assert metadata[key] == 0, key


def test_domain_metadata_timestamp_is_an_integer_near_now(sdb, domain):
    metadata = sdb.domain_metadata(DomainName=domain)

    assert isinstance(metadata["Timestamp"], int)
    assert abs(metadata["Timestamp"] - time.time()) < 600


def test_domain_metadata_timestamp_is_an_integer_on_the_wire(simpledb_server, sdb, domain):
    response = raw_request(simpledb_server.endpoint_url,
                           {"Action": "DomainMetadata", "DomainName": domain})

    assert response.status == 200
    start = response.text.index("<Timestamp>") + len("<Timestamp>")
    stamp = response.text[start:response.text.index("</Timestamp>")]
    assert stamp.isdigit()
