"""Stratus end to end on DynamoDB (STRATUS_STATE_STORE=dynamodb), with no SimpleDB at all: a
real node (nginx + gunicorn) and a real worker on the local stack's moto."""

import pytest
import requests

from .test_failures import csrf_post

PASSWORD = "dynamo-pass-123"


@pytest.mark.slow
def test_a_whole_journey_runs_on_dynamodb_without_simpledb(cluster):
    cluster.start_dynamodb_store()
    node = cluster.start_node()
    assert requests.get(node + "/readyz", timeout=30).status_code == 200
    session = requests.Session()
    session.get(node + "/accounts/signup/", timeout=60)
    response = csrf_post(session, node + "/accounts/signup/", {
        "username": "dynamo", "email": "dynamo@example.com",
        "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/library/"
    csrf_post(session, node + "/accounts/logout/", {})
    session.get(node + "/accounts/login/", timeout=60)
    response = csrf_post(session, node + "/accounts/login/",
                         {"username": "dynamo", "password": PASSWORD})
    assert response.status_code == 302
    session.get(node + "/library/upload/", timeout=60)
    response = csrf_post(session, node + "/library/upload/", {"title": "On DynamoDB"},
                         files={"file": ("note.txt", b"stored without SimpleDB\n")})
    assert response.status_code == 302, response.text[:300]
    file_page = node + response.headers["Location"]

    # The worker runs the upload's tasks; their results go to the DynamoDB table.
    cluster.manage("sqs_worker", "--batch", "--wait-seconds", "1")
    page = session.get(file_page, timeout=60)
    assert page.status_code == 200 and "SHA-256" in page.text
    results = cluster.manage(
        "shell", "--no-imports", "-c",
        "from django.tasks import task_backends; "
        "print(task_backends['default'].options['RESULTS_STORE'])")
    assert results.strip() == "dynamodb"
