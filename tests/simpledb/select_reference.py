"""A plain Python reference for Select's where clause, and hypothesis strategies for it.

The strategies build a small expression tree and render it as Select text (with random
quote styles, backticks and keyword case); `matches()` evaluates the same tree over an item
directly, by the rules the emulator documents:

- a comparison matches when any value of the attribute passes it; no attribute, no match;
- comparisons on the same operand that are direct children of one `and`/`or` are tested
  against a single value at a time (`every(K)` ones: all values must pass);
- `not` complements, `intersection` and `and`/`or` between different operands combine sets.
"""

import re
from dataclasses import dataclass

from hypothesis import strategies as st

# Few names and values, so that expressions often test several values of one attribute.
ATTRIBUTES = ["a", "b"]
VALUES = ["", "a", "b", "ab", "b%", "10", "2", "a'b", 'q"x', "é"]
ITEM_NAMES = ["i0", "i1", "i2", "i3", "j0", "j1", "k'"]


@dataclass(frozen=True)
class Cmp:
    attribute: str | None  # None: itemName()
    every: bool
    op: str
    values: tuple

    @property
    def tests_presence(self):
        return self.op in ("is null", "is not null")


@dataclass(frozen=True)
class Neg:
    child: object


@dataclass(frozen=True)
class Combine:
    op: str  # and, or, intersection
    children: tuple


# -- evaluation ---------------------------------------------------------------------------
def like_regex(pattern):
    parts, literal, index = [], [], 0
    while index < len(pattern):
        if pattern[index] == "\\" and pattern[index + 1:index + 2] == "%":
            literal.append("%")
            index += 2
            continue
        if pattern[index] == "%":
            parts.append(re.escape("".join(literal)))
            literal = []
        else:
            literal.append(pattern[index])
        index += 1
    parts.append(re.escape("".join(literal)))
    return re.compile(".*".join(parts), re.DOTALL)


def passes(cmp, value):
    op, values = cmp.op, cmp.values
    if op == "=":
        return value == values[0]
    if op == "!=":
        return value != values[0]
    if op == ">":
        return value > values[0]
    if op == ">=":
        return value >= values[0]
    if op == "<":
        return value < values[0]
    if op == "<=":
        return value <= values[0]
    if op == "like":
        return like_regex(values[0]).fullmatch(value) is not None
    if op == "not like":
        return like_regex(values[0]).fullmatch(value) is None
    if op == "between":
        return values[0] <= value <= values[1]
    if op == "in":
        return value in values
    raise AssertionError(op)


def group_matches(comparisons, op, name, attributes):
    combine = all if op == "and" else any
    first = comparisons[0]
    if first.tests_presence:
        present = first.attribute in attributes
        return present if first.op == "is not null" else not present
    values = [name] if first.attribute is None else attributes.get(first.attribute, [])

    def value_passes(value):
        return combine(passes(c, value) for c in comparisons)

    if first.every:
        return bool(values) and all(value_passes(v) for v in values)
    return any(value_passes(v) for v in values)


def matches(node, name, attributes):
    """Whether the item `name` with {attribute: [values]} satisfies the expression tree."""
    if isinstance(node, Cmp):
        return group_matches([node], "and", name, attributes)
    if isinstance(node, Neg):
        return not matches(node.child, name, attributes)
    results, groups = [], {}
    for child in node.children:
        if node.op != "intersection" and isinstance(child, Cmp) and not child.tests_presence:
            groups.setdefault((child.attribute, child.every), []).append(child)
        else:
            results.append(matches(child, name, attributes))
    results += [group_matches(group, node.op, name, attributes) for group in groups.values()]
    return any(results) if node.op == "or" else all(results)


def count_comparisons(node):
    if isinstance(node, Cmp):
        return 1
    if isinstance(node, Neg):
        return count_comparisons(node.child)
    return sum(count_comparisons(child) for child in node.children)


# -- rendering ----------------------------------------------------------------------------
def quote(value, rnd):
    mark = rnd.choice("'\"")
    return mark + value.replace(mark, mark * 2) + mark


def keyword(word, rnd):
    return "".join(c.upper() if rnd.random() < 0.5 else c for c in word)


def render_name(name, rnd):
    return f"`{name}`" if rnd.random() < 0.3 else name


def render_operand(cmp, rnd):
    if cmp.attribute is None:
        return keyword("itemName", rnd) + "()"
    name = render_name(cmp.attribute, rnd)
    return f"{keyword('every', rnd)}({name})" if cmp.every else name


def render(node, rnd, parent=None):
    if isinstance(node, Cmp):
        operand = render_operand(node, rnd)
        op, values = node.op, node.values
        if op in ("is null", "is not null"):
            return f"{operand} {' '.join(keyword(w, rnd) for w in op.split())}"
        if op == "between":
            return (f"{operand} {keyword('between', rnd)} {quote(values[0], rnd)} "
                    f"{keyword('and', rnd)} {quote(values[1], rnd)}")
        if op == "in":
            listed = ", ".join(quote(v, rnd) for v in values)
            return f"{operand} {keyword('in', rnd)} ({listed})"
        if op in ("like", "not like"):
            words = " ".join(keyword(w, rnd) for w in op.split())
            return f"{operand} {words} {quote(values[0], rnd)}"
        return f"{operand} {op} {quote(values[0], rnd)}"
    if isinstance(node, Neg):
        inner = render(node.child, rnd, parent="not")
        return f"{keyword('not', rnd)} {inner}"
    text = f" {keyword(node.op, rnd)} ".join(render(c, rnd, parent=node.op) for c in node.children)
    # Parentheses only where precedence (intersection < or < and < not) would regroup, plus
    # a few redundant ones; a child with its parent's operator is always bracketed, since
    # `x and (y and z)` groups differently from `x and y and z`.
    rank = {"intersection": 0, "or": 1, "and": 2, "not": 3}
    if parent is not None and (rank[node.op] <= rank[parent] or rnd.random() < 0.2):
        return f"({text})"
    return text


# -- strategies ---------------------------------------------------------------------------
VALUE_OPS = ["=", "!=", ">", ">=", "<", "<=", "like", "not like", "between", "in"]


def like_patterns(values):
    """Patterns built around drawn values: `x`, `x%`, `%x`, `%x%`, with `%` escaped."""
    return st.builds(
        lambda lead, middle, trail: ("%" if lead else "") + middle.replace("%", "\\%")
        + ("%" if trail else ""),
        st.booleans(), st.one_of(values, st.sampled_from(["", "%"])), st.booleans(),
    )


@st.composite
def comparisons(draw, values, attribute=None, every=None, ops=None):
    if attribute is None:
        attribute = draw(st.one_of(st.none(), st.sampled_from(ATTRIBUTES)))
    if ops is None:
        ops = VALUE_OPS + (["is null", "is not null"] if attribute is not None else [])
    op = draw(st.sampled_from(ops))
    if every is None:
        every = attribute is not None and op not in ("is null", "is not null") \
            and draw(st.booleans()) and draw(st.booleans())
    if op in ("like", "not like"):
        vals = (draw(like_patterns(values)),)
    elif op == "between":
        vals = tuple(sorted(draw(st.lists(values, min_size=2, max_size=2))))
    elif op == "in":
        vals = tuple(draw(st.lists(values, min_size=1, max_size=3)))
    elif op in ("is null", "is not null"):
        vals = ()
    else:
        vals = (draw(values),)
    return Cmp(attribute, every, op, vals)


@st.composite
def same_operand_groups(draw, values):
    """`and`/`or` over comparisons of one operand: the per-value rule's home ground."""
    attribute = draw(st.sampled_from(ATTRIBUTES))
    every = draw(st.booleans())
    children = draw(st.lists(comparisons(values, attribute, every, VALUE_OPS),
                             min_size=2, max_size=3))
    return Combine(draw(st.sampled_from(["and", "or"])), tuple(children))


def expressions(values):
    """Where-clause trees whose literals come from `values`."""
    return st.recursive(
        st.one_of(comparisons(values), same_operand_groups(values)),
        lambda children: st.one_of(
            st.builds(Neg, children),
            st.builds(Combine, st.sampled_from(["and", "or", "intersection"]),
                      st.lists(children, min_size=2, max_size=3).map(tuple)),
        ),
        max_leaves=8,
    )


all_values = st.sampled_from(VALUES)

items = st.dictionaries(
    st.sampled_from(ITEM_NAMES),
    st.dictionaries(
        st.sampled_from(ATTRIBUTES),
        st.lists(all_values, min_size=1, max_size=3, unique=True),
        min_size=1,
    ),
    min_size=3,
    max_size=7,
)


def values_in(data):
    """Literals for expressions over `data`: mostly values it holds, some it does not."""
    held = sorted({v for attrs in data.values() for vs in attrs.values() for v in vs})
    return st.one_of(st.sampled_from(held), all_values) if held else all_values
