"""Separable fraud data with a known answer: fraud is a large amount from a throwaway e-mail domain."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

START = datetime(2024, 1, 1, tzinfo=UTC)


def events(n: int, seed: int = 7, fraud_share: float = 0.2) -> list[dict[str, str]]:
    """Rows with order_price, email_address, ip_address, is_fraud ('fraud'/'legit') and a timestamp."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        fraud = rng.random() < fraud_share
        price = rng.gauss(900, 120) if fraud else rng.gauss(120, 60)
        domain = (
            rng.choice(["tempmail.biz", "burner.xyz"]) if fraud else rng.choice(["gmail.com", "example.org"])
        )
        rows.append(
            {
                "EVENT_ID": f"e{seed}-{i}",
                "EVENT_TIMESTAMP": (START + timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ENTITY_ID": f"c{rng.randrange(n // 4 + 1)}",
                "ENTITY_TYPE": "customer",
                "EVENT_LABEL": "fraud" if fraud else "legit",
                "order_price": f"{max(price, 1.0):.2f}",
                "email_address": f"user{i}@{domain}",
                "ip_address": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            }
        )
    return rows


def csv_text(rows: list[dict[str, str]], columns: list[str]) -> str:
    return ",".join(columns) + "\n" + "".join(",".join(r[c] for c in columns) + "\n" for r in rows)
