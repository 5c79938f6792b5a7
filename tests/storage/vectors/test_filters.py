"""The filter model and the fusion, apart from any store."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.storage.vectors import AndAll, Condition, Hit, OrAll, matches, parse_filter
from outcrop.storage.vectors.fusion import reciprocal_rank_fusion


def test_parses_bedrock_shape() -> None:
    parsed = parse_filter(
        {
            "andAll": [
                {"equals": {"key": "year", "value": 2024}},
                {
                    "orAll": [
                        {"in": {"key": "g", "value": ["a", 1]}},
                        {"startsWith": {"key": "t", "value": "x"}},
                    ]
                },
            ]
        }
    )
    assert parsed == AndAll(
        (
            Condition("equals", "year", 2024.0),
            OrAll((Condition("in", "g", ("a", 1.0)), Condition("startsWith", "t", "x"))),
        )
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("year = 2024", r"filter must be an object with exactly one operator"),
        ({}, r"filter must be an object with exactly one operator"),
        ({"equals": {"key": "a", "value": 1}, "notEquals": {"key": "a", "value": 1}}, "exactly one operator"),
        ({"like": {"key": "a", "value": 1}}, r"unknown operator 'like'"),
        ({"equals": {"key": "a"}}, r"filter\.equals must be an object with exactly 'key' and 'value'"),
        ({"equals": {"key": "", "value": 1}}, r"filter\.equals\.key must be a string of 1 to 100"),
        ({"equals": {"key": "k" * 101, "value": 1}}, r"1 to 100"),
        (
            {"equals": {"key": "a", "value": None}},
            r"filter\.equals\.value must be a string, number or boolean",
        ),
        ({"equals": {"key": "a", "value": [1]}}, r"must be a string, number or boolean"),
        ({"greaterThan": {"key": "a", "value": "2024"}}, r"filter\.greaterThan\.value must be a number"),
        ({"lessThan": {"key": "a", "value": True}}, r"must be a number"),
        ({"lessThan": {"key": "a", "value": float("nan")}}, r"finite"),
        ({"in": {"key": "a", "value": []}}, r"filter\.in\.value must be a non-empty list"),
        ({"notIn": {"key": "a", "value": "x"}}, r"non-empty list"),
        ({"in": {"key": "a", "value": ["x", {"y": 1}]}}, r"filter\.in\.value\[1\] must be a string"),
        ({"startsWith": {"key": "a", "value": 1}}, r"must be a string for startsWith"),
        ({"listContains": {"key": "a", "value": 1}}, r"must be a string for listContains"),
        ({"andAll": [{"equals": {"key": "a", "value": 1}}]}, r"filter\.andAll must be a list of at least 2"),
        ({"orAll": {"equals": {"key": "a", "value": 1}}}, r"at least 2"),
        (
            {"andAll": [{"equals": {"key": "a", "value": 1}}, {"orAll": [{"nope": {}}, {"nope": {}}]}]},
            r"filter\.andAll\[1\]\.orAll\[0\] has unknown operator 'nope'",
        ),
    ],
)
def test_malformed_filters_say_what_is_wrong(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_filter(raw)


def test_reference_semantics_are_typed() -> None:
    assert matches(parse_filter({"equals": {"key": "n", "value": 1}}), {"n": 1})
    assert not matches(parse_filter({"equals": {"key": "n", "value": 1}}), {"n": True})
    assert not matches(parse_filter({"equals": {"key": "n", "value": True}}), {"n": 1})
    assert not matches(parse_filter({"equals": {"key": "n", "value": "1"}}), {"n": 1})
    assert matches(parse_filter({"notEquals": {"key": "n", "value": 1}}), {})
    assert matches(parse_filter({"stringContains": {"key": "l", "value": "ar"}}), {"l": ["bar"]})
    assert not matches(parse_filter({"listContains": {"key": "l", "value": "ar"}}), {"l": ["bar"]})


def hit(chunk_id: str) -> Hit:
    return Hit(chunk_id, "d", "t", {}, None, 0.0)


def test_reciprocal_rank_fusion() -> None:
    semantic = [hit("a"), hit("b"), hit("c"), hit("d")]
    keyword = [hit("d"), hit("b")]
    fused = reciprocal_rank_fusion([semantic, keyword], 10)
    assert [h.chunk_id for h in fused] == ["b", "d", "a", "c"]  # 2/62 > 1/64 + 1/61 > 1/61 > 1/63
    assert fused[0].score == pytest.approx((2 / 62) / (2 / 61))
    assert fused[2].score == pytest.approx((1 / 61) / (2 / 61))
    assert [h.chunk_id for h in reciprocal_rank_fusion([semantic, keyword], 1)] == ["b"]
    assert reciprocal_rank_fusion([[], []], 5) == []
    assert reciprocal_rank_fusion([[hit("x")]], 5)[0].score == pytest.approx(1.0)
