"""The two small languages of a flow definition: node input expressions and condition expressions.

An input expression picks part of the value arriving at a node input: `$.data`, `$.data.field`,
`$.data.items[0]`. A Condition node's expression compares the node's inputs by name with `==`, `!=`, `>`,
`>=`, `<`, `<=`, and combines comparisons with `and`, `or`, `not` and parentheses; literals are numbers,
quoted strings, `true` and `false` (the subset the Bedrock user guide documents for Condition nodes).
PrepareFlow parses both to report malformed ones; InvokeFlow evaluates them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

_PATH = re.compile(r"\$\.data((?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*)")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")
_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|(?P<string>\"[^\"]*\"|'[^']*')|(?P<op>==|!=|>=|<=|>|<)"
    r"|(?P<paren>[()])|(?P<word>[A-Za-z_][A-Za-z0-9_.-]*))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

Condition = Callable[[Mapping[str, Any]], bool]


class ExpressionError(Exception):
    """A malformed expression, or one that cannot be evaluated on the values it was given."""


def input_path(expression: str) -> list[str | int]:
    """The steps of an input expression after `$.data`; ExpressionError when it is malformed."""
    match = _PATH.fullmatch(expression.strip())
    if match is None:
        raise ExpressionError(f"The input expression {expression} is malformed: it must start with $.data.")
    return [int(index) if index else key for key, index in _STEP.findall(match.group(1))]


def select(value: Any, expression: str) -> Any:
    """The part of `value` an input expression names."""
    for step in input_path(expression):
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise ExpressionError(
                f"The input expression {expression} names nothing in the value given."
            ) from None
    return value


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ExpressionError(
                f"The condition expression {text} is malformed near {text[at : at + 12]!r}."
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        at = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def fail(self) -> ExpressionError:
        return ExpressionError(f"The condition expression {self.text} is malformed.")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise self.fail()
        self.at += 1
        return token

    def parse(self) -> Condition:
        condition = self.either()
        if self.peek() is not None:
            raise self.fail()
        return condition

    def either(self) -> Condition:
        parts = [self.both()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else lambda values: any(part(values) for part in parts)

    def both(self) -> Condition:
        parts = [self.negation()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else lambda values: all(part(values) for part in parts)

    def negation(self) -> Condition:
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.negation()
            return lambda values: not inner(values)
        return self.comparison()

    def comparison(self) -> Condition:
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.either()
            if self.take() != ("paren", ")"):
                raise self.fail()
            return inner
        left = self.operand()
        token = self.peek()
        if token is None or token[0] != "op":
            return lambda values: bool(left(values))
        compare = _COMPARE[self.take()[1]]
        right = self.operand()

        def evaluate(values: Mapping[str, Any]) -> bool:
            a, b = left(values), right(values)
            try:
                return bool(compare(a, b))
            except TypeError:
                raise ExpressionError(f"{self.text}: {a!r} and {b!r} cannot be compared.") from None

        return evaluate

    def operand(self) -> Callable[[Mapping[str, Any]], Any]:
        kind, text = self.take()
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda values: number
        if kind == "string":
            return lambda values: text[1:-1]
        if kind == "word" and text in ("true", "false"):
            return lambda values: text == "true"
        if kind == "word" and text not in ("and", "or", "not"):
            return lambda values: _variable(values, text)
        raise self.fail()


def _variable(values: Mapping[str, Any], name: str) -> Any:
    head, *rest = name.split(".")
    if head not in values:
        raise ExpressionError(f"The condition names {head}, which is not an input of the node.")
    value = values[head]
    for key in rest:
        if not isinstance(value, dict) or key not in value:
            raise ExpressionError(f"The condition names {name}, which the input {head} does not contain.")
        value = value[key]
    return value


def condition(expression: str) -> Condition:
    """A condition expression compiled to a function of the node's input values."""
    return _Parser(expression).parse()


def words(expression: str) -> set[str]:
    """The input names a condition expression refers to."""
    keywords = {"and", "or", "not", "true", "false"}
    return {
        text.split(".")[0] for kind, text in _tokens(expression) if kind == "word" and text not in keywords
    }
