"""The shape of requests and responses on the wire: errors, XML bodies and encodings."""

import base64
import http.client
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest

from tests.fixtures.simpledb import raw_request

NS = "{http://sdb.amazonaws.com/doc/2009-04-15/}"


def error(response):
    """(HTTP status, Code, Message) of an error response, checking the body's shape."""
    root = ElementTree.fromstring(response.body)
    assert root.tag == "Response"
    errors = root.findall("Errors/Error")
    assert len(errors) == 1
    code, message, box_usage = (errors[0].findtext(tag) for tag in ("Code", "Message", "BoxUsage"))
    assert code and message and box_usage
    assert root.findtext("RequestID")
    return response.status, code, message


def call(server, params, **options):
    return raw_request(server.endpoint_url, params, **options)


def send_body(server, body, method="POST"):
    """POST raw bytes; for bodies no client library would encode."""
    url = urlsplit(server.endpoint_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, "/", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- request errors ----------------------------------------------------------------------
def test_missing_action_is_missing_action_400(simpledb_server):
    assert error(call(simpledb_server, {}))[:2] == (400, "MissingAction")


def test_unknown_action_is_invalid_action_400(simpledb_server):
    response = call(simpledb_server, {"Action": "FrobnicateDomain"})
    assert error(response)[:2] == (400, "InvalidAction")


def test_wrong_version_is_no_such_version_400(simpledb_server):
    response = call(simpledb_server, {"Action": "ListDomains", "Version": "2007-11-07"})
    assert error(response)[:2] == (400, "NoSuchVersion")


@pytest.mark.parametrize("action, params", [
    ("CreateDomain", {}),
    ("DomainMetadata", {}),
    ("PutAttributes", {"ItemName": "i", "Attribute.1.Name": "a", "Attribute.1.Value": "v"}),
    ("GetAttributes", {"ItemName": "i"}),
    ("PutAttributes", {"DomainName": "DOMAIN", "Attribute.1.Name": "a",
                       "Attribute.1.Value": "v"}),
    ("DeleteAttributes", {"DomainName": "DOMAIN"}),
    ("Select", {}),
], ids=["create-domain-name", "metadata-domain-name", "put-domain-name", "get-domain-name",
        "put-item-name", "delete-item-name", "select-expression"])
def test_missing_required_parameter_is_missing_parameter_400(
        simpledb_server, domain, action, params):
    params = {name: domain if value == "DOMAIN" else value for name, value in params.items()}
    response = call(simpledb_server, {"Action": action, **params})
    assert error(response)[:2] == (400, "MissingParameter")


def test_attribute_name_without_value_is_missing_parameter_400(simpledb_server, domain):
    response = call(simpledb_server, {"Action": "PutAttributes", "DomainName": domain,
                                      "ItemName": "i", "Attribute.1.Name": "x"})
    assert error(response) == (400, "MissingParameter",
                               "Attribute.Value missing for Attribute.Name='x'.")


@pytest.mark.parametrize("params", [
    {"Action": "PutAttributes", "ItemName": "i", "Attribute.1.Name": "a",
     "Attribute.1.Value": "v", "Attribute.1.Replace": "yes"},
    {"Action": "GetAttributes", "ItemName": "i", "ConsistentRead": "1"},
    {"Action": "Select", "SelectExpression": "select * from `DOMAIN`", "ConsistentRead": "yes"},
    {"Action": "PutAttributes", "ItemName": "i", "Attribute.1.Name": "a",
     "Attribute.1.Value": "v", "Expected.Name": "a", "Expected.Value": "v",
     "Expected.Exists": "maybe"},
    {"Action": "DeleteAttributes", "ItemName": "i", "Expected.Name": "a",
     "Expected.Exists": "0"},
], ids=["replace", "get-consistent-read", "select-consistent-read", "put-expected-exists",
        "delete-expected-exists"])
def test_flag_that_is_not_true_or_false_is_invalid_parameter_value_400(
        simpledb_server, domain, params):
    params = {"DomainName": domain, **params}
    if "SelectExpression" in params:
        del params["DomainName"]
        params["SelectExpression"] = params["SelectExpression"].replace("DOMAIN", domain)
    assert error(call(simpledb_server, params))[:2] == (400, "InvalidParameterValue")


@pytest.mark.parametrize("value", ["0", "101", "abc"])
def test_max_number_of_domains_out_of_range_is_invalid_parameter_value_400(
        simpledb_server, value):
    response = call(simpledb_server, {"Action": "ListDomains", "MaxNumberOfDomains": value})
    assert error(response)[:2] == (400, "InvalidParameterValue")


@pytest.mark.parametrize("params, options, expected", [
    ({"Action": "CreateDomain", "DomainName": "ab"}, {}, (400, "InvalidParameterValue")),
    ({"Action": "DomainMetadata", "DomainName": "no-such-domain-here"}, {},
     (400, "NoSuchDomain")),
    ({"Action": "Select", "SelectExpression": "select from"}, {},
     (400, "InvalidQueryExpression")),
    ({"Action": "ListDomains"}, {"secret_key": "wrong-secret"}, (403, "AuthFailure")),
], ids=["invalid-value", "no-such-domain", "bad-select", "auth"])
def test_error_body_is_response_errors_error_with_code_message_box_usage_request_id(
        simpledb_server, params, options, expected):
    response = call(simpledb_server, params, **options)
    assert error(response)[:2] == expected  # `error` checks the shape


# -- success bodies ----------------------------------------------------------------------
def test_success_body_has_result_and_response_metadata_in_2009_namespace(simpledb_server):
    response = call(simpledb_server, {"Action": "ListDomains"})
    root = ElementTree.fromstring(response.body)
    assert response.status == 200
    assert root.tag == f"{NS}ListDomainsResponse"
    assert root.find(f"{NS}ListDomainsResult") is not None
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
    assert root.findtext(f"{NS}ResponseMetadata/{NS}BoxUsage")


def test_success_body_without_result_still_has_response_metadata(simpledb_server, domain):
    response = call(simpledb_server, {"Action": "CreateDomain", "DomainName": domain})
    root = ElementTree.fromstring(response.body)
    assert response.status == 200
    assert root.tag == f"{NS}CreateDomainResponse"
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
    assert root.findtext(f"{NS}ResponseMetadata/{NS}BoxUsage")


# -- values on the wire ------------------------------------------------------------------
def test_value_invalid_in_xml_comes_back_base64_encoded(simpledb_server, sdb, domain):
    value = "bell\x01end"
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=[{"Name": "a", "Value": value}])
    response = call(simpledb_server, {"Action": "GetAttributes", "DomainName": domain,
                                      "ItemName": "i", "ConsistentRead": "true"})
    root = ElementTree.fromstring(response.body)  # the whole body is well-formed XML
    element = root.find(f"{NS}GetAttributesResult/{NS}Attribute/{NS}Value")
    assert element.get("encoding") == "base64"
    assert base64.b64decode(element.text).decode("utf-8") == value


def test_item_name_invalid_in_xml_comes_back_base64_encoded_from_select(
        simpledb_server, sdb, domain):
    sdb.put_attributes(DomainName=domain, ItemName="item\x02",
                       Attributes=[{"Name": "a", "Value": "v"}])
    response = call(simpledb_server, {"Action": "Select", "ConsistentRead": "true",
                                      "SelectExpression": f"select * from `{domain}`"})
    root = ElementTree.fromstring(response.body)
    element = root.find(f"{NS}SelectResult/{NS}Item/{NS}Name")
    assert element.get("encoding") == "base64"
    assert base64.b64decode(element.text).decode("utf-8") == "item\x02"


def test_value_with_cr_markup_and_non_ascii_round_trips_through_boto3(sdb, domain):
    value = "line\r\nnext\rlast & <b>\"q\"</b> 'é' ✓ 𝄞 \t end "
    sdb.put_attributes(DomainName=domain, ItemName="i",
                       Attributes=[{"Name": "a", "Value": value}])
    response = sdb.get_attributes(DomainName=domain, ItemName="i", ConsistentRead=True)
    assert response["Attributes"] == [{"Name": "a", "Value": value}]


# -- HTTP-level errors -------------------------------------------------------------------
def test_unsupported_http_method_is_invalid_http_request_400(simpledb_server):
    response = call(simpledb_server, {"Action": "ListDomains"}, method="PUT")
    assert error(response)[:2] == (400, "InvalidHttpRequest")


@pytest.mark.parametrize("body", [
    b"Action=ListDomains&Version=2009-04-15&MaxNumberOfDomains=%FF",
    b"Action=ListDomains&Version=2009-04-15&MaxNumberOfDomains=\xff",
    b"Action=ListDomains&Version=2009-04-15&MaxNumberOfDomains=%C3",
], ids=["percent-encoded", "raw-byte", "truncated-sequence"])
def test_invalid_utf8_in_body_is_invalid_http_request_400(simpledb_server, body):
    status, payload = send_body(simpledb_server, body)
    code = ElementTree.fromstring(payload).findtext("Errors/Error/Code")
    assert (status, code) == (400, "InvalidHttpRequest")
