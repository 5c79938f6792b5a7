"""The flow definition's expression languages: node input paths and Condition node expressions."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.services.bedrock_agent.flow_expressions import ExpressionError, condition, select, words

VALUES: dict[str, Any] = {"price": 12, "kind": "produce", "ok": True, "order": {"total": 30.5, "rush": False}}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("price > 10", True),
        ("price >= 12 and price <= 12", True),
        ('(price > 10) and (kind == "produce")', True),
        ("kind != 'produce' or price < 5", False),
        ("not (price > 10)", False),
        ("not price > 100 and ok == true", True),
        ("order.total > 30 and order.rush == false", True),
        ("ok", True),
        ("price == 12.0", True),
    ],
)
def test_conditions_evaluate(expression: str, expected: bool) -> None:
    assert condition(expression)(VALUES) is expected


@pytest.mark.parametrize(
    "expression", ["price >", "(price > 1", "price > 1 and", "price $ 2", "and", "price > 1)"]
)
def test_malformed_conditions_are_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        condition(expression)


def test_conditions_name_their_inputs_and_refuse_what_cannot_compare() -> None:
    assert words('order.total > 3 and kind == "x" or not ok') == {"order", "kind", "ok"}
    with pytest.raises(ExpressionError, match="cannot be compared"):
        condition('price > "ten"')(VALUES)
    with pytest.raises(ExpressionError, match="missing"):
        condition("missing == 1")(VALUES)


def test_input_expressions_select_parts() -> None:
    document = {"genre": "pop", "songs": [{"title": "a"}, {"title": "b"}]}
    assert select(document, "$.data") == document
    assert select(document, "$.data.genre") == "pop"
    assert select(document, "$.data.songs[1].title") == "b"
    for bad in ("data.genre", "$.data..x", "$.data[x]"):
        with pytest.raises(ExpressionError):
            select(document, bad)
    with pytest.raises(ExpressionError, match="names nothing"):
        select(document, "$.data.songs[5]")
