"""Two web nodes, one SimpleDB that answers half its eventually consistent reads stale:
a log-in or log-out through one node is always seen by the other."""

import pytest
import requests

# Half the reads are stale: one eventually consistent read would show within a few trials.
TRIALS = 100
PASSWORD = "cluster-pass-123"


def csrf_post(session, url, data):
    data = {**data, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
    return session.post(url, data=data, allow_redirects=False, timeout=30)


def logged_in(session, node):
    response = session.get(node + "/library/", allow_redirects=False, timeout=30)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


@pytest.mark.slow
def test_log_in_and_out_on_one_node_is_seen_on_the_other(cluster):
    cluster.start_simpledb("--stale-read-rate", "0.5", "--seed", "7")
    cluster.create_user("roamer", PASSWORD)
    first, second = cluster.start_web(), cluster.start_web()
    session = requests.Session()
    session.get(first + "/accounts/login/", timeout=30)  # the CSRF cookie
    anomalies = []
    for trial in range(TRIALS):
        response = csrf_post(session, first + "/accounts/login/",
                             {"username": "roamer", "password": PASSWORD})
        assert response.status_code == 302, response.text[:300]
        if not logged_in(session, second):
            anomalies.append((trial, "log-in not seen"))
        response = csrf_post(session, second + "/accounts/logout/", {})
        assert response.status_code == 302
        if logged_in(session, first):
            anomalies.append((trial, "log-out not seen"))
    assert anomalies == []
