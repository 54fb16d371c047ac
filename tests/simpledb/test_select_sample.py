"""Select against the AWS sample data set gives the results AWS documents."""

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.simpledb import put_items, select_names

from .aws_sample_dataset import (
    DOCUMENTED_ACCEPTED,
    DOCUMENTED_COUNTS,
    DOCUMENTED_ERRATA,
    DOCUMENTED_ERRORS,
    DOCUMENTED_QUERIES,
    DERIVED_PREDICATE_RESULTS,
    DOMAIN_NAME,
    ERRATA_CORRECTED_QUERIES,
    SAMPLE_ITEMS,
)


@pytest.fixture(scope="module")
def sample(simpledb_server):
    from tests.fixtures.simpledb import sdb_client

    client = sdb_client(simpledb_server.endpoint_url)
    client.create_domain(DomainName=DOMAIN_NAME)
    put_items(client, DOMAIN_NAME, SAMPLE_ITEMS)
    yield client
    client.delete_domain(DomainName=DOMAIN_NAME)


QUERIES = DOCUMENTED_QUERIES + DERIVED_PREDICATE_RESULTS + ERRATA_CORRECTED_QUERIES + [
    (expression, corrected, ordered) for expression, _doc, corrected, ordered, _why
    in DOCUMENTED_ERRATA
]


@pytest.mark.parametrize("expression, expected, ordered", QUERIES)
def test_documented_query_returns_documented_items(sample, expression, expected, ordered):
    page = sample.select(SelectExpression=expression, ConsistentRead=True)
    names = [item["Name"] for item in page.get("Items", [])]
    if ordered:
        assert names == expected
    else:
        assert sorted(names) == sorted(expected)


@pytest.mark.parametrize("expression, expected", DOCUMENTED_COUNTS)
def test_documented_count_returns_documented_count(sample, expression, expected):
    items = sample.select(SelectExpression=expression, ConsistentRead=True)["Items"]
    assert items == [{"Name": "Domain", "Attributes": [{"Name": "Count", "Value": expected}]}]


@pytest.mark.parametrize("expression, code", DOCUMENTED_ERRORS)
def test_documented_invalid_query_is_rejected(sample, expression, code):
    with pytest.raises(ClientError) as caught:
        sample.select(SelectExpression=expression)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("expression", DOCUMENTED_ACCEPTED)
def test_documented_valid_query_is_accepted(sample, expression):
    assert select_names(sample, expression) == []


def test_select_star_returns_every_value_of_multi_valued_attributes(sample):
    [item] = sample.select(
        SelectExpression="select * from mydomain where itemName() = '0385333498'",
        ConsistentRead=True,
    )["Items"]
    ratings = sorted(a["Value"] for a in item["Attributes"] if a["Name"] == "Rating")
    assert ratings == sorted(SAMPLE_ITEMS["0385333498"]["Rating"])


def test_select_attribute_list_returns_only_those_attributes(sample):
    [item] = sample.select(
        SelectExpression="select Title, Year from mydomain where Title = '300'",
        ConsistentRead=True,
    )["Items"]
    assert sorted((a["Name"], a["Value"]) for a in item["Attributes"]) == [
        ("Title", "300"), ("Year", "2007")
    ]
