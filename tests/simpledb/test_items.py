"""PutAttributes, GetAttributes, DeleteAttributes and the batch calls, over HTTP via boto3."""

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
    stored,
)

TOO_LONG = "Value exceeds maximum length of 1024."




def attrs(*pairs, replace=False):
    """boto3 `Attributes` from (name, value) pairs."""
    result = [{"Name": name, "Value": value} for name, value in pairs]
    if replace:
        for attribute in result:
            attribute["Replace"] = True
    return result






def many(count, prefix="a"):
    return [(f"{prefix}{i:03d}", "v") for i in range(count)]


# -- PutAttributes / GetAttributes -------------------------------------------------------
def test_put_multi_valued_attribute_keeps_every_value(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "red"), ("color", "blue")))

    assert stored(sdb, domain, "i") == [("color", "blue"), ("color", "red")]


def test_put_without_replace_adds_a_value_to_existing_name(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("color", "red")))

    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("color", "blue")))

    assert stored(sdb, domain, "i") == [("color", "blue"), ("color", "red")]


def test_put_same_pair_again_is_a_no_op(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("color", "red")))

    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("color", "red")))

    assert stored(sdb, domain, "i") == [("color", "red")]
    assert sdb.domain_metadata(DomainName=domain)["AttributeValueCount"] == 1


def test_put_same_pair_twice_in_one_call_stores_it_once(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "red"), ("color", "red")))

    assert stored(sdb, domain, "i") == [("color", "red")]


def test_put_replace_replaces_all_values_of_that_name(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "red"), ("color", "blue")))

    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "green"), replace=True))

    assert stored(sdb, domain, "i") == [("color", "green")]


def test_put_replace_leaves_other_names_alone(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "red"), ("size", "L"), ("size", "M")))

    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "green"), replace=True))

    assert stored(sdb, domain, "i") == [("color", "green"), ("size", "L"), ("size", "M")]


def test_put_replace_with_several_values_keeps_them_all(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("color", "red")))

    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "green"), ("color", "blue"), replace=True))

    assert stored(sdb, domain, "i") == [("color", "blue"), ("color", "green")]


def test_put_replace_of_absent_name_adds_it(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("size", "L")))

    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("color", "red"), replace=True))

    assert stored(sdb, domain, "i") == [("color", "red"), ("size", "L")]


def test_get_attributes_of_missing_item_is_empty(sdb, domain):
    response = sdb.get_attributes(DomainName=domain, ItemName="nothing-here",
                                  ConsistentRead=True)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response.get("Attributes", []) == []


def test_get_attributes_name_filter_returns_only_those_names(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(
        ("a", "1"), ("b", "2"), ("c", "3"), ("c", "4")))

    assert stored(sdb, domain, "i", names=["a", "c"]) == [("a", "1"), ("c", "3"), ("c", "4")]


def test_get_attributes_name_filter_of_absent_name_is_empty(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("a", "1")))

    assert stored(sdb, domain, "i", names=["zzz"]) == []


def test_item_without_pairs_is_not_counted_by_select(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("a", "1")))
    sdb.put_attributes(DomainName=domain, ItemName="keep", Attributes=attrs(("a", "1")))

    sdb.delete_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("a", "1")))

    assert count_items(sdb, domain) == 1


def test_item_without_pairs_is_not_counted_by_domain_metadata(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("a", "1"), ("b", "2")))
    sdb.put_attributes(DomainName=domain, ItemName="keep", Attributes=attrs(("a", "1")))

    sdb.delete_attributes(DomainName=domain, ItemName="i",
                          Attributes=attrs(("a", "1"), ("b", "2")))

    metadata = sdb.domain_metadata(DomainName=domain)
    assert metadata["ItemCount"] == 1
    assert metadata["ItemNamesSizeBytes"] == len("keep")


def test_put_attribute_without_value_is_missing_parameter(simpledb_server, domain):
    response = raw_request(simpledb_server.endpoint_url, {
        "Action": "PutAttributes", "DomainName": domain, "ItemName": "i",
        "Attribute.1.Name": "x",
    })

    assert response.status == 400
    assert "<Code>MissingParameter</Code>" in response.text
    assert "Attribute.Value missing for Attribute.Name=&apos;x&apos;." in response.text \
        or "Attribute.Value missing for Attribute.Name='x'." in response.text


def test_put_accepts_non_contiguous_attribute_indexes(simpledb_server, sdb, domain):
    response = raw_request(simpledb_server.endpoint_url, {
        "Action": "PutAttributes", "DomainName": domain, "ItemName": "i",
        "Attribute.7.Name": "a", "Attribute.7.Value": "1",
        "Attribute.42.Name": "b", "Attribute.42.Value": "2",
    })

    assert response.status == 200
    assert stored(sdb, domain, "i") == [("a", "1"), ("b", "2")]


# -- 1024-byte limits --------------------------------------------------------------------
# Each of these is at most 1024 characters but more than 1024 UTF-8 bytes.
OVER_1024_BYTES = {
    "two-byte": "é" * 513,            # 513 characters, 1026 bytes
    "one-too-many": "a" * 1023 + "é",  # 1024 characters, 1025 bytes
    "four-byte": "🎉" * 257,           # 257 characters, 1028 bytes
}
EXACTLY_1024_BYTES = {
    "two-byte": "é" * 512,
    "three-byte": "€" * 341 + "a",
    "ascii": "a" * 1024,
}


def put_with(sdb, domain, where, text):
    item, name, value = "i", "a", "v"
    if where == "item name":
        item = text
    elif where == "attribute name":
        name = text
    else:
        value = text
    sdb.put_attributes(DomainName=domain, ItemName=item, Attributes=attrs((name, value)))
    return item, name, value


@pytest.mark.parametrize("text", OVER_1024_BYTES.values(), ids=OVER_1024_BYTES.keys())
@pytest.mark.parametrize("where", ["item name", "attribute name", "attribute value"])
def test_put_over_1024_bytes_is_invalid(sdb, domain, where, text):
    assert len(text) <= 1024 < len(text.encode("utf-8"))

    with pytest.raises(ClientError) as excinfo:
        put_with(sdb, domain, where, text)

    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert TOO_LONG in message
    assert count_items(sdb, domain) == 0


@pytest.mark.parametrize("text", EXACTLY_1024_BYTES.values(), ids=EXACTLY_1024_BYTES.keys())
@pytest.mark.parametrize("where", ["item name", "attribute name", "attribute value"])
def test_put_of_exactly_1024_bytes_is_accepted(sdb, domain, where, text):
    assert len(text.encode("utf-8")) == 1024

    item, name, value = put_with(sdb, domain, where, text)

    assert stored(sdb, domain, item) == [(name, value)]


def test_put_empty_attribute_name_is_invalid(sdb, domain):
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("", "v")))

    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "The empty string is an illegal attribute name" in message


def test_put_empty_value_is_accepted(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(("a", "")))

    assert stored(sdb, domain, "i") == [("a", "")]


# -- attribute counts --------------------------------------------------------------------
def test_put_257_attributes_in_one_call_is_number_submitted_attributes_exceeded(sdb, domain):
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(257)))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberSubmittedAttributesExceeded", 409)
    assert stored(sdb, domain, "i") == []


def test_put_256_attributes_in_one_call_is_accepted(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(256)))

    assert len(stored(sdb, domain, "i")) == 256


def test_item_reaching_256_pairs_across_calls_is_accepted(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(200)))

    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(56, "b")))

    assert len(stored(sdb, domain, "i")) == 256


def test_item_over_256_pairs_across_calls_is_number_item_attributes_exceeded(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(200)))

    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(57, "b")))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberItemAttributesExceeded", 409)
    assert stored(sdb, domain, "i") == sorted(many(200))


def test_replace_at_256_pairs_is_accepted(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(256)))

    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=attrs(("a000", "new"), replace=True))

    pairs = stored(sdb, domain, "i")
    assert len(pairs) == 256
    assert ("a000", "new") in pairs and ("a000", "v") not in pairs


def test_re_putting_existing_pairs_at_256_is_accepted(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(256)))

    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*many(10)))

    assert len(stored(sdb, domain, "i")) == 256


# -- DeleteAttributes --------------------------------------------------------------------
@pytest.fixture
def item(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(
        ("color", "red"), ("color", "blue"), ("size", "L")))
    return "i"


def test_delete_without_attributes_removes_whole_item(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item)

    assert stored(sdb, domain, item) == []
    assert count_items(sdb, domain) == 0


def test_delete_name_only_removes_all_its_values(simpledb_server, sdb, domain, item):
    # botocore's model requires a Value for each attribute; the wire form has none.
    response = raw_request(simpledb_server.endpoint_url, {
        "Action": "DeleteAttributes", "DomainName": domain, "ItemName": item,
        "Attribute.1.Name": "color",
    })

    assert response.status == 200
    assert stored(sdb, domain, item) == [("size", "L")]


def test_delete_name_and_value_removes_only_that_pair(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item, Attributes=attrs(("color", "red")))

    assert stored(sdb, domain, item) == [("color", "blue"), ("size", "L")]


def test_delete_missing_item_is_fine(sdb, domain):
    response = sdb.delete_attributes(DomainName=domain, ItemName="nothing-here")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_missing_pair_is_fine(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item,
                          Attributes=attrs(("color", "green"), ("weight", "9")))

    assert stored(sdb, domain, item) == [("color", "blue"), ("color", "red"), ("size", "L")]


def test_delete_then_put_recreates_item(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item)

    sdb.put_attributes(DomainName=domain, ItemName=item, Attributes=attrs(("x", "1")))

    assert stored(sdb, domain, item) == [("x", "1")]
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 1


# -- BatchPutAttributes ------------------------------------------------------------------
def batch(*items):
    """boto3 `Items` from (item name, [(name, value), ...]) or (item, pairs, replace)."""
    result = []
    for entry in items:
        name, pairs = entry[0], entry[1]
        replace = entry[2] if len(entry) > 2 else False
        result.append({"Name": name, "Attributes": attrs(*pairs, replace=replace)})
    return result


def test_batch_put_25_items_writes_them_all(sdb, domain):
    items = [(f"item{i:02d}", [("n", str(i)), ("m", "x")]) for i in range(25)]

    sdb.batch_put_attributes(DomainName=domain, Items=batch(*items))

    assert count_items(sdb, domain) == 25
    assert stored(sdb, domain, "item17") == [("m", "x"), ("n", "17")]


def test_batch_put_26_items_is_number_submitted_items_exceeded(sdb, domain):
    items = [(f"item{i:02d}", [("n", str(i))]) for i in range(26)]

    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=batch(*items))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberSubmittedItemsExceeded", 409)
    assert count_items(sdb, domain) == 0


def test_batch_put_duplicate_item_is_duplicate_item_name(sdb, domain):
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=batch(
            ("a", [("n", "1")]), ("b", [("n", "2")]), ("a", [("n", "3")])))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("DuplicateItemName", 400)
    assert count_items(sdb, domain) == 0


def test_batch_put_with_invalid_third_item_writes_nothing(sdb, domain):
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=batch(
            ("a", [("n", "1")]), ("b", [("n", "2")]), ("c", [("n", "é" * 513)]),
            ("d", [("n", "4")])))

    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert TOO_LONG in message
    assert count_items(sdb, domain) == 0


def test_batch_put_with_third_item_over_256_pairs_writes_nothing(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="c", Attributes=attrs(*many(250)))

    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=batch(
            ("a", [("n", "1")]), ("b", [("n", "2")]), ("c", many(10, "b")),
            ("d", [("n", "4")])))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberItemAttributesExceeded", 409)
    assert count_items(sdb, domain) == 1
    assert stored(sdb, domain, "a") == []
    assert stored(sdb, domain, "c") == sorted(many(250))


def test_batch_put_replace_replaces_values_of_that_name(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="a",
                       Attributes=attrs(("color", "red"), ("color", "blue"), ("size", "L")))

    sdb.batch_put_attributes(DomainName=domain, Items=batch(
        ("a", [("color", "green")], True), ("b", [("color", "white")], True)))

    assert stored(sdb, domain, "a") == [("color", "green"), ("size", "L")]
    assert stored(sdb, domain, "b") == [("color", "white")]


def test_batch_put_without_replace_adds_values(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="a", Attributes=attrs(("color", "red")))

    sdb.batch_put_attributes(DomainName=domain, Items=batch(("a", [("color", "green")])))

    assert stored(sdb, domain, "a") == [("color", "green"), ("color", "red")]


# -- BatchDeleteAttributes ---------------------------------------------------------------
@pytest.fixture
def three_items(sdb, domain):
    sdb.batch_put_attributes(DomainName=domain, Items=batch(
        ("a", [("color", "red"), ("color", "blue"), ("size", "L")]),
        ("b", [("color", "red"), ("size", "M")]),
        ("c", [("color", "red")]),
    ))
    return domain


def test_batch_delete_without_attributes_removes_whole_items(sdb, three_items):
    sdb.batch_delete_attributes(DomainName=three_items, Items=[{"Name": "a"}, {"Name": "c"}])

    assert stored(sdb, three_items, "a") == []
    assert stored(sdb, three_items, "c") == []
    assert stored(sdb, three_items, "b") == [("color", "red"), ("size", "M")]
    assert count_items(sdb, three_items) == 1


def test_batch_delete_single_pairs(sdb, three_items):
    sdb.batch_delete_attributes(DomainName=three_items, Items=[
        {"Name": "a", "Attributes": attrs(("color", "red"))},
        {"Name": "b", "Attributes": attrs(("size", "M"))},
    ])

    assert stored(sdb, three_items, "a") == [("color", "blue"), ("size", "L")]
    assert stored(sdb, three_items, "b") == [("color", "red")]
    assert stored(sdb, three_items, "c") == [("color", "red")]


def test_batch_delete_name_only_removes_all_its_values(simpledb_server, sdb, three_items):
    # botocore's model requires a Value for each attribute; the wire form has none.
    response = raw_request(simpledb_server.endpoint_url, {
        "Action": "BatchDeleteAttributes", "DomainName": three_items,
        "Item.1.ItemName": "a", "Item.1.Attribute.1.Name": "color",
        "Item.2.ItemName": "b", "Item.2.Attribute.1.Name": "size",
    })

    assert response.status == 200
    assert stored(sdb, three_items, "a") == [("size", "L")]
    assert stored(sdb, three_items, "b") == [("color", "red")]
    assert stored(sdb, three_items, "c") == [("color", "red")]


def test_batch_delete_missing_items_is_fine(sdb, three_items):
    response = sdb.batch_delete_attributes(DomainName=three_items,
                                           Items=[{"Name": "x"}, {"Name": "y"}])

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert count_items(sdb, three_items) == 3


def test_batch_delete_26_items_is_number_submitted_items_exceeded(sdb, three_items):
    items = [{"Name": name} for name in ("a", "b", "c")]
    items += [{"Name": f"other{i:02d}"} for i in range(23)]

    with pytest.raises(ClientError) as excinfo:
        sdb.batch_delete_attributes(DomainName=three_items, Items=items)

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberSubmittedItemsExceeded", 409)
    assert count_items(sdb, three_items) == 3


def test_batch_delete_25_items_is_accepted(sdb, three_items):
    items = [{"Name": name} for name in ("a", "b", "c")]
    items += [{"Name": f"other{i:02d}"} for i in range(22)]

    sdb.batch_delete_attributes(DomainName=three_items, Items=items)

    assert count_items(sdb, three_items) == 0


def test_batch_delete_duplicate_item_is_duplicate_item_name(sdb, three_items):
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_delete_attributes(DomainName=three_items,
                                    Items=[{"Name": "a"}, {"Name": "b"}, {"Name": "a"}])

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("DuplicateItemName", 400)
    assert count_items(sdb, three_items) == 3


def test_batch_delete_with_invalid_third_item_deletes_nothing(sdb, three_items):
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_delete_attributes(DomainName=three_items, Items=[
            {"Name": "a"},
            {"Name": "b", "Attributes": attrs(("color", "red"))},
            {"Name": "c", "Attributes": attrs(("color", "é" * 513))},
        ])

    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert TOO_LONG in message
    assert stored(sdb, three_items, "a") == [("color", "blue"), ("color", "red"), ("size", "L")]
    assert stored(sdb, three_items, "b") == [("color", "red"), ("size", "M")]


# -- unicode -----------------------------------------------------------------------------
UNICODE_PAIRS = [
    ("名前", "日本語のテキスト"),
    ("ключ", "значение"),
    ("emoji 🎉", "party 🎉🥳"),
    ("mixed", "café naïve Ωμέγα"),
    ("xml", "<a href=\"x\">&amp; 'quoted'</a>"),
    ("spaces", "  leading and trailing  "),
]


def test_unicode_item_names_attribute_names_and_values_round_trip(sdb, domain):
    item = "項目-🎉-ü"
    sdb.put_attributes(DomainName=domain, ItemName=item, Attributes=attrs(*UNICODE_PAIRS))

    assert stored(sdb, domain, item) == sorted(UNICODE_PAIRS)


def test_unicode_round_trips_through_batch_put(sdb, domain):
    sdb.batch_put_attributes(DomainName=domain, Items=batch(("ü-item", UNICODE_PAIRS)))

    assert stored(sdb, domain, "ü-item") == sorted(UNICODE_PAIRS)


def test_unicode_attribute_name_filter(sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=attrs(*UNICODE_PAIRS))

    assert stored(sdb, domain, "i", names=["ключ"]) == [("ключ", "значение")]


# -- domain limits (private servers) -----------------------------------------------------
def private_server(limits):
    return SimpleDBServer(keys={ACCESS_KEY: SECRET_KEY}, limits=limits).start()


@pytest.fixture(scope="module")
def few_attributes_server():
    server = private_server(Limits(max_domain_attributes=10))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def few_bytes_server():
    server = private_server(Limits(max_domain_bytes=100))
    yield server
    server.stop()


def fresh_domain(server):
    client = sdb_client(server.endpoint_url)
    name = f"lim-{uuid.uuid4().hex[:12]}"
    client.create_domain(DomainName=name)
    return client, name


@pytest.fixture
def few_attributes(few_attributes_server):
    client, name = fresh_domain(few_attributes_server)
    yield client, name
    client.delete_domain(DomainName=name)


@pytest.fixture
def few_bytes(few_bytes_server):
    client, name = fresh_domain(few_bytes_server)
    yield client, name
    client.delete_domain(DomainName=name)


def test_domain_attribute_limit_allows_exactly_the_limit(few_attributes):
    client, name = few_attributes
    client.put_attributes(DomainName=name, ItemName="i", Attributes=attrs(*many(6)))

    client.put_attributes(DomainName=name, ItemName="j", Attributes=attrs(*many(4)))

    assert client.domain_metadata(DomainName=name)["AttributeValueCount"] == 10


def test_domain_attribute_limit_exceeded_is_number_domain_attributes_exceeded(few_attributes):
    client, name = few_attributes
    client.put_attributes(DomainName=name, ItemName="i", Attributes=attrs(*many(8)))

    with pytest.raises(ClientError) as excinfo:
        client.put_attributes(DomainName=name, ItemName="j", Attributes=attrs(*many(3)))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberDomainAttributesExceeded", 409)
    assert stored(client, name, "j") == []
    assert client.domain_metadata(DomainName=name)["AttributeValueCount"] == 8


def test_domain_attribute_limit_exceeded_by_batch_put_writes_nothing(few_attributes):
    client, name = few_attributes

    with pytest.raises(ClientError) as excinfo:
        client.batch_put_attributes(DomainName=name, Items=batch(
            ("a", many(4)), ("b", many(4)), ("c", many(4))))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberDomainAttributesExceeded", 409)
    assert client.domain_metadata(DomainName=name)["ItemCount"] == 0


def test_domain_attribute_limit_frees_up_after_delete(few_attributes):
    client, name = few_attributes
    client.put_attributes(DomainName=name, ItemName="i", Attributes=attrs(*many(10)))
    client.delete_attributes(DomainName=name, ItemName="i")

    client.put_attributes(DomainName=name, ItemName="j", Attributes=attrs(*many(10)))

    assert client.domain_metadata(DomainName=name)["AttributeValueCount"] == 10


def test_domain_byte_limit_allows_a_small_domain(few_bytes):
    client, name = few_bytes

    client.put_attributes(DomainName=name, ItemName="i", Attributes=attrs(("a", "x" * 20)))

    assert stored(client, name, "i") == [("a", "x" * 20)]


def test_domain_byte_limit_exceeded_is_number_domain_bytes_exceeded(few_bytes):
    client, name = few_bytes
    client.put_attributes(DomainName=name, ItemName="i", Attributes=attrs(("a", "x" * 60)))

    with pytest.raises(ClientError) as excinfo:
        client.put_attributes(DomainName=name, ItemName="j", Attributes=attrs(("a", "y" * 60)))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberDomainBytesExceeded", 409)
    assert stored(client, name, "j") == []


def test_domain_byte_limit_counts_utf8_bytes(few_bytes):
    client, name = few_bytes

    with pytest.raises(ClientError) as excinfo:
        # 60 characters, 120 bytes.
        client.put_attributes(DomainName=name, ItemName="i", Attributes=attrs(("a", "é" * 60)))

    code, status, _ = error_of(excinfo)
    assert (code, status) == ("NumberDomainBytesExceeded", 409)


def test_batch_put_over_one_megabyte_is_rejected_and_writes_nothing(sdb, domain):
    value = "v" * 1024
    items = [
        {"Name": f"big{n:02d}",
         "Attributes": [{"Name": f"a{k:02d}", "Value": value} for k in range(45)]}
        for n in range(25)
    ]  # 25 x 45 x ~1 KB: just over 1 MB of data
    with pytest.raises(ClientError) as caught:
        sdb.batch_put_attributes(DomainName=domain, Items=items)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "1048576" in caught.value.response["Error"]["Message"]
    assert sdb.get_attributes(DomainName=domain, ItemName="big00",
                              ConsistentRead=True).get("Attributes") is None


def test_batch_put_just_under_one_megabyte_is_accepted(sdb, domain):
    value = "v" * 1024
    items = [
        {"Name": f"big{n:02d}",
         "Attributes": [{"Name": f"a{k:02d}", "Value": value} for k in range(40)]}
        for n in range(25)
    ]
    sdb.batch_put_attributes(DomainName=domain, Items=items)
    assert len(sdb.get_attributes(DomainName=domain, ItemName="big24",
                                  ConsistentRead=True)["Attributes"]) == 40
