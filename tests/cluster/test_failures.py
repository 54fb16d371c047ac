"""Web nodes on a SimpleDB that fails: retries carry a journey, an outage is a 503 page."""

import subprocess
import sys

import pytest
import requests

from .conftest import ROOT

PASSWORD = "journey-pass-123"


def csrf_post(session, url, data, files=None):
    data = {**data, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
    return session.post(url, data=data, files=files, allow_redirects=False, timeout=60)


@pytest.mark.slow
def test_a_whole_journey_succeeds_while_a_fifth_of_simpledb_calls_fail(cluster):
    # Eight attempts a call: the chance that all fail at a 20% rate is 1 in 390,000.
    cluster.start_simpledb("--fail-rate", "0.2", "--seed", "11", AWS_MAX_ATTEMPTS="8")
    node = cluster.start_web()
    session = requests.Session()
    session.get(node + "/accounts/signup/", timeout=60)
    response = csrf_post(session, node + "/accounts/signup/", {
        "username": "persistent", "email": "persistent@example.com",
        "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/library/"
    csrf_post(session, node + "/accounts/logout/", {})
    session.get(node + "/accounts/login/", timeout=60)
    response = csrf_post(session, node + "/accounts/login/",
                         {"username": "persistent", "password": PASSWORD})
    assert response.status_code == 302
    session.get(node + "/library/upload/", timeout=60)
    response = csrf_post(session, node + "/library/upload/", {"title": "Retried"},
                         files={"file": ("note.txt", b"made it through")})
    assert response.status_code == 302, response.text[:300]
    listing = session.get(node + "/library/", timeout=60)
    assert listing.status_code == 200 and "note.txt" in listing.text


@pytest.mark.slow
def test_with_simpledb_stopped_a_signed_in_request_gets_the_503_page(cluster):
    cluster.start_simpledb(AWS_MAX_ATTEMPTS="2", AWS_CONNECT_TIMEOUT="1")
    cluster.create_user("stranded", PASSWORD)
    node = cluster.start_web()
    session = requests.Session()
    session.get(node + "/accounts/login/", timeout=60)
    response = csrf_post(session, node + "/accounts/login/",
                         {"username": "stranded", "password": PASSWORD})
    assert response.status_code == 302
    cluster.stop_simpledb()
    response = session.get(node + "/library/", allow_redirects=False, timeout=60)
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.text
    assert "Traceback" not in response.text


@pytest.mark.slow
def test_incr_from_four_processes_counts_every_increment(cluster):
    cluster.start_simpledb()
    cluster.manage("shell", "--no-imports", "-c",
                   "from django.core.cache import cache; cache.set('hits', 0, None)")
    script = ("from django.core.cache import cache\n"
              "for _ in range(250):\n"
              "    cache.incr('hits')\n")
    workers = [
        subprocess.Popen([sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
                         cwd=ROOT, env=cluster.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    total = cluster.manage("shell", "--no-imports", "-c",
                           "from django.core.cache import cache; print(cache.get('hits'))")
    assert total.strip() == "1000"
