"""CloudWatch Logs Insights' query language, read into commands: a small recursive-descent parser.

A query is commands joined by `|`: fields, display, filter, stats, sort, limit and parse. A query this
parser cannot read raises `QuerySyntaxError` with where it failed, which the service answers as AWS's
MalformedQueryException; a command Outcrop does not run is refused by name rather than skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outcrop.services.logs.insights_ast import (
    Binary,
    Call,
    Command,
    Display,
    Duration,
    Expr,
    Field,
    Fields,
    Filter,
    In,
    Limit,
    Literal,
    Named,
    Parse,
    Regex,
    Sort,
    Stats,
    Unary,
)

COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit", "parse")
UNSUPPORTED = ("dedup", "unmask", "pattern", "diff", "anomaly", "unnest", "source", "filterindex", "lookup")
AGGREGATES = frozenset(
    ("avg", "count", "count_distinct", "max", "min", "pct", "stddev", "sum", "earliest", "latest")
)
DURATION_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
DURATION_MS |= {"sec": 1000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "w": 604_800_000}


class QuerySyntaxError(Exception):
    """Where and why the query could not be read: character offsets into the query string."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message, self.start, self.end = message, start, end


# -- tokens -----------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<quoted>`[^`]*`)
      | (?P<duration>\d+(?:\.\d+)?(?:ms|min|minute|hour|day|sec|s|m|h|d|w)\b)
      | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<name>[A-Za-z_@$][A-Za-z0-9_.@$]*)
      | (?P<op><=|>=|!=|=~|==|[-+*/%^<>=|,()\[\]])""",
    re.VERBOSE,
)
_VALUE_END = frozenset(("string", "quoted", "duration", "number", "name", ")", "]"))
_OPERATORS = frozenset(("and", "or", "not", "like", "in", "as", "by", "asc", "desc"))


@dataclass(frozen=True)
class Token:
    kind: str  # string, quoted, regex, duration, number, name, an operator's own text, or "end"
    text: str
    start: int
    end: int


def _regex(body: str, start: int, end: int) -> re.Pattern[str]:
    """A `/.../` pattern: `(?<name>...)` groups as Python spells them, `(?i)` as written."""
    python = re.sub(r"\(\?<(?![=!])", "(?P<", body.replace(r"\/", "/"))
    try:
        return re.compile(python)
    except re.error as exc:
        raise QuerySyntaxError(f"invalid regular expression /{body}/: {exc}", start, end) from exc


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(query):
        previous = tokens[-1] if tokens else None
        after_parse = len(tokens) > 1 and tokens[-2].text.lower() == "parse"
        if query[at] == "/" and (
            previous is None or previous.kind not in _VALUE_END or _before_regex(previous) or after_parse
        ):
            close = re.compile(r"(?:[^/\\]|\\.)*/").match(query, at + 1)
            if close is None:
                raise QuerySyntaxError(
                    f"unterminated regular expression at position {at + 1}", at, len(query)
                )
            body = query[at + 1 : close.end() - 1]
            tokens.append(Token("regex", body, at, close.end()))
            at = close.end()
            continue
        match = _TOKEN.match(query, at)
        if match is None:
            raise QuerySyntaxError(_unexpected(query, at, query[at]), at, at + 1)
        kind = match.lastgroup or "op"
        if kind != "space":
            tokens.append(Token(match.group() if kind == "op" else kind, match.group(), at, match.end()))
        at = match.end()
    tokens.append(Token("end", "", len(query), len(query)))
    return tokens


def _before_regex(token: Token) -> bool:
    """After `like`, `=~` or a keyword a `/` opens a pattern; after a value it divides."""
    return token.kind == "name" and token.text.lower() in _OPERATORS | {"filter", "parse"}


def _unexpected(query: str, at: int, symbol: str) -> str:
    line = query.count("\n", 0, at) + 1
    column = at - (query.rfind("\n", 0, at) + 1) + 1
    return f"unexpected symbol found {symbol} at line {line} and position {column}"


# -- the parser -------------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.at = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def fail(self, token: Token | None = None) -> QuerySyntaxError:
        token = token or self.token
        if token.kind == "end":
            return QuerySyntaxError("unexpected end of query", token.start, token.end)
        return QuerySyntaxError(_unexpected(self.query, token.start, token.text), token.start, token.end)

    def next(self) -> Token:
        token = self.token
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        """Whether the current token is one of `words` (keywords are case-insensitive)."""
        return self.token.kind == "name" and self.token.text.lower() in words

    def accept(self, *kinds: str) -> Token | None:
        if self.token.kind in kinds:
            return self.next()
        return None

    def expect(self, kind: str) -> Token:
        token = self.accept(kind)
        if token is None:
            raise self.fail()
        return token

    # commands

    def query_(self) -> list[Command]:
        commands: list[Command] = []
        if self.token.kind == "end":
            raise QuerySyntaxError("The query is empty.", 0, 0)
        while True:
            commands.append(self.command())
            if self.accept("end"):
                return commands
            self.expect("|")

    def command(self) -> Command:
        token = self.expect("name")
        keyword = token.text.lower()
        if keyword in UNSUPPORTED:
            raise QuerySyntaxError(
                f"the {keyword} command is not supported by this server (Outcrop runs "
                f"{', '.join(COMMANDS)}); remove it from the query",
                token.start,
                token.end,
            )
        if keyword not in COMMANDS:
            raise self.fail(token)
        return getattr(self, "command_" + keyword)()  # type: ignore[no-any-return]

    def command_fields(self) -> Fields:
        return Fields(tuple(self.named_list()))

    def command_display(self) -> Display:
        names = [self.field_name()]
        while self.accept(","):
            names.append(self.field_name())
        return Display(tuple(names))

    def command_filter(self) -> Filter:
        return Filter(self.expression())

    def command_stats(self) -> Stats:
        """Aggregates, or expressions over them and over earlier columns (`max(a) - min(a)`, `n / 2`)."""
        aggregates = self.named_list()
        if not any(_has_aggregate(item.expr) for item in aggregates):
            raise QuerySyntaxError(
                f"stats needs an aggregate function ({', '.join(sorted(AGGREGATES))})", 0, len(self.query)
            )
        by: list[Named] = []
        if self.word("by"):
            self.next()
            by = self.named_list()
        return Stats(tuple(aggregates), tuple(by))

    def command_sort(self) -> Sort:
        keys: list[tuple[Expr, bool]] = []
        while True:
            expr = self.expression()
            descending = self.word("desc")
            if self.word("asc", "desc"):
                self.next()
            keys.append((expr, descending))
            if not self.accept(","):
                return Sort(tuple(keys))

    def command_limit(self) -> Limit:
        token = self.expect("number")
        if not token.text.isdigit() or int(token.text) < 1:
            raise self.fail(token)
        return Limit(int(token.text))

    def command_parse(self) -> Parse:
        source: Expr = Field("@message")
        if self.token.kind not in ("string", "regex"):
            source = self.primary()
        token = self.next()
        if token.kind == "regex":
            pattern = _regex(token.text, token.start, token.end)
            if not pattern.groupindex:
                raise QuerySyntaxError(
                    "parse with a regular expression needs named groups such as (?<name>...)",
                    token.start,
                    token.end,
                )
            return Parse(source, pattern, tuple(pattern.groupindex))
        if token.kind != "string":
            raise self.fail(token)
        glob = _unquote(token.text)
        if not self.word("as"):
            raise self.fail()
        self.next()
        names = [self.field_name()]
        while self.accept(","):
            names.append(self.field_name())
        pieces = glob.split("*")
        if len(pieces) - 1 != len(names):
            raise QuerySyntaxError(
                f"the parse pattern has {len(pieces) - 1} wildcards but {len(names)} field names",
                token.start,
                token.end,
            )
        captures = ["(.*?)"] * (len(names) - 1) + ["(.*)"] if names else []
        regex = "".join(
            re.escape(p) + (captures[i] if i < len(captures) else "") for i, p in enumerate(pieces)
        )
        return Parse(source, re.compile(regex, re.DOTALL), tuple(names))

    def named_list(self) -> list[Named]:
        items = [self.named()]
        while self.accept(","):
            items.append(self.named())
        return items

    def named(self) -> Named:
        start = self.token.start
        expr = self.expression()
        text = " ".join(self.query[start : self.tokens[self.at - 1].end].split())
        if isinstance(expr, Field):
            text = expr.name
        if self.word("as"):
            self.next()
            text = self.field_name()
        return Named(expr, text)

    def field_name(self) -> str:
        token = self.next()
        if token.kind == "name" and token.text.lower() not in _OPERATORS:
            return token.text
        if token.kind == "quoted":
            return token.text[1:-1]
        raise self.fail(token)

    # expressions, loosest binding first

    def expression(self) -> Expr:
        left = self.conjunction()
        while self.word("or"):
            self.next()
            left = Binary("or", left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.word("and"):
            self.next()
            left = Binary("and", left, self.negation())
        return left

    def negation(self) -> Expr:
        if self.word("not"):
            self.next()
            return Unary("not", self.negation())
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        negated = False
        if self.word("not"):
            self.next()
            negated = True
            if not self.word("like", "in"):
                raise self.fail()
        if self.word("like") or self.token.kind == "=~":
            self.next()
            pattern = self.token
            if pattern.kind not in ("regex", "string"):
                raise self.fail()
            self.next()
            right: Expr = (
                Regex(_regex(pattern.text, pattern.start, pattern.end))
                if pattern.kind == "regex"
                else Literal(_unquote(pattern.text))
            )
            found: Expr = Binary("like", left, right)
            return Unary("not", found) if negated else found
        if self.word("in"):
            self.next()
            self.expect("[")
            choices = [self.additive()]
            while self.accept(","):
                choices.append(self.additive())
            self.expect("]")
            return In(left, tuple(choices), negated)
        op = self.accept("=", "==", "!=", "<", "<=", ">", ">=")
        if op is None:
            return left
        return Binary("=" if op.kind == "==" else op.kind, left, self.additive())

    def additive(self) -> Expr:
        left = self.term()
        while op := self.accept("+", "-"):
            left = Binary(op.kind, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.power()
        while op := self.accept("*", "/", "%"):
            left = Binary(op.kind, left, self.power())
        return left

    def power(self) -> Expr:
        base = self.unary()
        if self.accept("^"):
            return Binary("^", base, self.power())
        return base

    def unary(self) -> Expr:
        if self.accept("-"):
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Expr:
        token = self.next()
        if token.kind == "number":
            number = float(token.text)
            return Literal(int(number) if number.is_integer() and "." not in token.text else number)
        if token.kind == "string":
            return Literal(_unquote(token.text))
        if token.kind == "duration":
            digits = re.match(r"[\d.]+", token.text)
            assert digits is not None
            return Duration(int(float(digits.group()) * DURATION_MS[token.text[digits.end() :]]))
        if token.kind == "regex":
            return Regex(_regex(token.text, token.start, token.end))
        if token.kind == "quoted":
            return Field(token.text[1:-1])
        if token.kind == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.kind == "name" and token.text.lower() not in _OPERATORS:
            if self.token.kind == "(":
                return self.call(token.text)
            return Field(token.text)
        raise self.fail(token)

    def call(self, name: str) -> Call:
        self.expect("(")
        if self.accept("*"):
            self.expect(")")
            return Call(name.lower(), (), star=True)
        args: list[Expr] = []
        if not self.accept(")"):
            args.append(self.expression())
            while self.accept(","):
                args.append(self.expression())
            self.expect(")")
        return Call(name.lower(), tuple(args))


def _has_aggregate(expr: Expr) -> bool:
    if isinstance(expr, Call):
        return expr.name in AGGREGATES or any(_has_aggregate(a) for a in expr.args)
    if isinstance(expr, Unary):
        return _has_aggregate(expr.operand)
    if isinstance(expr, Binary):
        return _has_aggregate(expr.left) or _has_aggregate(expr.right)
    if isinstance(expr, In):
        return any(_has_aggregate(e) for e in (expr.operand, *expr.choices))
    return False


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_query(query: str) -> list[Command]:
    """The commands of `query`, or QuerySyntaxError saying where it could not be read."""
    try:
        return _Parser(query).query_()
    except RecursionError as exc:  # thousands of nested parentheses or nots: refused, not a crash
        raise QuerySyntaxError("the query nests too deeply", 0, len(query)) from exc
