"""A hand-written tokenizer and recursive-descent parser for SimpleDB's Select language.

Why hand-written rather than a grammar library: the language is small (a dozen rules), but
its lexical rules are unusual (keywords that are case-insensitive yet usable as names only in
backticks, two quote styles with doubled-quote escapes, `itemName()` and `count(*)` as
tokens), and every failure must become one of SimpleDB's error codes with a message that
points at the offending token. A recursive-descent parser states each rule as one short
function, so the grammar below is readable straight off the code:

    select  := 'select' output 'from' name ['where' expr]
               ['order' 'by' operand ['asc'|'desc']] ['limit' integer]
    output  := '*' | 'count(*)' | 'itemName()' | name (',' name)*
    expr    := or ('intersection' or)*          -- lowest precedence
    or      := and ('or' and)*
    and     := unary ('and' unary)*
    unary   := 'not' unary | '(' expr ')' | comparison
    comparison := operand op value | operand ['not'] 'like' value
               | operand 'between' value 'and' value | operand 'in' '(' value (',' value)* ')'
               | operand 'is' ['not'] 'null'
    operand := name | 'itemName()' | 'every' '(' name ')'
"""

import functools
import re

from .. import exceptions
from .ast import ITEM_NAME, LONG_EXPRESSION, BoolOp, Comparison, Not, Operand, Query

#: Words that are keywords in any letter case; as attribute or domain names they need backticks.
KEYWORDS = frozenset(
    "or and not from where select like null is order by asc desc in between intersection "
    "limit every".split()
)

#: SimpleDB's limits on one expression (SDBLimits).
MAX_PREDICATE_ATTRIBUTES = 20
MAX_COMPARISONS = 20
MAX_REQUESTED_ATTRIBUTES = 256
MAX_LIMIT = 2500
#: The emulator's own limit (AWS documents none): how deep `not`, parentheses and nested
#: `and`/`or`/`intersection` may go. Twenty comparisons need no more, and it keeps both
#: this parser's recursion and SQLite's parser (whose stack overflows near 30 levels of
#: the SQL we generate) far from their limits.
MAX_NESTING = 20

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<itemname>itemname\s*\(\s*\))
    | (?P<count>count\s*\(\s*\*\s*\))
    | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
    | (?P<backtick>`(?:[^`]|``)*`)
    | (?P<single>'(?:[^']|'')*')
    | (?P<double>"(?:[^"]|"")*")
    | (?P<number>[0-9]+)
    | (?P<op>!=|>=|<=|=|>|<)
    | (?P<punct>[(),*])
    """,
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)


class Token:
    __slots__ = ("kind", "text", "value", "position")

    def __init__(self, kind, text, value, position):
        self.kind, self.text, self.value, self.position = kind, text, value, position

    def is_keyword(self, *words):
        return self.kind == "keyword" and self.value in words

    def __repr__(self):
        return f"Token({self.kind}, {self.text!r})"


END = Token("end", "", None, -1)


def tokenize(text):
    """Split an expression into tokens; keywords are lower-cased, quotes undone."""
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise _syntax_error(text[position:], "Invalid character")
        kind, raw = match.lastgroup, match.group()
        position = match.end()
        if kind == "space":
            continue
        start = match.start()
        if kind == "word":
            lowered = raw.lower()
            if lowered in KEYWORDS:
                tokens.append(Token("keyword", raw, lowered, start))
            else:
                tokens.append(Token("name", raw, raw, start))
        elif kind == "backtick":
            tokens.append(Token("name", raw, raw[1:-1].replace("``", "`"), start))
        elif kind in ("single", "double"):
            quote = raw[0]
            tokens.append(Token("value", raw, raw[1:-1].replace(quote * 2, quote), start))
        elif kind in ("itemname", "count"):
            tokens.append(Token(kind, raw, raw, start))
        else:
            tokens.append(Token(kind, raw, raw, start))
    return tokens


def too_deep():
    return exceptions.InvalidQueryExpression(
        f"The specified query expression syntax is not valid. The expression is nested "
        f"more than {MAX_NESTING} levels deep."
    )


def nesting(node):
    """How deep `not` and `and`/`or`/`intersection` nodes nest in a where clause."""
    if isinstance(node, Not):
        return 1 + nesting(node.operand)
    if isinstance(node, BoolOp):
        return 1 + max(nesting(operand) for operand in node.operands)
    return 0


def _syntax_error(near, reason="Syntax error"):
    near = near[:40]
    return exceptions.InvalidQueryExpression(
        f"The specified query expression syntax is not valid. {reason} near '{near}'."
    )


class Parser:
    """Parses one Select expression into a `Query`; see the module docstring for the grammar."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.comparisons = []
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------
    def peek(self, offset=0):
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else END

    def advance(self):
        token = self.peek()
        self.index += 1
        return token

    def fail(self, reason="Syntax error"):
        token = self.peek()
        near = self.text[token.position:] if token is not END else "end of expression"
        raise _syntax_error(near, reason)

    def expect_keyword(self, word):
        if not self.peek().is_keyword(word):
            self.fail(f"Expected '{word}'")
        return self.advance()

    def expect(self, kind, text=None):
        token = self.peek()
        if token.kind != kind or (text is not None and token.text != text):
            self.fail(f"Expected {text or kind}")
        return self.advance()

    def accept_keyword(self, word):
        if self.peek().is_keyword(word):
            return self.advance()
        return None

    # -- rules ---------------------------------------------------------------------------
    def parse(self):
        self.expect_keyword("select")
        output, attributes = self.output()
        self.expect_keyword("from")
        domain = self.expect("name").value
        where = None
        if self.accept_keyword("where"):
            where = self.expression()
        order_by, descending = None, False
        if self.accept_keyword("order"):
            self.expect_keyword("by")
            order_by = self.operand(allow_every=False)
            if self.accept_keyword("desc"):
                descending = True
            else:
                self.accept_keyword("asc")
        limit = None
        if self.accept_keyword("limit"):
            limit = self.limit()
        if self.peek() is not END:
            self.fail()
        query = Query(output, attributes, domain, where, order_by, descending, limit,
                      source_length=len(self.text))
        self.check_limits(query)
        return query

    def output(self):
        token = self.peek()
        if token.kind == "punct" and token.text == "*":
            self.advance()
            return "*", ()
        if token.kind == "count":
            self.advance()
            return "count(*)", ()
        if token.kind == "itemname" and self.peek(1).is_keyword("from"):
            self.advance()
            return "itemName()", ()
        names = [self.output_name()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.advance()
            names.append(self.output_name())
        # itemName() in a list adds nothing: every returned item carries its name.
        return "attributes", tuple(dict.fromkeys(name for name in names if name is not None))

    def output_name(self):
        if self.peek().kind == "itemname":
            self.advance()
            return None
        return self.expect("name").value

    def limit(self):
        token = self.peek()
        if token.kind != "number":
            self.fail("Expected an integer limit")
        self.advance()
        significant = token.text.lstrip("0")
        # Longer than MAX_LIMIT is out of range; Python refuses int() past 4,300 digits.
        value = int(significant or "0") if len(significant) <= len(str(MAX_LIMIT)) else 0
        if not 1 <= value <= MAX_LIMIT:
            raise exceptions.InvalidParameterValue(
                f"MaxNumberOfItems must be between 1 and {MAX_LIMIT}"
            )
        return value

    def expression(self):
        return self.chain("intersection", self.disjunction)

    def disjunction(self):
        return self.chain("or", self.conjunction)

    def conjunction(self):
        return self.chain("and", self.unary)

    def chain(self, keyword, operand_rule):
        operands = [operand_rule()]
        while self.accept_keyword(keyword):
            operands.append(operand_rule())
        return operands[0] if len(operands) == 1 else BoolOp(keyword, tuple(operands))

    def unary(self):
        token = self.peek()
        if token.is_keyword("not") or (token.kind == "punct" and token.text == "("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise too_deep()
            self.advance()
            if token.is_keyword("not"):
                node = Not(self.unary())
            else:
                node = self.expression()
                self.expect("punct", ")")
            self.depth -= 1
            return node
        return self.comparison()

    def operand(self, allow_every=True):
        token = self.peek()
        if token.kind == "itemname":
            self.advance()
            return ITEM_NAME
        if allow_every and token.is_keyword("every"):
            self.advance()
            self.expect("punct", "(")
            name = self.expect("name").value
            self.expect("punct", ")")
            return Operand(name, every=True)
        if token.kind == "name":
            self.advance()
            return Operand(token.value)
        self.fail("Expected an attribute name")

    def value(self):
        token = self.peek()
        if token.kind != "value":
            self.fail("Values must be quoted")
        self.advance()
        return token.value

    def comparison(self):
        operand = self.operand()
        token = self.advance()
        if token.kind == "op":
            node = Comparison(operand, token.text, (self.value(),))
        elif token.is_keyword("like"):
            node = Comparison(operand, "like", (self.value(),))
        elif token.is_keyword("not"):
            self.expect_keyword("like")
            node = Comparison(operand, "not like", (self.value(),))
        elif token.is_keyword("between"):
            low = self.value()
            self.expect_keyword("and")
            node = Comparison(operand, "between", (low, self.value()))
        elif token.is_keyword("in"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.advance()
                values.append(self.value())
            self.expect("punct", ")")
            node = Comparison(operand, "in", tuple(values))
        elif token.is_keyword("is"):
            negated = self.accept_keyword("not") is not None
            self.expect_keyword("null")
            node = Comparison(operand, "is not null" if negated else "is null")
        else:
            self.index -= 1
            self.fail("Expected a comparison operator")
        self.comparisons.append(node)
        return node

    def check_limits(self, query):
        if query.where is not None and nesting(query.where) > MAX_NESTING:
            raise too_deep()
        if len(query.attributes) > MAX_REQUESTED_ATTRIBUTES:
            raise exceptions.TooManyRequestedAttributes(
                f"Too many attributes requested: at most {MAX_REQUESTED_ATTRIBUTES}."
            )
        names = {c.operand.name for c in self.comparisons if not c.operand.is_item_name}
        if len(names) > MAX_PREDICATE_ATTRIBUTES:
            raise exceptions.InvalidNumberPredicates(
                f"Too many predicates in the query expression: at most "
                f"{MAX_PREDICATE_ATTRIBUTES} attributes."
            )
        if len(self.comparisons) > MAX_COMPARISONS:
            raise exceptions.InvalidNumberValueTests(
                f"Too many value tests per predicate in the query expression: at most "
                f"{MAX_COMPARISONS} comparisons."
            )
        if query.order_by is not None and not query.order_by.is_item_name:
            constrained = any(
                c.operand.name == query.order_by.name and c.op != "is null"
                for c in self.comparisons
            )
            if not constrained:
                raise exceptions.InvalidSortExpression()


def _parse(text):
    return Parser(text).parse()


_parse_short = functools.lru_cache(maxsize=1024)(_parse)
_parse_long = functools.lru_cache(maxsize=4)(_parse)


def parse(text):
    """Parse a Select expression, raising the SimpleDB error its flaw deserves.

    Parsed queries are immutable, so repeated expressions (every page of a paged Select,
    a polling client) are parsed once.
    """
    return (_parse_short if len(text) <= LONG_EXPRESSION else _parse_long)(text)
