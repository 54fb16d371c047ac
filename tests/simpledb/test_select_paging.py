"""Select pages: limit, NextToken, and the 2500-item / 1 MB / time limits of a page."""

import base64

import pytest
from botocore.exceptions import ClientError

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.models import Limits
from tests.fixtures.simpledb import (
    ACCESS_KEY,
    SECRET_KEY,
    put_items,
    sdb_client,
    select_names,
    select_pages,
)


@pytest.fixture(scope="module")
def numbered(simpledb_server):
    """A domain of 3,000 items n0000..n2999 with a zero-padded `n` and a `group` (n % 3)."""
    client = sdb_client(simpledb_server.endpoint_url)
    domain = "paging-numbered"
    client.create_domain(DomainName=domain)
    put_items(client, domain, {
        f"n{n:04d}": {"n": [f"{n:04d}"], "group": [str(n % 3)]} for n in range(3000)
    })
    yield client, domain
    client.delete_domain(DomainName=domain)


def test_default_page_holds_100_items(numbered):
    client, domain = numbered
    page = client.select(SelectExpression=f"select * from `{domain}`")
    assert len(page["Items"]) == 100
    assert "NextToken" in page


def test_pages_together_return_every_match_once_in_order(numbered):
    client, domain = numbered
    names = select_names(client, f"select itemName() from `{domain}` where group = '1' limit 250")
    assert names == [f"n{n:04d}" for n in range(3000) if n % 3 == 1]


def test_limit_sets_the_page_size(numbered):
    client, domain = numbered
    pages = select_pages(client, f"select itemName() from `{domain}` where group = '0' limit 400")
    assert [len(page["Items"]) for page in pages] == [400, 400, 200]


def test_page_size_is_at_most_2500(numbered):
    client, domain = numbered
    pages = select_pages(client, f"select itemName() from `{domain}` limit 2500")
    assert [len(page["Items"]) for page in pages] == [2500, 500]


def test_last_page_has_no_next_token(numbered):
    client, domain = numbered
    page = client.select(SelectExpression=f"select * from `{domain}` where n > '2995'")
    assert len(page["Items"]) == 4
    assert "NextToken" not in page


def test_sorted_pages_continue_in_sort_order(numbered):
    client, domain = numbered
    names = select_names(
        client, f"select itemName() from `{domain}` where n >= '1000' order by n desc limit 300"
    )
    assert names == [f"n{n:04d}" for n in range(2999, 999, -1)]


def test_limit_may_change_between_pages(numbered):
    client, domain = numbered
    expression = f"select itemName() from `{domain}` where group = '2'"
    first = client.select(SelectExpression=expression + " limit 10")
    second = client.select(SelectExpression=expression + " limit 5",
                           NextToken=first["NextToken"])
    assert [item["Name"] for item in second["Items"]] == [
        f"n{n:04d}" for n in range(3000) if n % 3 == 2
    ][10:15]


def test_next_token_from_another_expression_is_invalid(numbered):
    client, domain = numbered
    first = client.select(SelectExpression=f"select * from `{domain}` where group = '1'")
    with pytest.raises(ClientError) as caught:
        client.select(SelectExpression=f"select * from `{domain}` where group = '2'",
                      NextToken=first["NextToken"])
    assert caught.value.response["Error"]["Code"] == "InvalidNextToken"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_tampered_next_token_is_invalid(numbered):
    client, domain = numbered
    expression = f"select * from `{domain}`"
    token = client.select(SelectExpression=expression)["NextToken"]
    payload, signature = token.rsplit(".", 1)
    forged = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(payload).replace(b"n0099", b"n0500")
    ).decode() + "." + signature
    for bad in (forged, "garbage", token[:-2]):
        with pytest.raises(ClientError) as caught:
            client.select(SelectExpression=expression, NextToken=bad)
        assert caught.value.response["Error"]["Code"] == "InvalidNextToken"


def test_count_without_limit_counts_every_match(numbered):
    client, domain = numbered
    [item] = client.select(SelectExpression=f"select count(*) from `{domain}`")["Items"]
    assert item["Attributes"] == [{"Name": "Count", "Value": "3000"}]


def test_count_with_limit_returns_partial_counts_that_sum_to_the_total(numbered):
    client, domain = numbered
    pages = select_pages(client, f"select count(*) from `{domain}` where group = '0' limit 300")
    counts = [int(page["Items"][0]["Attributes"][0]["Value"]) for page in pages]
    assert counts == [300, 300, 300, 100]


@pytest.fixture
def limited_server():
    """A private emulator whose Select pages hit their size and time limits early."""
    servers = []

    def start(**limits):
        server = SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY}, limits=Limits(**limits)).start()
        servers.append(server)
        client = sdb_client(server.endpoint_url)
        client.create_domain(DomainName="limited")
        return client, server

    yield start
    for server in servers:
        server.stop()


def test_page_stops_before_one_megabyte(sdb, domain):
    value = "v" * 1000
    for n in range(10):  # ~250 KB an item: one call each, as a batch is capped at 1 MB
        put_items(sdb, domain, {f"big{n:02d}": {f"a{k:03d}": [value] for k in range(250)}})
    pages = select_pages(sdb, f"select * from `{domain}`")
    assert [len(page["Items"]) for page in pages] == [4, 4, 2]
    assert sum(len(item["Attributes"]) for page in pages for item in page["Items"]) == 2500


def test_page_past_its_time_limit_is_partial_with_next_token(limited_server):
    client, _server = limited_server(select_seconds=0)
    put_items(client, "limited", {f"i{n:02d}": {"k": ["v"]} for n in range(30)})
    pages = select_pages(client, "select itemName() from limited where k = 'v'")
    assert len(pages[0]["Items"]) < 30 and "NextToken" in pages[0]
    assert [item["Name"] for page in pages for item in page["Items"]] == [
        f"i{n:02d}" for n in range(30)
    ]


def test_count_past_its_time_limit_is_partial_and_resumable(limited_server):
    client, server = limited_server(select_seconds=0)
    # Loaded in-process for speed: a count page stops only between chunks of 10,000 items.
    for start in range(0, 25_000, 25):
        server.backend.batch_put_attributes(
            "limited", [(f"i{n:05d}", [("k", "v", False)]) for n in range(start, start + 25)]
        )
    pages = select_pages(client, "select count(*) from limited")
    assert len(pages) > 1
    assert sum(int(page["Items"][0]["Attributes"][0]["Value"]) for page in pages) == 25_000


def test_small_size_limit_still_returns_one_item_per_page(limited_server):
    client, _server = limited_server(select_max_bytes=10)
    put_items(client, "limited", {f"i{n}": {"k": ["value"]} for n in range(3)})
    pages = select_pages(client, "select * from limited")
    assert [len(page["Items"]) for page in pages] == [1, 1, 1]
