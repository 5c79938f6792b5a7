"""What the hosting seam writes so that deployed endpoints survive a restart: `endpoints.json`.

Each deployed endpoint is saved under its key, `region/account/name` (an endpoint's name is unique per
account and region, as on AWS), with its variants, AsyncInferenceConfig, name, account and region. A file
written before names were per region (keyed by bare name) is read with each entry under its key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Where = tuple[str, str]  # (account, region) an endpoint lives in


def endpoint_key(name: str, where: Where) -> str:
    """What the hosting layer knows an endpoint by, and its folder under `endpoints/`."""
    return f"{where[1]}/{where[0]}/{name}"


class DeployedState:
    """The saved deployments: key -> {"variants", "async_inference", "name", "account", "region"}."""

    def __init__(self, path: Path, default: Where) -> None:
        self.path = path
        self.default = default

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            data: dict[str, dict[str, Any]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        state: dict[str, dict[str, Any]] = {}
        for key, saved in data.items():
            if "/" not in key:  # saved before names were per region: the key was the name
                saved = {**saved, "name": key}
            where = (saved.get("account", self.default[0]), saved.get("region", self.default[1]))
            saved.update(account=where[0], region=where[1])
            state[endpoint_key(saved["name"], where)] = saved
        return state

    def write(self, state: dict[str, dict[str, Any]]) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(state, indent=1))
        partial.replace(self.path)

    def save(
        self, name: str, variants: list[dict[str, Any]], async_inference: dict[str, Any] | None, where: Where
    ) -> None:
        """Save (or replace) one deployment; the caller holds the hosting's lock."""
        state = self.load()
        state[endpoint_key(name, where)] = {
            "variants": variants,
            "async_inference": async_inference,
            "name": name,
            "account": where[0],
            "region": where[1],
        }
        self.write(state)

    @staticmethod
    def where(saved: dict[str, Any]) -> Where:
        return (str(saved["account"]), str(saved["region"]))
