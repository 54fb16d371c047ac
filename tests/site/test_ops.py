"""Health endpoints, error pages, the 503 page and request ids."""

import io
import json
import logging

import pytest
from django.conf import settings as django_settings

from apps.ops.logging import RequestIdFilter
from localaws.simpledb import SimpleDBServer
from storage_backends import aws

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoints(settings):
    """Change AWS endpoints for one test; clients are remade before and after."""
    aws.reset()
    yield settings.AWS_ENDPOINT_URLS
    aws.reset()


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_healthz_makes_no_network_calls(client, settings, endpoints):
    settings.AWS_ENDPOINT_URLS = {name: "http://127.0.0.1:9" for name in endpoints}
    assert client.get("/healthz").status_code == 200


def test_healthz_answers_head_for_uptime_checkers(client):
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""


def test_readyz_answers_head_for_uptime_checkers(client):
    assert client.head("/readyz").status_code == 200


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405


def test_readyz_reports_every_dependency_ok(client, settings):
    settings.STRATUS_STATE_STORE = "simpledb"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {
        "database": "ok", "s3": "ok", "sqs": "ok", "simpledb": "ok"}}


def test_readyz_with_simpledb_stopped_is_503_naming_it(client, settings, endpoints):
    settings.STRATUS_STATE_STORE = "simpledb"
    stopped = SimpleDBServer().start()
    stopped.stop()
    settings.AWS_ENDPOINT_URLS = {**endpoints, "sdb": stopped.endpoint_url}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["simpledb"]
    assert body["checks"]["s3"] == "ok"
    assert "Could not connect" in body["checks"]["simpledb"]


def test_readyz_on_dynamodb_checks_the_sessions_table_and_not_simpledb(client, settings,
                                                                        dynamodb_table):
    settings.STRATUS_STATE_STORE = "dynamodb"
    settings.DYNAMODB_SESSIONS_TABLE = dynamodb_table
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "s3": "ok", "sqs": "ok",
                                          "dynamodb": "ok"}


def test_readyz_on_dynamodb_without_its_sessions_table_is_503_naming_it(client, settings):
    settings.STRATUS_STATE_STORE = "dynamodb"
    settings.DYNAMODB_SESSIONS_TABLE = "not-provisioned"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["dynamodb"]
    assert "ResourceNotFoundException" in response.json()["checks"]["dynamodb"]


def test_readyz_with_a_missing_bucket_is_503_naming_s3(client, settings):
    settings.STRATUS_MEDIA_BUCKET = "no-such-bucket-here"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["s3"]


@pytest.fixture
def draining(settings, tmp_path, monkeypatch):
    """This node's drain file exists; a dependency check would fail the test if it ran."""
    settings.STRATUS_DRAIN_FILE = str(tmp_path / "draining")
    (tmp_path / "draining").touch()

    def no_checks():
        pytest.fail("a draining node ran its dependency checks")
    monkeypatch.setattr("apps.ops.views.run_checks", no_checks)


def test_readyz_on_a_draining_node_is_503_draining_without_checks(client, draining):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "draining"}


def test_healthz_on_a_draining_node_is_still_ok(client, draining):
    assert client.get("/healthz").status_code == 200


def test_readyz_is_ready_again_once_the_drain_file_is_gone(client, settings, tmp_path):
    settings.STRATUS_DRAIN_FILE = str(tmp_path / "draining")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.urls("tests.site.urls")
def test_aws_unreachable_during_a_request_is_the_503_page(client):
    response = client.get("/test/aws-down")
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content
    assert b"Traceback" not in response.content


@pytest.mark.urls("tests.site.urls")
def test_a_bug_is_the_500_page_without_traceback(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    response = client.get("/test/crash")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"Traceback" not in response.content and b"a bug" not in response.content


def test_an_unknown_page_is_the_404_page(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"There is nothing here." in response.content


def test_a_bad_host_is_the_400_page(client, settings):
    settings.DEBUG = False
    response = client.get("/healthz", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert b"Bad request" in response.content


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response["X-Request-ID"]) == 32


def test_a_well_formed_incoming_request_id_is_kept(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="Root=1-abc-def")
    assert response["X-Request-ID"] == "Root=1-abc-def"


def test_a_malformed_incoming_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.urls("tests.site.urls")
def test_production_log_lines_are_json_with_the_request_id(client):
    from pythonjsonlogger.json import JsonFormatter

    json_format = django_settings.LOGGING["formatters"]["json"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter(json_format["fmt"],
                                       rename_fields=json_format["rename_fields"]))
    logger = logging.getLogger("tests.site")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        response = client.get("/test/log")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "something happened"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["level"] == "INFO"


@pytest.mark.urls("tests.site.urls")
def test_a_service_failing_in_middleware_is_the_503_page(client, settings):
    settings.DEBUG = False
    settings.MIDDLEWARE = ["tests.site.urls.FailingResponseMiddleware", *settings.MIDDLEWARE]
    client.raise_request_exception = False
    response = client.get("/test/unavailable-after-view")
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content


def test_a_readiness_probe_retries_one_failed_call():
    from apps.ops import checks

    assert checks._client("sdb").meta.config.retries["total_max_attempts"] == 2
