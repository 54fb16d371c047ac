"""Every element of the Select language, through boto3 over HTTP."""

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.simpledb import put_items, sdb_client, select_names

ITEMS = {
    "a1": {"color": ["red", "blue"], "size": ["10"], "name": ["it's"], "tag": ["50%", "x"]},
    "a2": {"color": ["red"], "size": ["20"], "select": ["kw"], "odd name": ["v"]},
    "b1": {"color": ["green"], "size": ["05"], "note": ['say "hi"'], "back`tick": ["t"]},
    "b2": {"size": ["30"]},
}


@pytest.fixture(scope="module")
def grammar(simpledb_server):
    client = sdb_client(simpledb_server.endpoint_url)
    domain = f"grammar{uuid.uuid4().hex[:8]}"
    client.create_domain(DomainName=domain)
    put_items(client, domain, ITEMS)
    yield client, domain
    client.delete_domain(DomainName=domain)


def where(grammar, condition, tail=""):
    """Sorted item names matching `condition` (the domain name is filled in)."""
    client, domain = grammar
    return sorted(select_names(client, f"select * from {domain} where {condition} {tail}"))


def ordered(grammar, condition, tail):
    client, domain = grammar
    return select_names(client, f"select itemName() from {domain} where {condition} {tail}")


def error_of(grammar, expression):
    client, domain = grammar
    with pytest.raises(ClientError) as caught:
        client.select(SelectExpression=expression.format(domain=domain))
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


# -- output lists ---------------------------------------------------------------------------
def test_star_returns_every_attribute(grammar):
    client, domain = grammar
    [item] = client.select(SelectExpression=f"select * from {domain} where itemName() = 'a1'",
                           ConsistentRead=True)["Items"]
    assert len(item["Attributes"]) == 6


def test_item_name_output_returns_names_only(grammar):
    client, domain = grammar
    items = client.select(SelectExpression=f"select itemName() from {domain}",
                          ConsistentRead=True)["Items"]
    assert [item["Name"] for item in items] == ["a1", "a2", "b1", "b2"]
    assert all("Attributes" not in item for item in items)


def test_count_star_counts_matching_items(grammar):
    client, domain = grammar
    [item] = client.select(
        SelectExpression=f"select count(*) from {domain} where color = 'red'"
    )["Items"]
    assert item == {"Name": "Domain", "Attributes": [{"Name": "Count", "Value": "2"}]}


def test_attribute_list_returns_only_named_attributes(grammar):
    client, domain = grammar
    [item] = client.select(
        SelectExpression=f"select size, `odd name` from {domain} where itemName() = 'a2'"
    )["Items"]
    assert sorted(a["Name"] for a in item["Attributes"]) == ["odd name", "size"]


# -- comparison operators -------------------------------------------------------------------
def test_equals_matches_any_value(grammar):
    assert where(grammar, "color = 'blue'") == ["a1"]


def test_not_equals_matches_when_any_value_differs(grammar):
    assert where(grammar, "color != 'red'") == ["a1", "b1"]


def test_greater_than_is_lexicographic(grammar):
    assert where(grammar, "size > '1'") == ["a1", "a2", "b2"]


def test_greater_or_equal_includes_the_bound(grammar):
    assert where(grammar, "size >= '20'") == ["a2", "b2"]


def test_less_than_is_lexicographic(grammar):
    assert where(grammar, "size < '1'") == ["b1"]


def test_less_or_equal_includes_the_bound(grammar):
    assert where(grammar, "size <= '10'") == ["a1", "b1"]


def test_like_prefix(grammar):
    assert where(grammar, "color like 're%'") == ["a1", "a2"]


def test_like_suffix(grammar):
    assert where(grammar, "color like '%een'") == ["b1"]


def test_like_contains(grammar):
    assert where(grammar, "color like '%lu%'") == ["a1"]


def test_like_escaped_percent_is_literal(grammar):
    assert where(grammar, "tag like '50\\%'") == ["a1"]
    assert where(grammar, "tag like '5\\%%'") == []


def test_like_without_wildcard_is_equality(grammar):
    assert where(grammar, "color like 'red'") == ["a1", "a2"]


def test_not_like_matches_when_any_value_does_not_match(grammar):
    assert where(grammar, "color not like 'r%'") == ["a1", "b1"]


def test_between_is_inclusive(grammar):
    assert where(grammar, "size between '10' and '20'") == ["a1", "a2"]


def test_in_matches_any_listed_value(grammar):
    assert where(grammar, "color in ('green', 'blue')") == ["a1", "b1"]


def test_is_null_matches_items_without_the_attribute(grammar):
    assert where(grammar, "color is null") == ["b2"]


def test_is_not_null_matches_items_with_the_attribute(grammar):
    assert where(grammar, "color is not null") == ["a1", "a2", "b1"]


def test_every_requires_all_values_to_match(grammar):
    assert where(grammar, "every(color) = 'red'") == ["a2"]


def test_every_ignores_items_without_the_attribute(grammar):
    assert where(grammar, "every(color) != 'nothing'") == ["a1", "a2", "b1"]


# -- combining ------------------------------------------------------------------------------
def test_and_on_one_attribute_tests_a_single_value(grammar):
    assert where(grammar, "color = 'red' and color = 'blue'") == []


def test_every_with_or_on_one_attribute_tests_each_value_against_the_whole_or(grammar):
    assert where(grammar, "every(color) = 'red' or every(color) = 'blue'") == ["a1", "a2"]


def test_parentheses_around_single_comparisons_change_nothing(grammar):
    assert where(grammar, "(every(color) = 'red') or (every(color) = 'blue')") == ["a1", "a2"]


def test_intersection_on_one_attribute_tests_values_separately(grammar):
    assert where(grammar, "color = 'red' intersection color = 'blue'") == ["a1"]


def test_and_across_attributes(grammar):
    assert where(grammar, "color = 'red' and size = '20'") == ["a2"]


def test_or_across_attributes(grammar):
    assert where(grammar, "color = 'green' or size = '30'") == ["b1", "b2"]


def test_not_negates_over_all_items(grammar):
    assert where(grammar, "not color = 'red'") == ["b1", "b2"]


def test_and_binds_tighter_than_or(grammar):
    assert where(grammar, "size = '30' or size = '05' and color = 'green'") == ["b1", "b2"]


def test_parentheses_group(grammar):
    assert where(grammar, "(size = '30' or size = '05') and color = 'green'") == ["b1"]


def test_intersection_binds_loosest(grammar):
    assert where(grammar, "color = 'red' or color = 'green' intersection size = '10'") == ["a1"]


# -- itemName() -----------------------------------------------------------------------------
def test_item_name_equality(grammar):
    assert where(grammar, "itemName() = 'b1'") == ["b1"]


def test_item_name_like(grammar):
    assert where(grammar, "itemName() like 'a%'") == ["a1", "a2"]


def test_item_name_in_acts_as_batch_get(grammar):
    assert where(grammar, "itemName() in ('a1', 'b2', 'zz')") == ["a1", "b2"]


def test_item_name_range(grammar):
    assert where(grammar, "itemName() > 'a2'") == ["b1", "b2"]


# -- order by and limit ---------------------------------------------------------------------
def test_order_by_item_name_descending(grammar):
    assert ordered(grammar, "itemName() like '%'", "order by itemName() desc") == [
        "b2", "b1", "a2", "a1"
    ]


def test_order_by_attribute_ascending(grammar):
    assert ordered(grammar, "size is not null", "order by size") == ["b1", "a1", "a2", "b2"]


def test_order_by_attribute_descending(grammar):
    assert ordered(grammar, "size is not null", "order by size desc") == [
        "b2", "a2", "a1", "b1"
    ]


def test_order_by_multi_valued_attribute_uses_its_least_value_ascending(grammar):
    assert ordered(grammar, "color > ''", "order by color asc") == ["a1", "b1", "a2"]


def test_order_by_multi_valued_attribute_uses_its_greatest_value_descending(grammar):
    # a1 (red, blue) and a2 (red) tie on "red"; ties go by item name, in the same direction.
    assert ordered(grammar, "color > ''", "order by color desc") == ["a2", "a1", "b1"]


def test_limit_caps_the_page(grammar):
    client, domain = grammar
    page = client.select(SelectExpression=f"select * from {domain} limit 3")
    assert len(page["Items"]) == 3 and "NextToken" in page


# -- lexical rules --------------------------------------------------------------------------
def test_keywords_are_case_insensitive(grammar):
    client, domain = grammar
    expression = (f"SeLeCt ItEmNaMe() FrOm {domain} WhErE color = 'red' AnD NoT size = '20' "
                  f"OrDeR bY ITEMNAME() DeSc LiMiT 5")
    assert select_names(client, expression) == ["a1"]


def test_names_are_case_sensitive(grammar):
    assert where(grammar, "Color = 'red'") == []


def test_single_quote_doubled_inside_single_quotes(grammar):
    assert where(grammar, "name = 'it''s'") == ["a1"]


def test_double_quotes_with_doubled_double_quote(grammar):
    assert where(grammar, 'note = "say ""hi"""') == ["b1"]


def test_single_quote_inside_double_quotes(grammar):
    assert where(grammar, "name = \"it's\"") == ["a1"]


def test_backticks_allow_spaces_in_names(grammar):
    assert where(grammar, "`odd name` = 'v'") == ["a2"]


def test_backticks_allow_keywords_as_names(grammar):
    assert where(grammar, "`select` = 'kw'") == ["a2"]


def test_backtick_doubled_inside_backticks(grammar):
    assert where(grammar, "`back``tick` = 't'") == ["b1"]


def test_backticks_around_domain_name(grammar, sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="x",
                       Attributes=[{"Name": "k", "Value": "v"}])
    assert select_names(sdb, f"select * from `{domain}` where k = 'v'") == ["x"]


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("expression", [
    "select * from {domain} where size = 10",
    "select * {domain}",
    "select * from {domain} where color = 'red",
    "select * from {domain} where color = 'red' garbage",
    "select * from {domain} where select = 'kw'",
    "select * from {domain} where color == 'red'",
    "select * from {domain} where (color = 'red'",
    "select * from {domain} where color between 'a'",
    "select * from {domain} limit ten",
    "select from {domain}",
    "select * from my-domain",
    "",
])
def test_malformed_expression_is_invalid_query_expression(grammar, expression):
    code, _message = error_of(grammar, expression)
    assert code == "InvalidQueryExpression"


@pytest.mark.parametrize("limit", ["0", "2501"])
def test_limit_out_of_range_is_invalid_parameter_value(grammar, limit):
    code, message = error_of(grammar, "select * from {domain} limit " + limit)
    assert code == "InvalidParameterValue"
    assert message == "MaxNumberOfItems must be between 1 and 2500"


def test_limit_2500_is_accepted(grammar):
    client, domain = grammar
    assert len(client.select(SelectExpression=f"select * from {domain} limit 2500")["Items"]) == 4


def test_twenty_attributes_in_predicates_are_accepted(grammar):
    condition = " or ".join(f"a{n} = 'x'" for n in range(20))
    assert where(grammar, condition) == []


def test_more_than_twenty_attributes_is_invalid_number_predicates(grammar):
    condition = " or ".join(f"a{n} = 'x'" for n in range(21))
    code, _ = error_of(grammar, "select * from {domain} where " + condition)
    assert code == "InvalidNumberPredicates"


def test_more_than_twenty_comparisons_is_invalid_number_value_tests(grammar):
    condition = " or ".join(f"size = '{n}'" for n in range(21))
    code, _ = error_of(grammar, "select * from {domain} where " + condition)
    assert code == "InvalidNumberValueTests"


def test_order_by_unconstrained_attribute_is_invalid_sort_expression(grammar):
    code, _ = error_of(grammar, "select * from {domain} where color = 'red' order by size")
    assert code == "InvalidSortExpression"


def test_order_by_attribute_tested_only_for_null_is_invalid_sort_expression(grammar):
    code, _ = error_of(grammar, "select * from {domain} where size is null order by size")
    assert code == "InvalidSortExpression"


def test_select_from_missing_domain_is_no_such_domain(grammar):
    code, message = error_of(grammar, "select * from nosuchdomain123")
    assert code == "NoSuchDomain"
    assert message == "The specified domain does not exist."


def test_more_than_256_requested_attributes_is_too_many_requested_attributes(grammar):
    names = ", ".join(f"a{n}" for n in range(257))
    code, _ = error_of(grammar, f"select {names} from {{domain}}")
    assert code == "TooManyRequestedAttributes"
