"""Conditional PutAttributes and DeleteAttributes (`Expected`), over HTTP via boto3."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.simpledb import error_of as shared_error_of
from tests.fixtures.simpledb import raw_request, sdb_client, stored


def error_of(excinfo):
    """(code, HTTP status) of a ClientError."""
    return shared_error_of(excinfo)[:2]






def put(sdb, domain, item, name, value, expected=None, replace=False):
    kwargs = {"DomainName": domain, "ItemName": item,
              "Attributes": [{"Name": name, "Value": value, "Replace": replace}]}
    if expected is not None:
        kwargs["Expected"] = expected
    return sdb.put_attributes(**kwargs)


@pytest.fixture
def item(sdb, domain):
    """Item "i": state=open (single-valued), tag=a and tag=b (multi-valued)."""
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=[
        {"Name": "state", "Value": "open"},
        {"Name": "tag", "Value": "a"},
        {"Name": "tag", "Value": "b"},
    ])
    return "i"


ORIGINAL = [("state", "open"), ("tag", "a"), ("tag", "b")]


# -- conditional PutAttributes -----------------------------------------------------------
def test_put_with_matching_expected_value_writes(sdb, domain, item):
    put(sdb, domain, item, "state", "closed", replace=True,
        expected={"Name": "state", "Value": "open"})

    assert stored(sdb, domain, item) == [("state", "closed"), ("tag", "a"), ("tag", "b")]


def test_put_with_exists_true_and_matching_value_writes(sdb, domain, item):
    put(sdb, domain, item, "state", "closed", replace=True,
        expected={"Name": "state", "Value": "open", "Exists": True})

    assert stored(sdb, domain, item) == [("state", "closed"), ("tag", "a"), ("tag", "b")]


def test_put_with_condition_on_another_attribute_writes(sdb, domain, item):
    put(sdb, domain, item, "owner", "me", expected={"Name": "state", "Value": "open"})

    assert ("owner", "me") in stored(sdb, domain, item)


def test_put_with_mismatched_expected_value_is_conditional_check_failed(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, item, "state", "closed", replace=True,
            expected={"Name": "state", "Value": "pending"})

    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)


def test_put_with_mismatched_expected_value_writes_nothing(sdb, domain, item):
    with pytest.raises(ClientError):
        put(sdb, domain, item, "state", "closed", replace=True,
            expected={"Name": "state", "Value": "pending"})

    assert stored(sdb, domain, item) == ORIGINAL


def test_put_with_exists_false_on_absent_attribute_writes(sdb, domain, item):
    put(sdb, domain, item, "owner", "me", expected={"Name": "owner", "Exists": False})

    assert ("owner", "me") in stored(sdb, domain, item)


def test_put_with_exists_false_on_missing_item_creates_it(sdb, domain):
    put(sdb, domain, "new", "owner", "me", expected={"Name": "owner", "Exists": False})

    assert stored(sdb, domain, "new") == [("owner", "me")]


def test_put_with_exists_false_on_present_attribute_is_conditional_check_failed(
        sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, item, "state", "other", expected={"Name": "state", "Exists": False})

    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_expecting_absent_attribute_is_attribute_does_not_exist(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, item, "state", "closed", expected={"Name": "owner", "Value": "me"})

    assert error_of(excinfo) == ("AttributeDoesNotExist", 404)
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_expecting_value_on_missing_item_is_attribute_does_not_exist(sdb, domain):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, "ghost", "state", "open", expected={"Name": "state", "Value": "x"})

    assert error_of(excinfo) == ("AttributeDoesNotExist", 404)
    assert stored(sdb, domain, "ghost") == []


def test_put_expecting_multi_valued_attribute_is_multi_valued_attribute(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, item, "state", "closed", expected={"Name": "tag", "Value": "a"})

    assert error_of(excinfo) == ("MultiValuedAttribute", 409)
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_with_exists_false_and_a_value_is_exists_and_expected_value(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, item, "owner", "me",
            expected={"Name": "owner", "Value": "me", "Exists": False})

    assert error_of(excinfo) == ("ExistsAndExpectedValue", 400)
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_with_exists_true_without_value_is_incomplete_expected_expression(
        sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, item, "state", "closed", expected={"Name": "state", "Exists": True})

    assert error_of(excinfo) == ("IncompleteExpectedExpression", 400)
    assert stored(sdb, domain, item) == ORIGINAL


def conditional_put(endpoint, domain, item, **expected):
    """A raw PutAttributes of state=closed (Replace) with the given Expected.* parameters."""
    params = {
        "Action": "PutAttributes", "DomainName": domain, "ItemName": item,
        "Attribute.1.Name": "state", "Attribute.1.Value": "closed",
        "Attribute.1.Replace": "true",
    }
    params.update({f"Expected.{key.replace('_', '.')}": value
                   for key, value in expected.items()})
    return raw_request(endpoint, params)


def test_put_expected_name_without_exists_or_value_is_incomplete_expected_expression(
        simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item, Name="state")

    assert (response.status, response.error_code) == (400, "IncompleteExpectedExpression")
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_expected_exists_maybe_is_invalid_parameter_value(
        simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               Name="state", Value="open", Exists="maybe")

    assert (response.status, response.error_code) == (400, "InvalidParameterValue")
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_older_indexed_expected_form_is_accepted(simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               **{"1_Name": "state", "1_Value": "open"})

    assert response.status == 200
    assert ("state", "closed") in stored(sdb, domain, item)


def test_put_older_indexed_expected_form_checks_the_value(simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               **{"1_Name": "state", "1_Value": "pending"})

    assert (response.status, response.error_code) == (409, "ConditionalCheckFailed")
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_older_indexed_expected_form_with_exists_false(simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               **{"1_Name": "owner", "1_Exists": "false"})

    assert response.status == 200
    assert ("state", "closed") in stored(sdb, domain, item)


def test_put_two_expected_names_is_multiple_expected_names(simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               **{"1_Name": "state", "1_Value": "open",
                                  "2_Name": "owner", "2_Value": "me"})

    assert (response.status, response.error_code) == (400, "MultipleExpectedNames")
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_indexed_and_unindexed_names_is_multiple_expected_names(
        simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               Name="state", Value="open", **{"1_Name": "state"})

    assert (response.status, response.error_code) == (400, "MultipleExpectedNames")
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_two_expected_values_is_multiple_expected_values(
        simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               **{"1_Name": "state", "1_Value": "open", "2_Value": "open"})

    assert (response.status, response.error_code) == (400, "MultipleExpectedValues")
    assert stored(sdb, domain, item) == ORIGINAL


def test_put_two_exists_conditions_is_multiple_exists_conditions(
        simpledb_server, sdb, domain, item):
    response = conditional_put(simpledb_server.endpoint_url, domain, item,
                               **{"1_Name": "owner", "1_Exists": "false",
                                  "2_Exists": "false"})

    assert (response.status, response.error_code) == (400, "MultipleExistsConditions")
    assert stored(sdb, domain, item) == ORIGINAL


# -- conditional DeleteAttributes --------------------------------------------------------
def test_delete_with_matching_expected_value_deletes(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item,
                          Expected={"Name": "state", "Value": "open"})

    assert stored(sdb, domain, item) == []


def test_delete_pair_with_matching_expected_value_deletes_only_that_pair(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item,
                          Attributes=[{"Name": "tag", "Value": "a"}],
                          Expected={"Name": "state", "Value": "open"})

    assert stored(sdb, domain, item) == [("state", "open"), ("tag", "b")]


def test_delete_with_mismatched_expected_value_is_conditional_check_failed(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName=item,
                              Expected={"Name": "state", "Value": "closed"})

    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)


def test_delete_with_mismatched_expected_value_keeps_item(sdb, domain, item):
    with pytest.raises(ClientError):
        sdb.delete_attributes(DomainName=domain, ItemName=item,
                              Expected={"Name": "state", "Value": "closed"})

    assert stored(sdb, domain, item) == ORIGINAL


def test_delete_with_exists_false_on_absent_attribute_deletes(sdb, domain, item):
    sdb.delete_attributes(DomainName=domain, ItemName=item,
                          Expected={"Name": "lock", "Exists": False})

    assert stored(sdb, domain, item) == []


def test_delete_with_exists_false_on_present_attribute_is_conditional_check_failed(
        sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName=item,
                              Expected={"Name": "state", "Exists": False})

    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)
    assert stored(sdb, domain, item) == ORIGINAL


def test_delete_expecting_absent_attribute_is_attribute_does_not_exist(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName=item,
                              Expected={"Name": "owner", "Value": "me"})

    assert error_of(excinfo) == ("AttributeDoesNotExist", 404)
    assert stored(sdb, domain, item) == ORIGINAL


def test_delete_expecting_value_on_missing_item_is_attribute_does_not_exist(sdb, domain):
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName="ghost",
                              Expected={"Name": "state", "Value": "open"})

    assert error_of(excinfo) == ("AttributeDoesNotExist", 404)


def test_delete_expecting_multi_valued_attribute_is_multi_valued_attribute(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName=item,
                              Expected={"Name": "tag", "Value": "a"})

    assert error_of(excinfo) == ("MultiValuedAttribute", 409)
    assert stored(sdb, domain, item) == ORIGINAL


def test_delete_with_exists_false_and_a_value_is_exists_and_expected_value(sdb, domain, item):
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName=item,
                              Expected={"Name": "lock", "Value": "x", "Exists": False})

    assert error_of(excinfo) == ("ExistsAndExpectedValue", 400)
    assert stored(sdb, domain, item) == ORIGINAL


def test_delete_older_indexed_expected_form_is_accepted(simpledb_server, sdb, domain, item):
    response = raw_request(simpledb_server.endpoint_url, {
        "Action": "DeleteAttributes", "DomainName": domain, "ItemName": item,
        "Expected.1.Name": "state", "Expected.1.Value": "open",
    })

    assert response.status == 200
    assert stored(sdb, domain, item) == []


# -- atomicity ---------------------------------------------------------------------------
THREADS = 8
INCREMENTS = 25
MAX_ATTEMPTS = 5000  # per thread: a broken conditional check must not spin forever


@pytest.mark.slow  # about 1,600 boto3 calls: roughly ten seconds in-process
def test_concurrent_compare_and_swap_increments_are_never_lost(simpledb_server, sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="counter",
                       Attributes=[{"Name": "n", "Value": "0000"}])
    clients = [sdb_client(simpledb_server.endpoint_url) for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def increment(client):
        start.wait()
        written = []
        for _attempt in range(MAX_ATTEMPTS):
            if len(written) == INCREMENTS:
                return written
            got = client.get_attributes(DomainName=domain, ItemName="counter",
                                        AttributeNames=["n"], ConsistentRead=True)
            (attribute,) = got["Attributes"]
            old = attribute["Value"]
            new = f"{int(old) + 1:04d}"
            try:
                client.put_attributes(
                    DomainName=domain, ItemName="counter",
                    Attributes=[{"Name": "n", "Value": new, "Replace": True}],
                    Expected={"Name": "n", "Value": old},
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailed":
                    raise
                continue
            written.append(new)
        raise AssertionError(f"gave up after {MAX_ATTEMPTS} attempts")

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(increment, clients))

    assert stored(sdb, domain, "counter") == [("n", f"{THREADS * INCREMENTS:04d}")]
    written = sorted(value for result in results for value in result)
    assert written == [f"{i:04d}" for i in range(1, THREADS * INCREMENTS + 1)]


def test_concurrent_create_with_exists_false_has_exactly_one_winner(
        simpledb_server, sdb, domain):
    clients = [sdb_client(simpledb_server.endpoint_url) for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def create(index):
        start.wait()
        try:
            clients[index].put_attributes(
                DomainName=domain, ItemName="singleton",
                Attributes=[{"Name": "owner", "Value": f"thread-{index}"}],
                Expected={"Name": "owner", "Exists": False},
            )
        except ClientError as error:
            return error.response["Error"]["Code"]
        return "won"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(create, range(THREADS)))

    assert sorted(outcomes) == ["ConditionalCheckFailed"] * (THREADS - 1) + ["won"]
    winner = outcomes.index("won")
    assert stored(sdb, domain, "singleton") == [("owner", f"thread-{winner}")]
