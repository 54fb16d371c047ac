"""Translate a parsed Select expression into SQL over the emulator's SQLite tables.

Tables (see `storage.py`): `items(domain_id, name)` holds one row per existing item and
`attrs(domain_id, item, name, value)` one row per attribute pair, indexed by
`(domain_id, name, value, item)`. Every comparison on an attribute becomes an
`item IN (SELECT item FROM attrs WHERE domain_id=? AND name=? AND <test on value>)`
subquery, which SQLite answers from that index: an equality or `like 'x%'` touches only the
matching index entries, never every item of the domain. Tests on `itemName()` become tests
on the item's primary key.

Multi-valued semantics, as SimpleDB documents them and as this translator applies them:
- a comparison matches an item when *any* value of the attribute satisfies it; an item
  without the attribute never matches (only `is null` does);
- comparisons on the same operand joined directly by `and` (or `or`) are tested against
  one value at a time, so `K = 'a' and K = 'b'` never matches, whereas
  `K = 'a' intersection K = 'b'` matches an item holding both values;
- `every(K) <test>` matches when K is present and all its values pass;
- `not`, `intersection`, and `and`/`or` between different operands combine item sets.
"""

import functools
import hashlib
import json

from .ast import BoolOp, Comparison, Not

_SIMPLE_OPERATORS = {"=", "!=", ">", ">=", "<", "<="}


class Params:
    """Collects bound parameters under generated names, so SQL fragments compose freely."""

    def __init__(self):
        self.values = {}

    def __call__(self, value):
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def successor(prefix):
    """The least string greater than every string that starts with `prefix` (None if none).

    SQLite's BINARY collation compares UTF-8 bytes, which orders strings by code point,
    as Python does; so `prefix <= value < successor(prefix)` is exactly "starts with".
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code == 0xD800:  # surrogates never occur in UTF-8 text
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def like_parts(pattern):
    """Split a like pattern into literal runs around its unescaped `%` wildcards."""
    parts, current, index = [], [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and pattern[index + 1:index + 2] == "%":
            current.append("%")
            index += 2
            continue
        if char == "%":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _glob_literal(text):
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def like_test(column, pattern, params):
    """SQL testing `column like pattern`; a prefix pattern becomes an indexable range."""
    parts = like_parts(pattern)
    if len(parts) == 1:
        return f"{column} = {params(parts[0])}"
    if len(parts) == 2 and parts[1] == "":
        prefix = parts[0]
        upper = successor(prefix)
        if not prefix:
            return "1"
        if upper is None:
            return f"{column} >= {params(prefix)}"
        return f"({column} >= {params(prefix)} AND {column} < {params(upper)})"
    glob = "*".join(_glob_literal(part) for part in parts)
    return f"{column} GLOB {params(glob)}"


def value_test(comparison, column, params):
    """SQL testing one value (in `column`) against a comparison."""
    op, values = comparison.op, comparison.values
    if op in _SIMPLE_OPERATORS:
        sql_op = "<>" if op == "!=" else op
        return f"{column} {sql_op} {params(values[0])}"
    if op == "like":
        return like_test(column, values[0], params)
    if op == "not like":
        return f"NOT {like_test(column, values[0], params)}"
    if op == "between":
        return f"({column} >= {params(values[0])} AND {column} <= {params(values[1])})"
    if op == "in":
        # One JSON parameter, however long the list: SQLite allows at most 32,766 bound
        # parameters, and finds a named one by a linear search (quadratic for thousands).
        return f"{column} IN (SELECT value FROM json_each({params(json.dumps(values))}))"
    raise ValueError(f"not a value test: {op}")


def single_group(where):
    """(joiner, comparisons) if `where` is value tests on one plain attribute, else None."""
    if isinstance(where, Comparison):
        comparisons, joiner = [where], " AND "
    elif isinstance(where, BoolOp) and where.op in ("and", "or") \
            and all(isinstance(c, Comparison) for c in where.operands):
        comparisons, joiner = list(where.operands), f" {where.op.upper()} "
    else:
        return None
    operand = comparisons[0].operand
    if operand.is_item_name or operand.every or any(
        c.operand != operand or c.tests_presence for c in comparisons
    ):
        return None
    return joiner, comparisons


class Translator:
    """Builds the SQL condition on an item-name column for a where clause.

    `attrs` names the relation holding attribute pairs: the `attrs` table for consistent
    reads, or the `stale_attrs` view of `SelectSQL` for an eventually consistent one.
    """

    def __init__(self, domain_param, params, attrs="attrs"):
        self.domain = domain_param
        self.params = params
        self.attrs = attrs

    def condition(self, node, item):
        if isinstance(node, Not):
            return f"NOT ({self.condition(node.operand, item)})"
        if isinstance(node, Comparison):
            return self.group(node.operand, "and", [node], item)
        joiner = " OR " if node.op == "or" else " AND "
        parts = []
        grouped = {}
        for operand in node.operands:
            if node.op != "intersection" and isinstance(operand, Comparison) \
                    and not operand.tests_presence:
                grouped.setdefault(operand.operand, []).append(operand)
            else:
                parts.append(self.condition(operand, item))
        for operand, comparisons in grouped.items():
            parts.append(self.group(operand, node.op, comparisons, item))
        return "(" + joiner.join(parts) + ")"

    def group(self, operand, op, comparisons, item):
        """Comparisons on one operand, joined by `op`, tested against a single value."""
        first = comparisons[0]
        if first.tests_presence:
            present = self.has_attribute(operand.name, item)
            return present if first.op == "is not null" else f"NOT {present}"
        joiner = " OR " if op == "or" else " AND "
        if operand.is_item_name:
            return "(" + joiner.join(value_test(c, item, self.params) for c in comparisons) + ")"
        test = "(" + joiner.join(value_test(c, "value", self.params) for c in comparisons) + ")"
        name = self.params(operand.name)
        matching = (
            f"{item} IN (SELECT item FROM {self.attrs} "
            f"WHERE domain_id = {self.domain} AND name = {name} AND {{test}})"
        )
        if not operand.every:
            return matching.format(test=test)
        failing = matching.format(test=f"NOT {test}")
        return f"({self.has_attribute(operand.name, item)} AND NOT {failing})"

    def has_attribute(self, name, item):
        return (
            f"{item} IN (SELECT item FROM {self.attrs} "
            f"WHERE domain_id = {self.domain} AND name = {self.params(name)})"
        )


_STALE_VIEWS = """
WITH stale_attrs(domain_id, item, name, value) AS (
    SELECT domain_id, item, name, value FROM attrs
    WHERE domain_id = {d} AND item NOT IN (SELECT item FROM previous WHERE domain_id = {d})
    UNION ALL
    SELECT p.domain_id, p.item, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]')
    FROM previous AS p, json_each(p.snapshot) AS j WHERE p.domain_id = {d}
),
stale_items(domain_id, name) AS (SELECT DISTINCT domain_id, item FROM stale_attrs)
"""


class SelectSQL:
    """The SQL for one page (or one count) of a parsed query against one domain.

    With `stale=True` the query reads every item as it was before its latest write (the
    `previous` table), which is how the emulator models an eventually consistent read.
    """

    def __init__(self, query, domain_id, stale=False):
        self.query = query
        #: What a NextToken is bound to: the query's meaning, except its page limit.
        self.digest = hashlib.sha256(repr(query.without_limit()).encode()).hexdigest()[:32]
        self.params = Params()
        self.domain = self.params(domain_id)
        self.prefix = _STALE_VIEWS.format(d=self.domain) if stale else ""
        self.attrs = "stale_attrs" if stale else "attrs"
        self.items = "stale_items" if stale else "items"
        translator = Translator(self.domain, self.params, self.attrs)
        self.where = f"i.domain_id = {self.domain}"
        if query.where is not None:
            self.where += " AND " + translator.condition(query.where, "i.name")
        # In item-name order, pages are read from `source` (rows of `i`, its item names in
        # `column`): the items table filtered by the where clause or, when the clause is
        # one test on one attribute (the commonest query), that attribute's value index
        # alone, which spares a lookup per match.
        self.column, self.source = "i.name", f"{self.items} AS i WHERE {self.where}"
        group = single_group(query.where)
        if group is not None:
            joiner, comparisons = group
            test = joiner.join(value_test(c, "i.value", self.params) for c in comparisons)
            # Without statistics SQLite may prefer walking the primary key in item order
            # (to skip a sort) over the value index; name the index to rule that out.
            indexed = "" if stale else " INDEXED BY attrs_by_value"
            self.column = "i.item"
            self.source = (
                f"{self.attrs} AS i{indexed} WHERE i.domain_id = {self.domain} "
                f"AND i.name = {self.params(comparisons[0].operand.name)} AND ({test})"
            )

    def _bind(self, sql, extra):
        values = dict(self.params.values)
        values.update(extra)
        return self.prefix + sql, values

    def page(self, after, limit):
        """SQL returning (name, sort key) rows after the position `after`, in result order."""
        order = self.query.order_by
        if order is None or order.is_item_name:
            return self._bind(*self._by_item_name(after, limit, self.query.descending))
        return self._bind(*self._by_attribute(order.name, after, limit))

    def count(self, after, limit):
        """SQL returning (count, last name) of up to `limit` matches after `after`."""
        sql, extra = self._by_item_name(after, limit, descending=False)
        return self._bind(f"SELECT count(*), max(name) FROM ({sql})", extra)

    def _by_item_name(self, after, limit, descending):
        column, direction = self.column, "DESC" if descending else "ASC"
        keyset, extra = "", {"limit": limit}
        if after is not None:
            keyset = f" AND {column} {'<' if descending else '>'} :after_name"
            extra["after_name"] = after[1]
        sql = (
            f"SELECT DISTINCT {column} AS name, NULL FROM {self.source}{keyset} "
            f"ORDER BY {column} {direction} LIMIT :limit"
        )
        return sql, extra

    def _by_attribute(self, name, after, limit):
        """Items sorted by their least (ascending) or greatest (descending) value of `name`."""
        descending = self.query.descending
        aggregate, compare = ("max", "<") if descending else ("min", ">")
        direction = "DESC" if descending else "ASC"
        keyset, extra = "", {"limit": limit, "sort_name": name}
        if after is not None:
            keyset = (
                f" AND (sort_key {compare} :after_key "
                f"OR (sort_key = :after_key AND name {compare} :after_name))"
            )
            extra.update(after_key=after[0], after_name=after[1])
        sql = (
            f"SELECT name, sort_key FROM ("
            f"SELECT i.name AS name, (SELECT {aggregate}(s.value) FROM {self.attrs} AS s "
            f"WHERE s.domain_id = i.domain_id AND s.item = i.name AND s.name = :sort_name) "
            f"AS sort_key FROM {self.items} AS i WHERE {self.where}"
            f") WHERE sort_key IS NOT NULL{keyset} "
            f"ORDER BY sort_key {direction}, name {direction} LIMIT :limit"
        )
        return sql, extra


_compile_short = functools.lru_cache(maxsize=1024)(SelectSQL)
_compile_long = functools.lru_cache(maxsize=4)(SelectSQL)


def compile_select(query, domain_id, stale=False):
    """The (immutable, so shareable) `SelectSQL` of a query, built once per query."""
    return (_compile_long if query.is_long else _compile_short)(query, domain_id, stale)
