"""Policy checks and defaults, without a server."""

from __future__ import annotations

import pytest

from outcrop.guardrails.policies import build_policies
from outcrop.protocol.errors import ValidationException

BASE = {"name": "g"}


def test_defaults_are_filled_in() -> None:
    policies = build_policies(
        {
            **BASE,
            "sensitiveInformationPolicyConfig": {
                "piiEntitiesConfig": [{"type": "EMAIL", "action": "ANONYMIZE", "outputAction": "BLOCK"}]
            },
        }
    )
    entity = policies["sensitiveInformationPolicy"]["piiEntities"][0]
    assert entity == {
        "type": "EMAIL", "action": "ANONYMIZE", "inputAction": "ANONYMIZE", "outputAction": "BLOCK",
        "inputEnabled": True, "outputEnabled": True,
    }  # fmt: skip
    assert policies["sensitiveInformationPolicy"]["regexes"] == []


def test_a_topic_name_must_match_whole() -> None:
    with pytest.raises(ValidationException, match="regular expression pattern"):
        build_policies(
            {
                **BASE,
                "topicPolicyConfig": {
                    "topicsConfig": [{"name": "bad/name", "definition": "d", "type": "DENY"}]
                },
            }
        )
