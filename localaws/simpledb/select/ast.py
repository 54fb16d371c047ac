"""The parsed form of a Select expression.

Plain frozen dataclasses, so two parses of the same text compare equal (NextToken binding
relies on that) and the SQL translator and the tests can pattern-match on them.
"""

from dataclasses import dataclass, field

#: Expressions longer than this (an `in` list of thousands of values) are cached only a few
#: at a time, parsed or translated, so that no client can fill the memory with them.
LONG_EXPRESSION = 16 * 1024


@dataclass(frozen=True)
class Operand:
    """What a comparison tests: an attribute, `itemName()`, or `every(attribute)`."""

    name: str | None  # None for itemName()
    every: bool = False

    @property
    def is_item_name(self):
        return self.name is None


ITEM_NAME = Operand(None)


@dataclass(frozen=True)
class Comparison:
    """`operand op values`: op is one of = != > >= < <= like, not like, between, in,
    is null, is not null; values holds 0, 1, 2 (between) or n (in) strings."""

    operand: Operand
    op: str
    values: tuple[str, ...] = ()

    @property
    def tests_presence(self):
        return self.op in ("is null", "is not null")


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class BoolOp:
    """n-ary `and`, `or` or `intersection`."""

    op: str
    operands: tuple


@dataclass(frozen=True)
class Query:
    """A whole Select expression."""

    output: str  # "*", "itemName()", "count(*)" or "attributes"
    attributes: tuple[str, ...]
    domain: str
    where: object | None = None
    order_by: Operand | None = None
    descending: bool = False
    limit: int | None = None
    #: Length of the expression's text (not part of the query's meaning).
    source_length: int = field(default=0, compare=False)

    @property
    def is_long(self):
        return self.source_length > LONG_EXPRESSION

    def without_limit(self):
        """The query as NextToken binds it: a client may change `limit` between pages."""
        return (self.output, self.attributes, self.domain, self.where, self.order_by,
                self.descending)
