"""Fraud Detector's rule language (DETECTORPL): a tokenizer, a recursive-descent parser and an evaluator.

What the documented language has: `$variable`, `$<model>_insightscore`, number, string, true/false and
null literals, lists `[..]`, comparisons (== != > >= < <=), `in` / `not in`, `and`, `or`, `!`,
arithmetic (+ - * / %), parentheses, and the functions regex_match(pattern, text) (a whole-string match, as
Java's matches()), lowercase(text) and uppercase(text). Anything else is refused with the reason.
A value that cannot be compared (a missing variable, a string against a number) makes that comparison false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?|\.\d+)
    |(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<variable>\$[A-Za-z0-9_]+)
    |(?P<list>@[A-Za-z0-9_]+)
    |(?P<op>==|!=|>=|<=|>|<|\+|-|\*|/|%|!|\(|\)|\[|\]|,)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
FUNCTIONS = {"regex_match": 2, "lowercase": 1, "uppercase": 1}
_COMPARISONS = ("==", "!=", ">", ">=", "<", "<=")


class RuleSyntaxError(ValueError):
    """The expression does not parse; the message says where and why."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Node:
    op: str  # lit, var, list, call, not, neg, and, or, in, notin, a comparison or an arithmetic operator
    args: tuple[Any, ...]


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise RuleSyntaxError(f"unexpected character {text[position:].lstrip()[:1]!r} at {position}")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind), match.end(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self, text: str | None = None, kind: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        token = self.tokens[self.i]
        word = token.text.lower() if token.kind == "word" else token.text
        return (text is None or word == text) and (kind is None or token.kind == kind)

    def take(self, text: str) -> Token:
        if not self.peek(text):
            found = self.tokens[self.i].text if self.i < len(self.tokens) else "the end of the expression"
            raise RuleSyntaxError(f"expected {text!r} but found {found!r}")
        self.i += 1
        return self.tokens[self.i - 1]

    def parse(self) -> Node:
        if not self.tokens:
            raise RuleSyntaxError("the expression is empty")
        node = self.disjunction()
        if self.i < len(self.tokens):
            raise RuleSyntaxError(f"unexpected {self.tokens[self.i].text!r} at {self.tokens[self.i].start}")
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.peek("or", "word"):
            self.i += 1
            node = Node("or", (node, self.conjunction()))
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.peek("and", "word"):
            self.i += 1
            node = Node("and", (node, self.negation()))
        return node

    def negation(self) -> Node:
        if self.peek("!", "op"):
            self.i += 1
            return Node("not", (self.negation(),))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.sum()
        for op in _COMPARISONS:
            if self.peek(op, "op"):
                self.i += 1
                return Node(op, (left, self.sum()))
        if self.peek("in", "word"):
            self.i += 1
            return Node("in", (left, self.collection()))
        if self.peek("not", "word"):
            self.i += 1
            self.take("in")
            return Node("notin", (left, self.collection()))
        return left

    def collection(self) -> Node:
        if self.peek(kind="list"):
            self.i += 1
            return Node("list", (self.tokens[self.i - 1].text[1:],))
        self.take("[")
        items: list[Node] = []
        while not self.peek("]"):
            if items:
                self.take(",")
            items.append(self.sum())
        self.take("]")
        return Node("items", tuple(items))

    def sum(self) -> Node:
        node = self.term()
        while self.peek("+", "op") or self.peek("-", "op"):
            self.i += 1
            node = Node(self.tokens[self.i - 1].text, (node, self.term()))
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek("*", "op") or self.peek("/", "op") or self.peek("%", "op"):
            self.i += 1
            node = Node(self.tokens[self.i - 1].text, (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek("-", "op"):
            self.i += 1
            return Node("neg", (self.unary(),))
        return self.primary()

    def primary(self) -> Node:
        if self.i >= len(self.tokens):
            raise RuleSyntaxError("the expression ends where a value was expected")
        token = self.tokens[self.i]
        self.i += 1
        if token.kind == "number":
            return Node("lit", (float(token.text),))
        if token.kind == "string":
            return Node("lit", (_unquote(token.text),))
        if token.kind == "variable":
            return Node("var", (token.text[1:], token.start, token.end))
        if token.text == "(":
            node = self.disjunction()
            self.take(")")
            return node
        word = token.text.lower() if token.kind == "word" else ""
        if word in ("true", "false"):
            return Node("lit", (word == "true",))
        if word == "null":
            return Node("lit", (None,))
        if word in FUNCTIONS:
            self.take("(")
            args = [self.disjunction()]
            while self.peek(",", "op"):
                self.i += 1
                args.append(self.disjunction())
            self.take(")")
            if len(args) != FUNCTIONS[word]:
                raise RuleSyntaxError(f"{word} takes {FUNCTIONS[word]} argument(s), not {len(args)}")
            return Node("call", (word, *args))
        if token.kind == "word" and self.peek("("):
            raise RuleSyntaxError(f"unknown function {token.text!r}")
        raise RuleSyntaxError(f"unexpected {token.text!r} at {token.start}")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


@dataclass(frozen=True)
class Rule:
    """A parsed expression: its tree, the variables and lists it names."""

    text: str
    tree: Node
    variables: tuple[str, ...]
    lists: tuple[str, ...]


def parse(text: str) -> Rule:
    tree = _Parser(tokenize(text)).parse()
    names: list[str] = []
    lists: list[str] = []
    _collect(tree, names, lists)
    return Rule(text, tree, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(lists)))


def _collect(node: Node, names: list[str], lists: list[str]) -> None:
    if node.op == "var":
        names.append(node.args[0])
    elif node.op == "list":
        lists.append(node.args[0])
    for arg in node.args:
        if isinstance(arg, Node):
            _collect(arg, names, lists)


class _Incomparable(Exception):
    """A comparison between values of different kinds, or with a missing one: it does not match."""


def evaluate(rule: Rule, values: dict[str, Any], lists: dict[str, list[str]] | None = None) -> bool:
    """Whether the rule matches the event's typed values (a name absent from `values` is null)."""
    try:
        return _truth(_eval(rule.tree, values, lists or {}))
    except _Incomparable:
        return False


def _truth(value: Any) -> bool:
    return value is True


def _eval(node: Node, values: dict[str, Any], lists: dict[str, list[str]]) -> Any:
    op, args = node.op, node.args
    if op == "lit":
        return args[0]
    if op == "var":
        return values.get(args[0])
    if op == "and":
        return _truth(_safe(args[0], values, lists)) and _truth(_safe(args[1], values, lists))
    if op == "or":
        return _truth(_safe(args[0], values, lists)) or _truth(_safe(args[1], values, lists))
    if op == "not":
        return not _truth(_safe(args[0], values, lists))
    if op in ("in", "notin"):
        item = _eval(args[0], values, lists)
        pool = args[1]
        if pool.op == "list":  # list elements are text; a number is compared with the numbers among them
            members = [_as_number(m) if isinstance(item, float) else m for m in lists.get(pool.args[0], [])]
        else:
            members = [_eval(a, values, lists) for a in pool.args]
        found = any(_equal(item, member) for member in members)
        return found if op == "in" else not found
    if op == "call":
        return _call(args[0], [_eval(a, values, lists) for a in args[1:]])
    if op == "neg":
        return -_number(_eval(args[0], values, lists))
    left, right = _eval(args[0], values, lists), _eval(args[1], values, lists)
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in (">", ">=", "<", "<="):
        return _order(op, left, right)
    a, b = _number(left), _number(right)
    if op in ("/", "%") and b == 0:
        raise _Incomparable
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0.0, "%": a % b if b else 0.0}[op]


def _safe(node: Node, values: dict[str, Any], lists: dict[str, list[str]]) -> Any:
    """A sub-condition that cannot be compared is false, so `or` can still match on its other side."""
    try:
        return _eval(node, values, lists)
    except _Incomparable:
        return False


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool) or left is None or right is None:
        return left is right or (left == right and type(left) is type(right))
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    return bool(left == right)


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Incomparable
    return float(value)


def _order(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left
        b: Any = right
    else:
        a, b = _number(left), _number(right)
    return bool({">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op])


def _call(name: str, args: list[Any]) -> Any:
    if any(not isinstance(a, str) for a in args):
        raise _Incomparable
    if name == "lowercase":
        return args[0].lower()
    if name == "uppercase":
        return args[0].upper()
    try:
        return re.fullmatch(args[0], args[1]) is not None
    except re.error:
        raise _Incomparable from None


def with_values(rule: Rule, values: dict[str, Any]) -> str:
    """The expression with each `$variable` replaced by the value it had (AWS's expressionWithValues)."""
    out, last = [], 0
    for token in tokenize(rule.text):
        if token.kind == "variable":
            value = values.get(token.text[1:])
            shown = "null" if value is None else f'"{value}"' if isinstance(value, str) else _plain(value)
            out += [rule.text[last : token.start], shown]
            last = token.end
    return "".join(out) + rule.text[last:]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
