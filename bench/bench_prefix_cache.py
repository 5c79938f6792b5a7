"""Prompt prefix reuse in the llama.cpp engine: multi-turn chat and an agent-like loop through boto3
`converse_stream`, against the same engine with `prefix_cache = false`, in the same run.

Two servers run side by side, identical but for that catalog setting. Each step is sent to both, in
alternating order, so both see the same background load; greedy decoding gives both the same replies, so
both see the same prompts.

1. Chat: one conversation grows over `--turns` turns (the model's reply and a new question each turn).
2. Agent loop: a fixed ~700-token system prompt plus tool definitions, then a short question per step,
   each a fresh conversation, as an agent's orchestration sends them.
Printed: mean time to first event and mean total time per step, off / on, and the ratio.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT, RunningServer

MODELS = {"0.5B": "anthropic.claude-3-haiku-20240307-v1:0", "1.5B": "anthropic.claude-3-sonnet-20240229-v1:0"}
SYSTEM = (
    "You are the operations assistant of Northwind Cycles, a chain of bicycle shops. You help staff with "
    "orders, stock, repairs and customers. Use a tool whenever the answer depends on live data; otherwise "
    "answer in one or two sentences. Never invent order numbers, prices or stock levels. Opening hours are "
    "9:00 to 18:00 Monday to Saturday; repairs take two working days; a basic service costs 40 euros and a "
    "full service 90 euros. Refunds are possible within 30 days with a receipt. "
)
TOOL_NAMES = {
    "get_order": "Look up an order by its number: items, status, delivery date and payment.",
    "check_stock": "Current stock of a product at one shop or all shops, with reserved units.",
    "book_repair": "Book a repair slot for a customer's bicycle at a shop on a given day.",
}
QUESTIONS = [
    "Is order 1042 shipped yet?",
    "How many Trek Marlin 5 bikes are in stock in Leeds?",
    "What does a full service cost?",
    "Book a repair for Anna Berg on Friday in York.",
    "Can a customer get a refund after 20 days?",
    "Find the customer with e-mail tom@example.com.",
    "When does the Leeds shop close on Saturday?",
    "Refund 15 euros on order 977.",
]
CHATS = [
    ["I want to start cycling to work, 8 km each way.", "What kind of bike suits that?"],
    ["My chain keeps slipping on hills.", "Could it be the cassette?"],
    ["I am planning a week-long tour in the Alps.", "What should I pack?"],
]
FOLLOW_UPS = [
    "Why?",
    "What would that cost roughly?",
    "Anything else to watch out for?",
    "Thanks, and in winter?",
]


def tool_config() -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "the order, product, customer or shop identifier"},
            "shop": {"type": "string", "description": "the shop's city, for example Leeds or York"},
            "day": {"type": "string", "description": "an ISO date, or a weekday name"},
            "amount": {"type": "number", "description": "an amount in euros, when one is needed"},
        },
        "required": ["id"],
    }
    tools = [
        {"toolSpec": {"name": name, "description": text, "inputSchema": {"json": schema}}}
        for name, text in TOOL_NAMES.items()
    ]
    return {"tools": tools}


@dataclass
class Step:
    first: float
    total: float
    input_tokens: int
    text: str


@dataclass
class Side:
    label: str
    steps: list[Step] = field(default_factory=list)

    def mean(self, attribute: str, skip: int = 0) -> float:
        steps = self.steps[skip:]
        return sum(getattr(step, attribute) for step in steps) / len(steps)


def send(runtime: Any, model_id: str, messages: list[dict[str, Any]], tools: bool, max_tokens: int) -> Step:
    extra: dict[str, Any] = {"toolConfig": tool_config()} if tools else {}
    started = time.perf_counter()
    response = runtime.converse_stream(
        modelId=model_id,
        system=[{"text": SYSTEM * (2 if tools else 1)}],
        messages=messages,
        inferenceConfig={"maxTokens": max_tokens, "temperature": 0.0},
        **extra,
    )
    first: float | None = None
    tokens, text = 0, []
    for event in response["stream"]:
        if first is None and ("contentBlockDelta" in event or "contentBlockStart" in event):
            first = time.perf_counter() - started
        delta = event.get("contentBlockDelta", {}).get("delta", {})
        text.append(delta.get("text", ""))
        if "metadata" in event:
            tokens = event["metadata"]["usage"]["inputTokens"]
    total = time.perf_counter() - started
    return Step(first or total, total, tokens, "".join(text))


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def both(clients: dict[str, Any], sides: dict[str, Side], order: int, *args: Any) -> dict[str, Step]:
    """One step on both servers, the first one alternating."""
    names = sorted(clients, reverse=bool(order % 2))
    steps = {name: send(clients[name], *args) for name in names}
    for name, step in steps.items():
        sides[name].steps.append(step)
    return steps


def chat(clients: dict[str, Any], model_id: str, turns: int, max_tokens: int) -> dict[str, Side]:
    sides = {name: Side(name) for name in clients}
    order = 0
    for opening in CHATS:
        messages = [user(opening[0])]
        for turn in range(turns):
            steps = both(clients, sides, order, model_id, messages, False, max_tokens)
            order += 1
            reply = steps["on"].text or "(no reply)"
            if steps["off"].text != steps["on"].text:
                print(f"    note: replies differ at turn {turn + 1}")
            questions = [*opening[1:], *FOLLOW_UPS]
            messages = [
                *messages,
                {"role": "assistant", "content": [{"text": reply}]},
                user(questions[turn % len(questions)]),
            ]
    return sides


def agent_loop(clients: dict[str, Any], model_id: str, max_tokens: int, questions: int) -> dict[str, Side]:
    sides = {name: Side(name) for name in clients}
    for order, question in enumerate(QUESTIONS[:questions]):
        both(clients, sides, order, model_id, [user(question)], True, max_tokens)
    return sides


def catalog_without_cache(directory: Path) -> Path:
    """The bundled catalog with `prefix_cache = false` in every llama.cpp model's table."""
    text = (ROOT / "src" / "outcrop" / "catalog.toml").read_text()
    text = re.sub(r'(runtime = "llamacpp"\n)', r"\1prefix_cache = false\n", text)
    path = directory / "catalog-no-prefix-cache.toml"
    path.write_text(text)
    return path


def report(title: str, sides: dict[str, Side]) -> None:
    off, on = sides["off"], sides["on"]
    tokens = [step.input_tokens for step in on.steps]
    print(f"  {title}: {len(on.steps)} steps, prompts {min(tokens)}-{max(tokens)} tokens")
    for label, attribute in (("first event", "first"), ("total", "total")):
        print(
            f"    {label:11s} off {off.mean(attribute):6.2f} s   on {on.mean(attribute):6.2f} s   "
            f"off/on = {off.mean(attribute) / on.mean(attribute):.2f}x   (steps after the first: "
            f"{off.mean(attribute, 1):.2f} s vs {on.mean(attribute, 1):.2f} s, "
            f"{off.mean(attribute, 1) / on.mean(attribute, 1):.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--chats", type=int, default=1, help="conversations per model (at most 3)")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="agent loop steps")
    parser.add_argument("--max-tokens", type=int, default=32)
    arguments = parser.parse_args()
    del CHATS[arguments.chats :]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        servers = {
            "on": RunningServer(Path(tmp) / "on", fake_models=False),
            "off": RunningServer(
                Path(tmp) / "off",
                fake_models=False,
                extra_env={"OUTCROP_CATALOG": str(catalog_without_cache(Path(tmp)))},
            ),
        }
        for server in servers.values():
            stack.callback(server.stop)
            server.start()
        clients = {name: server.client("bedrock-runtime") for name, server in servers.items()}
        for size in arguments.models:
            model_id = MODELS[size]
            for client in clients.values():  # loads the model
                send(client, model_id, [user("hi")], False, 1)
            print(f"\nPrefix cache, Qwen2.5-Coder-{size} ({model_id}), max_tokens={arguments.max_tokens}")
            report(
                f"chat, {arguments.turns} turns",
                chat(clients, model_id, arguments.turns, arguments.max_tokens),
            )
            report(
                "agent loop, fixed system + 3 tools",
                agent_loop(clients, model_id, arguments.max_tokens, arguments.questions),
            )


if __name__ == "__main__":
    main()
