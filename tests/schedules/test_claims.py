"""The claim store's contract, on each state store: a conditional write per slot that
exactly one writer wins, take-overs on a token, heads that keep what they are not told."""

import threading
import time

import pytest

pytestmark = pytest.mark.usefixtures("each_state_store")

CLAIM = {"state": "claimed", "token": "t1", "worker": "w1", "result_id": "0" * 32,
         "expires": "009999999999"}


def key(name="k"):
    return f"default/{name}-{time.time_ns()}"


def test_the_first_claim_of_a_key_is_written(claims):
    claim = key()
    assert claims.claim(claim, CLAIM) is True
    assert claims.get(claim) == CLAIM


def test_a_second_claim_of_the_same_key_is_refused_and_changes_nothing(claims):
    claim = key()
    claims.claim(claim, CLAIM)
    assert claims.claim(claim, {**CLAIM, "token": "t2", "worker": "w2"}) is False
    assert claims.get(claim)["worker"] == "w1"


def test_of_many_writers_claiming_at_once_exactly_one_wins(claims):
    claim, start, won = key(), threading.Barrier(8), []

    def race(n):
        start.wait()
        if claims.claim(claim, {**CLAIM, "token": f"t{n}", "worker": f"w{n}"}):
            won.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    assert claims.get(claim)["worker"] == f"w{won[0]}"


def test_a_take_over_with_the_claims_token_replaces_it(claims):
    claim = key()
    claims.claim(claim, CLAIM)
    assert claims.take_over(claim, "t1", {**CLAIM, "token": "t2", "worker": "w2"}) is True
    assert (claims.get(claim)["token"], claims.get(claim)["worker"]) == ("t2", "w2")


def test_a_take_over_with_a_stale_token_is_refused(claims):
    claim = key()
    claims.claim(claim, CLAIM)
    claims.take_over(claim, "t1", {**CLAIM, "token": "t2"})
    assert claims.take_over(claim, "t1", {**CLAIM, "token": "t3"}) is False
    assert claims.get(claim)["token"] == "t2"


def test_since_is_set_once(claims):
    head = key("head")
    assert claims.start(head, "001800000000") is True
    assert claims.start(head, "001900000000") is False
    assert claims.get(head) == {"since": "001800000000"}


def test_an_update_keeps_the_attributes_it_does_not_name(claims):
    head = key("head")
    claims.start(head, "001800000000")
    claims.update(head, {"slot": "001800000060", "result_id": "a" * 32})
    assert claims.get(head) == {"since": "001800000000", "slot": "001800000060",
                                "result_id": "a" * 32}


def test_a_missing_record_reads_as_empty(claims):
    assert claims.get(key("nothing")) == {}


def test_get_many_returns_the_records_that_exist(claims):
    present, absent = key("a"), key("b")
    claims.start(present, "001800000000")
    assert claims.get_many([present, absent]) == {present: {"since": "001800000000"}}


def test_prune_deletes_expired_claims_and_keeps_live_ones_and_heads(claims):
    old, live, head = key("old"), key("live"), key("head")
    claims.claim(old, {**CLAIM, "expires": "001000000000"})
    claims.claim(live, {**CLAIM, "expires": "009000000000"})
    claims.start(head, "001000000000")
    assert claims.prune(now=1_500_000_000) >= 1
    assert (claims.get(old), bool(claims.get(live)), bool(claims.get(head))) == (
        {}, True, True)
