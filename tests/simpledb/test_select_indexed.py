"""Select is answered from SQLite indexes, never by visiting every item of the domain."""

import pytest

from localaws.simpledb.models import SimpleDB
from localaws.simpledb.select.parser import parse
from localaws.simpledb.select.sql import SelectSQL

GROUPS = 100  # each group value is held by size / GROUPS items


def build(size):
    """An in-memory emulator holding one domain of `size` items with `g` and `t` attributes."""
    backend = SimpleDB()
    backend.create_domain("big")
    for start in range(0, size, 25):
        backend.batch_put_attributes("big", [
            (f"item{n:06d}", [("g", f"g{n % GROUPS:03d}", False),
                              ("t", f"t{n % GROUPS:03d}x{n:06d}", False)])
            for n in range(start, min(start + 25, size))
        ])
    return backend


@pytest.fixture(scope="module")
def small():
    backend = build(2_000)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def large():
    backend = build(20_000)
    yield backend
    backend.close()


def plan(backend, expression):
    sql, params = SelectSQL(parse(expression), domain_id(backend)).page(None, 2500)
    with backend.db.read() as connection:
        return [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]


def domain_id(backend):
    with backend.db.read() as connection:
        return connection.execute("SELECT id FROM domains WHERE name = 'big'").fetchone()[0]


def steps(backend, expression):
    """SQLite virtual-machine steps to produce every row of the query."""
    sql, params = SelectSQL(parse(expression), domain_id(backend)).page(None, 2500)
    counter = [0]

    def tick():
        counter[0] += 1
        return 0

    with backend.db.read() as connection:
        connection.set_progress_handler(tick, 1)
        try:
            rows = connection.execute(sql, params).fetchall()
        finally:
            connection.set_progress_handler(None, 0)
    return counter[0], len(rows)


def test_equality_select_searches_the_value_index(small):
    lines = plan(small, "select itemName() from big where g = 'g007'")
    assert any("attrs_by_value (domain_id=? AND name=? AND value=?)" in line for line in lines)
    assert not any(line.startswith("SCAN") for line in lines)


def test_prefix_like_select_searches_a_value_range(small):
    lines = plan(small, "select itemName() from big where t like 't007x%'")
    assert any("value>? AND value<?" in line for line in lines)
    assert not any(line.startswith("SCAN") for line in lines)


def test_item_name_in_list_looks_items_up_by_key(small):
    lines = plan(small, "select * from big where itemName() in ('item000001', 'item000002')")
    assert lines[0] == "SEARCH i USING PRIMARY KEY (domain_id=? AND name=?)"
    # The list itself arrives as one JSON parameter: the only scan is of its values.
    assert [line for line in lines if line.startswith("SCAN")] == [
        "SCAN json_each VIRTUAL TABLE INDEX 1:"
    ]


@pytest.mark.parametrize("condition", ["g = 'g007'", "t like 't007x0000%'"])
def test_indexed_select_work_does_not_grow_with_the_domain(small, large, condition):
    expression = f"select itemName() from big where {condition}"
    small_steps, small_rows = steps(small, expression)
    large_steps, large_rows = steps(large, expression)
    if condition.startswith("g"):
        assert (small_rows, large_rows) == (20, 200)
        # Ten times the matches, ten times the work; not ten times the domain on top.
        assert large_steps <= 10 * small_steps * 1.5
    else:
        assert small_rows == large_rows == 1
        assert large_steps <= small_steps * 1.5


def test_contains_like_has_to_scan_the_attribute(small, large):
    expression = "select itemName() from big where t like '%07x00001%'"
    small_steps, _ = steps(small, expression)
    large_steps, _ = steps(large, expression)
    assert large_steps >= 5 * small_steps
