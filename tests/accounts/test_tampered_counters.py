"""A log-in counter whose stored record does not verify (tampered in the domain, or signed
with a key retired without a fallback) is counted over as if absent: the user's failed
log-ins still answer with the form, and still count towards the lock-out.
"""

import hashlib

import pytest
from django.conf import settings
from django.core.cache import caches

from apps.accounts.lockout import _keys
from storage_backends import aws
from storage_backends.dynamodb.client import DynamoDBTable
from storage_backends.dynamodb.entries import VALUE_SIGNATURE

from .conftest import PAIR_LIMIT, USERNAME, fail, is_locked_out

pytestmark = pytest.mark.usefixtures("login_limits", "each_state_store")

ADDRESS = "198.51.100.7"


def tamper(key):
    """Set a counter of 4 for `key`, then overwrite its signature as anyone with write
    access to the domain or table could."""
    cache = caches[settings.AXES_CACHE]
    cache.set(key, 4, timeout=900)
    item = hashlib.sha256(cache.make_key(key).encode()).hexdigest()
    if settings.STRATUS_STATE_STORE == "dynamodb":
        table = DynamoDBTable(cache.table, aws.client("dynamodb"))
        table.put(item, {**table.get(item, consistent=True), VALUE_SIGNATURE: "0" * 64})
    else:
        aws.client("sdb").put_attributes(
            DomainName=cache.domain, ItemName=item,
            Attributes=[{"Name": "sig", "Value": "0" * 64, "Replace": True}])


@pytest.mark.parametrize("counter", ["pair", "address"])
def test_a_failed_login_over_a_tampered_counter_answers_the_form(user, log_in, counter):
    tamper(_keys(USERNAME, ADDRESS)[counter])

    response = log_in(password="wrong", REMOTE_ADDR=ADDRESS)

    assert response.status_code == 200
    assert response.context["form"].errors


def test_failures_over_a_tampered_counter_still_lead_to_the_lockout(user, log_in):
    tamper(_keys(USERNAME, ADDRESS)["pair"])

    fail(log_in, PAIR_LIMIT, REMOTE_ADDR=ADDRESS)

    assert is_locked_out(log_in(REMOTE_ADDR=ADDRESS))
