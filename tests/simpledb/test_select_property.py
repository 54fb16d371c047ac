"""Random domains and random Select expressions: the emulator agrees with the reference."""

import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.simpledb import put_items, select_names

from . import select_reference as ref


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=ref.items, draw=st.data(), seed=st.integers(0, 2**32 - 1))
def test_select_matches_reference_evaluator(sdb, data, draw, seed):
    where = draw.draw(ref.expressions(ref.values_in(data)), label="where")
    domain = f"prop{uuid.uuid4().hex[:12]}"
    sdb.create_domain(DomainName=domain)
    try:
        put_items(sdb, domain, data)
        condition = ref.render(where, random.Random(seed))
        expected = sorted(name for name, attrs in data.items() if ref.matches(where, name, attrs))
        names = select_names(sdb, f"select itemName() from {domain} where {condition} limit 2500")
        assert names == expected, condition
        [count] = sdb.select(
            SelectExpression=f"select count(*) from {domain} where {condition}",
            ConsistentRead=True,
        )["Items"]
        assert count["Attributes"][0]["Value"] == str(len(expected)), condition
    finally:
        sdb.delete_domain(DomainName=domain)
