"""Tool calls through boto3 Converse on a real model: grammar-constrained decoding against free decoding.

52 prompts written for this bench, each offered the same five tools (weather, stock price, unit
conversion, calendar, web search); 12 need no tool. One server runs the model twice from the same GGUF:
as catalogued (constrained) and as a twin with `constrained_decoding = false`, interleaved prompt by prompt
so both see the same background load. Figures, for each side:
- valid-call rate: replies that came back as a toolUse, over replies that tried to call (a toolUse, or
  text holding a call-shaped `{"name": ...}` / `<tool_call>` that Outcrop refused to pass on as a call);
  target 100% constrained. Outcrop validates calls on both sides, so a broken call is never a toolUse.
  A call cut short by maxTokens still counts as a miss; the report says how many were (no decoder can
  finish a call past the caller's token limit).
- right-tool rate: prompts answered with the expected tool (or, for the 12, with no tool).
- decode tokens/s: output tokens over the time after the prompt was read (a max_tokens=1 probe of the
  same prompt measures that); the ratio constrained/unconstrained is the cost of the grammar (target >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import ROOT, RunningServer
from outcrop.backends.json_schema import schema_errors

MODELS = {  # Bedrock id in the bundled catalog -> its local model
    "anthropic.claude-3-haiku-20240307-v1:0": "qwen2.5-coder-0.5b",
    "anthropic.claude-3-sonnet-20240229-v1:0": "qwen2.5-coder-1.5b",
}
TWIN_ID = "outcrop.bench-unconstrained-v1:0"
SYSTEM = (
    "You are a helpful assistant. Call a tool when you need data you do not have; otherwise answer briefly."
)


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"toolSpec": {"name": name, "description": description, "inputSchema": {"json": schema}}}


TOOLS = [
    _tool(
        "get_weather",
        "Current weather for a city.",
        {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        ["city", "unit"],
    ),
    _tool(
        "get_stock_price",
        "Latest price of a stock, by ticker symbol.",
        {"ticker": {"type": "string"}, "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]}},
        ["ticker"],
    ),
    _tool(
        "convert_units",
        "Convert a quantity from one unit to another.",
        {"value": {"type": "number"}, "from_unit": {"type": "string"}, "to_unit": {"type": "string"}},
        ["value", "from_unit", "to_unit"],
    ),
    _tool(
        "create_calendar_event",
        "Add an event to the user's calendar.",
        {
            "title": {"type": "string"},
            "date": {"type": "string", "description": "YYYY-MM-DD"},
            "time": {"type": "string", "description": "HH:MM, 24-hour"},
            "duration_minutes": {"type": "integer", "minimum": 1},
        },
        ["title", "date"],
    ),
    _tool(
        "web_search",
        "Search the web and return the top results.",
        {"query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1, "maximum": 10}},
        ["query"],
    ),
]
SCHEMAS = {tool["toolSpec"]["name"]: tool["toolSpec"]["inputSchema"]["json"] for tool in TOOLS}

PROMPTS: list[tuple[str, str | None]] = [
    ("What's the weather in Paris right now?", "get_weather"),
    ("Is it raining in London today?", "get_weather"),
    ("How hot is it in Cairo, in fahrenheit?", "get_weather"),
    ("Tell me the current temperature in Tokyo.", "get_weather"),
    ("Should I take an umbrella in Seattle today?", "get_weather"),
    ("What's the weather like in Sydney at the moment, in celsius?", "get_weather"),
    ("Is it snowing in Oslo right now?", "get_weather"),
    ("Check the weather in Buenos Aires for me.", "get_weather"),
    ("What is Apple's stock price?", "get_stock_price"),
    ("How much is one share of MSFT right now?", "get_stock_price"),
    ("Get me the latest price of Tesla stock in USD.", "get_stock_price"),
    ("What's NVDA trading at?", "get_stock_price"),
    ("Look up the share price of Amazon (AMZN) in euros.", "get_stock_price"),
    ("Current stock price of Siemens, ticker SIE, in EUR?", "get_stock_price"),
    ("How is the GOOGL stock doing right now?", "get_stock_price"),
    ("Price of IBM stock in GBP, please.", "get_stock_price"),
    ("Convert 10 miles to kilometers.", "convert_units"),
    ("How many pounds is 72 kilograms?", "convert_units"),
    ("Convert 350 degrees fahrenheit to celsius.", "convert_units"),
    ("What is 5 gallons in liters?", "convert_units"),
    ("How many inches are in 2.5 meters?", "convert_units"),
    ("Convert 1200 grams to ounces.", "convert_units"),
    ("What's 60 miles per hour in kilometers per hour?", "convert_units"),
    ("Turn 3 cups into milliliters.", "convert_units"),
    (
        "Schedule a meeting called 'Budget review' on 2026-12-10 at 14:00 for 60 minutes.",
        "create_calendar_event",
    ),
    ("Add 'Dentist' to my calendar on 2026-12-15 at 09:30.", "create_calendar_event"),
    ("Put a 30-minute 'Standup' on my calendar for 2026-12-08 at 10:00.", "create_calendar_event"),
    ("Create a calendar event 'Mum's birthday' on 2027-01-04.", "create_calendar_event"),
    ("Book 'Gym' in my calendar on 2026-12-07 at 18:00 for 90 minutes.", "create_calendar_event"),
    (
        "Remind me of the 'Project deadline' on 2026-12-20 by adding it to my calendar.",
        "create_calendar_event",
    ),
    ("Add a calendar entry 'Call with Sam' on 2026-12-09 at 16:15.", "create_calendar_event"),
    (
        "Set up 'Team lunch' on my calendar for 2026-12-11 at 12:30, lasting 45 minutes.",
        "create_calendar_event",
    ),
    ("Search the web for the latest news about the James Webb telescope.", "web_search"),
    ("Find recent articles on electric vehicle battery recycling.", "web_search"),
    ("Look up who won the most recent Tour de France.", "web_search"),
    ("Search online for reviews of the Framework laptop, top 3 results.", "web_search"),
    ("Find the opening hours of the Louvre museum.", "web_search"),
    ("Search for Python 3.13 release notes.", "web_search"),
    ("What are people saying online about the new Rust edition? Search for it.", "web_search"),
    ("Find me a recipe for vegan lasagna on the web.", "web_search"),
    ("What is 2 + 2?", None),
    ("Write a haiku about autumn.", None),
    ("Translate 'good morning' into Spanish.", None),
    ("What is the capital of Italy?", None),
    ("Explain what a Python list comprehension is in one sentence.", None),
    ("Say hello.", None),
    ("Give me a synonym for 'happy'.", None),
    ("Write a Python function that reverses a string.", None),
    ("What does HTTP stand for?", None),
    ("Tell me a short joke.", None),
    ("How many days are in a week?", None),
    ("Thanks, that's all for now!", None),
]


@dataclass
class Side:
    """One decoding mode's tally."""

    name: str
    calls: int = 0
    attempts: int = 0
    right: int = 0
    tokens: int = 0
    decode_seconds: float = 0.0
    cut_short: int = 0  # refused calls that stopped at maxTokens
    broken: list[str] = field(default_factory=list)

    def add(self, response: dict[str, Any], expected: str | None, seconds: float, prefill: float) -> None:
        content = response["output"]["message"]["content"]
        uses = [block["toolUse"] for block in content if "toolUse" in block]
        text = " ".join(block.get("text", "") for block in content)
        for use in uses:  # Outcrop's promise; a failure here is a bug, not a model miss
            assert not schema_errors(use["input"], SCHEMAS[use["name"]]), use
        looks_like_call = '"name"' in text and ('"arguments"' in text or "<tool_call>" in text)
        self.calls += bool(uses)
        self.attempts += bool(uses) or looks_like_call
        if looks_like_call and not uses:
            self.broken.append(text[:120])
            self.cut_short += response["stopReason"] == "max_tokens"
        self.right += [use["name"] for use in uses][:1] == ([expected] if expected else [])
        self.tokens += response["usage"]["outputTokens"]
        self.decode_seconds += max(seconds - prefill, 1e-3)

    def report(self, prompts: int) -> str:
        valid = self.calls / self.attempts if self.attempts else 1.0
        return (
            f"{self.name:>13}: valid-call rate {valid:6.1%} ({self.calls}/{self.attempts}; "
            f"{self.cut_short} cut short by maxTokens)   "
            f"right-tool rate {self.right / prompts:6.1%} ({self.right}/{prompts})   "
            f"decode {self.tokens / self.decode_seconds:6.1f} tokens/s ({self.tokens} tokens)"
        )


def bench_catalog(local: str, directory: Path) -> Path:
    """The bundled catalog plus an unconstrained twin of `local`, answering as TWIN_ID."""
    import tomllib

    bundled = (ROOT / "src" / "outcrop" / "catalog.toml").read_text()
    table = tomllib.loads(bundled)["local"][local]
    lines = [f'[local."{local}-unconstrained"]']
    lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    lines += ["constrained_decoding = false", ""]
    lines += ["[[bedrock]]", f'id = "{TWIN_ID}"', 'format = "anthropic"', f'local = "{local}-unconstrained"']
    path = directory / "catalog.toml"
    path.write_text(bundled + "\n" + "\n".join(lines) + "\n")
    return path


def converse(runtime: Any, model_id: str, text: str, max_tokens: int) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = runtime.converse(
        modelId=model_id,
        system=[{"text": SYSTEM}],
        messages=[{"role": "user", "content": [{"text": text}]}],
        toolConfig={"tools": TOOLS},
        inferenceConfig={"maxTokens": max_tokens, "temperature": 0.0},
    )
    return response, time.perf_counter() - started


def main() -> None:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--model-id", default="anthropic.claude-3-haiku-20240307-v1:0", choices=sorted(MODELS)
    )
    parser.add_argument("--max-tokens", type=int, default=56)
    parser.add_argument("--stride", type=int, default=1, help="every Nth prompt (a quicker look, all kinds)")
    arguments = parser.parse_args()
    prompts = PROMPTS[:: arguments.stride]
    constrained, free = Side("constrained"), Side("unconstrained")
    with tempfile.TemporaryDirectory() as tmp:
        catalog = bench_catalog(MODELS[arguments.model_id], Path(tmp))
        env = {"OUTCROP_CATALOG": str(catalog), "OUTCROP_MODEL_DIR": str(ROOT / "data" / "models")}
        server = RunningServer(Path(tmp) / "data", fake_models=False, extra_env=env).start()
        try:
            runtime = server.client("bedrock-runtime")
            for model_id in (arguments.model_id, TWIN_ID):  # load both before timing anything
                converse(runtime, model_id, "Say hi.", 1)
            done = 0
            try:  # an interrupt (Ctrl-C, SIGTERM) still reports the prompts done so far
                for text, expected in prompts:
                    _, prefill = converse(runtime, TWIN_ID, text, 1)
                    for side, model_id in ((constrained, arguments.model_id), (free, TWIN_ID)):
                        response, seconds = converse(runtime, model_id, text, arguments.max_tokens)
                        side.add(response, expected, seconds, prefill)
                    done += 1
                    print(f"{done}/{len(prompts)} done", end="\r", flush=True)
            except KeyboardInterrupt:
                print(f"\ninterrupted after {done} of {len(prompts)} prompts")
        finally:
            server.stop()
    print(
        f"\n{done} prompts on {arguments.model_id} ({MODELS[arguments.model_id]}), "
        f"max_tokens {arguments.max_tokens}, temperature 0"
    )
    for side in (constrained, free):
        print(side.report(done))
        for text in side.broken:
            print(f"      refused call: {text!r}")
    ratio = (constrained.tokens / constrained.decode_seconds) / (free.tokens / free.decode_seconds)
    print(f"constrained/unconstrained decode tokens/s: {ratio:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
