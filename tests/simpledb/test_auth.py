"""Signature Version 2 as the emulator verifies it, over real HTTP."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from localaws.simpledb import SimpleDBServer
from localaws.simpledb.auth import sign, string_to_sign
from tests.fixtures.simpledb import ACCESS_KEY, SECRET_KEY, raw_request, sdb_client

VECTOR_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
VECTOR_PARAMS = {
    "Action": "ListDomains",
    "Version": "2009-04-15",
    "AWSAccessKeyId": "AKIDEXAMPLE",
    "SignatureVersion": "2",
    "SignatureMethod": "HmacSHA256",
    "Timestamp": "2026-01-01T00:00:00Z",
    "MaxNumberOfDomains": "5",
}


def timestamp(offset=timedelta()):
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_of(server):
    return urlsplit(server.endpoint_url).netloc


def hand_signed(server, params, offset=timedelta(), algorithm="HmacSHA256"):
    """ListDomains-style parameters with auth fields, signed by the emulator's `sign`.

    botocore's SigV2Auth always overwrites Timestamp with the current time, so requests
    with a chosen Timestamp are signed here and sent with sign=False.
    """
    params = {
        "Version": "2009-04-15",
        **params,
        "AWSAccessKeyId": ACCESS_KEY,
        "SignatureVersion": "2",
        "SignatureMethod": algorithm,
        "Timestamp": timestamp(offset),
    }
    params["Signature"] = sign(SECRET_KEY, "POST", host_of(server), "/", params, algorithm)
    return params


def test_check_vector_signature_matches_spec():
    assert sign(VECTOR_SECRET, "POST", "127.0.0.1:8080", "/", VECTOR_PARAMS) == (
        "oD3kL0puebunHJRjUeYaixpyX6CFbEfdu8HOAq5TJNk="
    )


def test_string_to_sign_sorts_by_name_and_percent_encodes_per_rfc3986():
    text = string_to_sign("POST", "h:1", "/", {
        "b": "a b~c-d_e.f", "a": "é/+", "Z": "*", "Signature": "ignored",
    })
    assert text == "POST\nh:1\n/\nZ=%2A&a=%C3%A9%2F%2B&b=a%20b~c-d_e.f"


def test_correctly_signed_boto3_call_succeeds(sdb):
    response = sdb.list_domains()
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_wrong_secret_is_auth_failure_403(simpledb_server):
    client = sdb_client(simpledb_server.endpoint_url, secret_key="not-the-secret")
    with pytest.raises(ClientError) as caught:
        client.list_domains()
    assert caught.value.response["Error"]["Code"] == "AuthFailure"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_access_key_is_auth_failure_403(simpledb_server):
    client = sdb_client(simpledb_server.endpoint_url, access_key="AKIDUNKNOWN")
    with pytest.raises(ClientError) as caught:
        client.list_domains()
    assert caught.value.response["Error"]["Code"] == "AuthFailure"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_parameter_changed_after_signing_is_auth_failure_403(simpledb_server):
    params = hand_signed(simpledb_server, {"Action": "ListDomains", "MaxNumberOfDomains": "5"})
    params["MaxNumberOfDomains"] = "6"
    response = raw_request(simpledb_server.endpoint_url, params, sign=False)
    assert (response.status, response.error_code) == (403, "AuthFailure")


def test_non_ascii_signature_is_auth_failure_403_not_500(simpledb_server):
    params = hand_signed(simpledb_server, {"Action": "ListDomains"})
    params["Signature"] = "é" + params["Signature"][1:]
    response = raw_request(simpledb_server.endpoint_url, params, sign=False)
    assert (response.status, response.error_code) == (403, "AuthFailure")


def test_missing_access_key_is_auth_missing_failure_403(simpledb_server):
    response = raw_request(simpledb_server.endpoint_url, {"Action": "ListDomains"}, sign=False)
    assert (response.status, response.error_code) == (403, "AuthMissingFailure")


@pytest.mark.parametrize("offset", [timedelta(minutes=-16), timedelta(minutes=16)],
                         ids=["past", "future"])
def test_timestamp_more_than_15_minutes_off_is_request_expired_400(simpledb_server, offset):
    params = hand_signed(simpledb_server, {"Action": "ListDomains"}, offset)
    response = raw_request(simpledb_server.endpoint_url, params, sign=False)
    assert (response.status, response.error_code) == (400, "RequestExpired")


@pytest.mark.parametrize("offset", [timedelta(minutes=-14), timedelta(minutes=14)],
                         ids=["past", "future"])
def test_timestamp_within_15_minutes_is_accepted(simpledb_server, offset):
    params = hand_signed(simpledb_server, {"Action": "ListDomains"}, offset)
    response = raw_request(simpledb_server.endpoint_url, params, sign=False)
    assert response.status == 200, response.text


def test_get_request_signed_with_sigv2_succeeds(simpledb_server, domain):
    response = raw_request(simpledb_server.endpoint_url, {"Action": "ListDomains"},
                           method="GET")
    assert response.status == 200, response.text
    names = [element.text for element in ElementTree.fromstring(response.body).iter()
             if element.tag.endswith("DomainName")]
    assert domain in names


def test_hmac_sha1_signature_is_accepted(simpledb_server):
    params = {
        "Action": "ListDomains",
        "Version": "2009-04-15",
        "AWSAccessKeyId": ACCESS_KEY,
        "SignatureVersion": "2",
        "SignatureMethod": "HmacSHA1",
        "Timestamp": timestamp(),
    }
    text = string_to_sign("POST", host_of(simpledb_server), "/", params)
    digest = hmac.new(SECRET_KEY.encode(), text.encode(), hashlib.sha1).digest()
    params["Signature"] = base64.b64encode(digest).decode()
    response = raw_request(simpledb_server.endpoint_url, params, sign=False)
    assert response.status == 200, response.text


@pytest.fixture
def open_server():
    """An emulator started with keys=None: it accepts any credentials."""
    server = SimpleDBServer(keys=None).start()
    yield server
    server.stop()


def test_server_without_keys_accepts_any_access_key(open_server):
    client = sdb_client(open_server.endpoint_url, access_key="AKIDANY", secret_key="anything")
    client.create_domain(DomainName="open")
    assert client.list_domains()["DomainNames"] == ["open"]


def test_server_without_keys_accepts_a_bad_signature(open_server):
    params = {
        "Action": "ListDomains",
        "AWSAccessKeyId": "AKIDANY",
        "SignatureVersion": "2",
        "SignatureMethod": "HmacSHA256",
        "Timestamp": timestamp(),
        "Signature": "bm90IGEgc2lnbmF0dXJl",
    }
    response = raw_request(open_server.endpoint_url, params, sign=False)
    assert response.status == 200, response.text
