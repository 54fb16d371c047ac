"""Inputs that once answered 500 get SimpleDB's 4xx (or, for a slow Select, a partial page).

Each test reproduces one finding of the issue-9 audit; `test_fuzz.py` then looks for more.
"""

import pytest
from botocore.exceptions import ClientError

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.models import Limits
from localaws.simpledb.select.parser import MAX_NESTING
from tests.fixtures.simpledb import ACCESS_KEY, SECRET_KEY, error_of, raw_request, sdb_client

#: Past Python's int-string conversion limit (4,300 digits).
HUGE = "1" * 5000


def select_error(sdb, expression):
    with pytest.raises(ClientError) as caught:
        sdb.select(SelectExpression=expression, ConsistentRead=True)
    return error_of(caught)[:2]


def test_limit_of_thousands_of_digits_is_an_invalid_parameter_value(sdb, domain):
    assert select_error(sdb, f"select * from `{domain}` limit {HUGE}") == (
        "InvalidParameterValue", 400)


def test_limit_with_leading_zeros_is_read_as_its_number(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "k", "Value": "v"}])
    page = sdb.select(SelectExpression=f"select * from `{domain}` limit {'0' * 5000}1",
                      ConsistentRead=True)
    assert [item["Name"] for item in page["Items"]] == ["i"]


@pytest.mark.parametrize("action, params", [
    ("PutAttributes", {"ItemName": "i", f"Attribute.{HUGE}.Name": "k",
                       f"Attribute.{HUGE}.Value": "v"}),
    ("DeleteAttributes", {"ItemName": "i", f"Attribute.{HUGE}.Name": "k"}),
    ("GetAttributes", {"ItemName": "i", f"AttributeName.{HUGE}": "k"}),
    ("BatchPutAttributes", {f"Item.{HUGE}.ItemName": "i", f"Item.{HUGE}.Attribute.1.Name": "k",
                            f"Item.{HUGE}.Attribute.1.Value": "v"}),
    ("BatchDeleteAttributes", {"Item.1.ItemName": "i", f"Item.1.Attribute.{HUGE}.Name": "k"}),
])
def test_index_of_thousands_of_digits_is_an_invalid_parameter_value(simpledb_server, domain,
                                                                     action, params):
    response = raw_request(simpledb_server.endpoint_url,
                           {"Action": action, "DomainName": domain, **params})
    assert (response.status, response.error_code) == (400, "InvalidParameterValue")


def test_index_need_not_be_small_or_contiguous(sdb, simpledb_server, domain):
    response = raw_request(simpledb_server.endpoint_url, {
        "Action": "PutAttributes", "DomainName": domain, "ItemName": "i",
        "Attribute.999999999.Name": "k", "Attribute.999999999.Value": "v",
        "Attribute.7.Name": "j", "Attribute.7.Value": "w",
    })
    assert response.status == 200, response.text
    stored = sdb.get_attributes(DomainName=domain, ItemName="i", ConsistentRead=True)
    assert sorted((a["Name"], a["Value"]) for a in stored["Attributes"]) == [("j", "w"), ("k", "v")]


@pytest.mark.parametrize("value", [HUGE, "0" * 5000, "101", "0"])
def test_max_number_of_domains_out_of_range_is_an_invalid_parameter_value(simpledb_server, value):
    response = raw_request(simpledb_server.endpoint_url,
                           {"Action": "ListDomains", "MaxNumberOfDomains": value})
    assert (response.status, response.error_code) == (400, "InvalidParameterValue")


def test_forty_nested_nots_are_an_invalid_query_expression(sdb, domain):
    expression = f"select * from `{domain}` where {'not ' * 40}k = 'v'"
    assert select_error(sdb, expression) == ("InvalidQueryExpression", 400)


def test_hundred_forty_nested_parentheses_are_an_invalid_query_expression(sdb, domain):
    expression = f"select * from `{domain}` where {'(' * 140}k = 'v'{')' * 140}"
    assert select_error(sdb, expression) == ("InvalidQueryExpression", 400)


@pytest.mark.parametrize("opening, closing", [("not ", ""), ("(", ")")])
def test_nesting_is_allowed_up_to_its_limit(sdb, domain, opening, closing):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "k", "Value": "v"}])
    inside = f"{opening * MAX_NESTING}k = 'v'{closing * MAX_NESTING}"
    sdb.select(SelectExpression=f"select * from `{domain}` where {inside}", ConsistentRead=True)
    past = f"{opening * (MAX_NESTING + 1)}k = 'v'{closing * (MAX_NESTING + 1)}"
    assert select_error(sdb, f"select * from `{domain}` where {past}") == (
        "InvalidQueryExpression", 400)


def alternating(levels):
    """`not (k1 = 'v' intersection not (k2 = 'v' intersection ...))`, `levels` deep."""
    expression = "k0 = 'v'"
    for n in range(1, levels // 2 + 1):
        expression = f"not (k{n} = 'v' intersection {expression})"
    return expression


def test_deepest_allowed_expression_of_the_deepest_kind_runs(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "k0", "Value": "v"}])
    page = sdb.select(SelectExpression=f"select * from `{domain}` where "
                                       f"{alternating(MAX_NESTING)}", ConsistentRead=True)
    assert page["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert select_error(sdb, f"select * from `{domain}` where "
                             f"{alternating(MAX_NESTING + 2)}") == ("InvalidQueryExpression", 400)


def test_in_list_of_forty_thousand_values_answers_its_matches(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="hit", Attributes=[{"Name": "k", "Value": "v77"}])
    sdb.put_attributes(DomainName=domain, ItemName="miss", Attributes=[{"Name": "k", "Value": "x"}])
    values = ", ".join(f"'v{n}'" for n in range(40_000))
    for operand in ("k", "itemName()"):
        page = sdb.select(SelectExpression=f"select * from `{domain}` where {operand} in ({values})",
                          ConsistentRead=True)
        assert [item["Name"] for item in page.get("Items", [])] == (
            ["hit"] if operand == "k" else [])


@pytest.fixture
def impatient_server():
    """An emulator whose Select pages have no time at all, not even the grace period."""
    server = SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY},
                            limits=Limits(select_seconds=0, select_grace_seconds=0)).start()
    yield server
    server.stop()


def test_time_spent_parsing_counts_toward_the_select_time_limit(impatient_server):
    client = sdb_client(impatient_server.endpoint_url)
    client.create_domain(DomainName="slow")
    client.put_attributes(DomainName="slow", ItemName="hit",
                          Attributes=[{"Name": "k", "Value": "v1"}])
    expression = "select * from slow where k in ({})".format(
        ", ".join(f"'v{n}'" for n in range(40_000)))
    page = client.select(SelectExpression=expression, ConsistentRead=True)
    assert page.get("Items", []) == [] and page["NextToken"]
    # The token is a real one: it continues the same expression...
    again = client.select(SelectExpression=expression, NextToken=page["NextToken"],
                          ConsistentRead=True)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    # ...and no other.
    with pytest.raises(ClientError) as caught:
        client.select(SelectExpression="select * from slow", NextToken=page["NextToken"])
    assert error_of(caught)[0] == "InvalidNextToken"
