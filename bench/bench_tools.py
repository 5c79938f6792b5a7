"""Tool calls through boto3 Converse on a real model: grammar-constrained decoding against free decoding.

52 prompts written for this bench, each offered the same five tools (weather, stock price, unit
conversion, calendar, web search); 12 need no tool. One server runs the model twice from the same GGUF:
as catalogued (constrained) and as a twin with `constrained_decoding = false`, interleaved prompt by prompt
(A/B, then B/A for the next prompt) so both see the same background load. Figures, for each side:
- valid-call rate: replies that came back as a toolUse, over replies that tried to call (a toolUse, or
  text holding a call-shaped `{"name": ...}` / `<tool_call>` that Outcrop refused to pass on as a call);
  target 100% constrained. Outcrop validates calls on both sides, so a broken call is never a toolUse.
  A call cut short by maxTokens still counts as a miss and is reported apart; the default max_tokens
  (128) leaves room for the longest call here (~66 tokens, pretty-printed) after a sentence of prose.
- right-tool rate: prompts answered with the expected tool (or, for the 12, with no tool); beside it the
  rate where a refused call (its raw JSON passed on as text) does not count as answering without a tool.
- decode tokens/s: each side's prompt is first read by a max_tokens=1 call, then a second such call
  (prompt cached) measures the fixed cost of a call (HTTP, one-token prefill, first sample); a call's
  decode rate is (outputTokens - 1) / (its time - that fixed cost). Per prompt the two sides' rates give
  a ratio; the report gives the ratio of the sides' median rates, the median per-prompt ratio with its
  interquartile range, and the same over the prompts where both sides wrote the very same reply
  (like with like: same tokens, so only the grammar differs). Target >= 0.9.
- the grammar's own cost as the engine counts it (health report): tokens it had to redraw and seconds.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

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
class Call:
    """One Converse call's outcome."""

    reply: str  # the tool called, or the text's opening
    tool: str | None
    stop: str
    input_tokens: int
    output_tokens: int
    rate: float | None  # decode tokens/s; None for a one-token reply
    grammar_seconds: float
    grammar_resamples: int


@dataclass
class Side:
    """One decoding mode's tally."""

    name: str
    calls: int = 0
    attempts: int = 0
    right: int = 0
    right_answered: int = 0  # right, not counting a refused call (raw call JSON as text) as "no tool"
    cut_short: int = 0  # refused calls that stopped at maxTokens
    broken: list[str] = field(default_factory=list)
    stops: collections.Counter[str] = field(default_factory=collections.Counter)
    log: list[Call] = field(default_factory=list)

    def add(self, response: dict[str, Any], expected: str | None, call: Call) -> None:
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
        right = [use["name"] for use in uses][:1] == ([expected] if expected else [])
        self.right += right
        self.right_answered += right and not (looks_like_call and not uses)
        self.stops[response["stopReason"]] += 1
        self.log.append(call)

    def report(self, prompts: int) -> str:
        valid = self.calls / self.attempts if self.attempts else 1.0
        tokens = sum(call.output_tokens for call in self.log)
        rates = [call.rate for call in self.log if call.rate]
        return (
            f"{self.name:>13}: valid-call rate {valid:6.1%} ({self.calls}/{self.attempts}; "
            f"{self.cut_short} cut short by maxTokens)   "
            f"right-tool rate {self.right / prompts:6.1%} ({self.right}/{prompts}; "
            f"{self.right_answered / prompts:.1%} if a refused call is no text answer)\n"
            f"{'':>15}median decode {statistics.median(rates) if rates else 0.0:5.2f} tokens/s   "
            f"{tokens} output tokens, {sum(call.input_tokens for call in self.log)} input tokens   "
            f"stop reasons {dict(self.stops)}"
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


def grammar_totals(endpoint: str, local: str) -> tuple[float, int]:
    """The engine's grammar seconds and redrawn tokens since load, from the health report."""
    models = httpx.get(f"{endpoint}/_outcrop/health", timeout=30).json()["models"]
    stats = models[local].get("grammar") or {}
    return float(stats.get("seconds", 0.0)), int(stats.get("resamples", 0))


def measured_call(runtime: Any, endpoint: str, local: str, model_id: str, text: str, max_tokens: int) -> Any:
    """Read the prompt, time a cached one-token call, then the real call (see the docstring)."""
    converse(runtime, model_id, text, 1)
    _, fixed = converse(runtime, model_id, text, 1)
    seconds_before, resamples_before = grammar_totals(endpoint, local)
    response, seconds = converse(runtime, model_id, text, max_tokens)
    time.sleep(0.1)  # the engine retires a sequence just after its reply; let it count the grammar's part
    seconds_after, resamples_after = grammar_totals(endpoint, local)
    usage = response["usage"]
    content = response["output"]["message"]["content"]
    tools = [block["toolUse"]["name"] for block in content if "toolUse" in block]
    reply = tools[0] if tools else " ".join(block.get("text", "") for block in content)
    rate = (usage["outputTokens"] - 1) / max(seconds - fixed, 1e-3) if usage["outputTokens"] > 1 else None
    call = Call(
        reply=json.dumps([block.get("toolUse", {}).get("input") for block in content])
        if tools
        else reply[:80],
        tool=tools[0] if tools else None,
        stop=response["stopReason"],
        input_tokens=usage["inputTokens"],
        output_tokens=usage["outputTokens"],
        rate=rate,
        grammar_seconds=seconds_after - seconds_before,
        grammar_resamples=resamples_after - resamples_before,
    )
    return response, call


def quartiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.2f}" if values else "n/a"
    low, median, high = statistics.quantiles(values, n=4)
    return f"{median:.2f} (IQR {low:.2f}-{high:.2f}, n={len(values)})"


def ratios(constrained: Side, free: Side) -> None:
    """The cost of the grammar in decode tokens/s, overall and like with like."""
    pairs = [(a, b) for a, b in zip(constrained.log, free.log, strict=True) if a.rate and b.rate]
    same = [(a, b) for a, b in pairs if (a.reply, a.output_tokens) == (b.reply, b.output_tokens)]
    for label, chosen in (("all prompts", pairs), ("identical replies", same)):
        if not chosen:
            print(f"  {label}: no prompt with a rate on both sides")
            continue
        of_medians = statistics.median(a.rate or 0 for a, _ in chosen) / statistics.median(
            b.rate or 0 for _, b in chosen
        )
        per_prompt = quartiles([(a.rate or 0) / (b.rate or 1) for a, b in chosen])
        print(f"  {label}: ratio of median rates {of_medians:.2f}; per-prompt ratio median {per_prompt}")
    tokens = sum(call.output_tokens for call in constrained.log)
    seconds = sum(call.grammar_seconds for call in constrained.log)
    resamples = sum(call.grammar_resamples for call in constrained.log)
    print(
        f"  grammar (engine's count): {seconds:.2f} s over {tokens} constrained tokens "
        f"({1000 * seconds / max(tokens, 1):.2f} ms/token), {resamples} tokens redrawn"
    )


def main() -> None:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-id", default="anthropic.claude-3-haiku-20240307-v1:0", choices=sorted(MODELS)
    )
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--stride", type=int, default=1, help="every Nth prompt (a quicker look, all kinds)")
    parser.add_argument("--json-out", type=Path, help="write every call's outcome here")
    parser.add_argument("--verbose", action="store_true", help="print each prompt's two replies")
    arguments = parser.parse_args()
    prompts = PROMPTS[:: arguments.stride]
    local = MODELS[arguments.model_id]
    constrained, free = Side("constrained"), Side("unconstrained")
    sides = ((constrained, arguments.model_id, local), (free, TWIN_ID, f"{local}-unconstrained"))
    print(f"load average at start: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        catalog = bench_catalog(local, Path(tmp))
        env = {"OUTCROP_CATALOG": str(catalog), "OUTCROP_MODEL_DIR": str(ROOT / "data" / "models")}
        server = RunningServer(Path(tmp) / "data", fake_models=False, extra_env=env).start()
        try:
            runtime = server.client("bedrock-runtime")
            for model_id in (arguments.model_id, TWIN_ID):  # load both before timing anything
                converse(runtime, model_id, "Say hi.", 1)
            done = 0
            try:  # an interrupt (Ctrl-C, SIGTERM) still reports the prompts done so far
                for index, (text, expected) in enumerate(prompts):
                    order = sides if index % 2 == 0 else sides[::-1]
                    for side, model_id, name in order:
                        response, call = measured_call(
                            runtime, server.endpoint, name, model_id, text, arguments.max_tokens
                        )
                        side.add(response, expected, call)
                    done += 1
                    if arguments.verbose:
                        a, b = constrained.log[-1], free.log[-1]
                        print(f"[{done}] {text!r} expects {expected}")
                        for call in (a, b):
                            print(
                                f"      {call.stop:>10} {call.output_tokens:3d} tok "
                                f"{call.rate or 0:5.2f}/s  {call.reply!r}"
                            )
                    else:
                        print(f"{done}/{len(prompts)} done", end="\r", flush=True)
            except KeyboardInterrupt:
                print(f"\ninterrupted after {done} of {len(prompts)} prompts")
        finally:
            server.stop()
    print(
        f"\n{done} prompts on {arguments.model_id} ({local}), "
        f"max_tokens {arguments.max_tokens}, temperature 0; "
        f"load average at end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )
    for side in (constrained, free):
        print(side.report(done))
        for text in side.broken:
            print(f"      refused call: {text!r}")
    print("constrained/unconstrained decode tokens/s (target >= 0.9):")
    ratios(constrained, free)
    wrong = [
        (text, a.tool, b.tool)
        for (text, expected), a, b in zip(prompts, constrained.log, free.log, strict=False)
        if a.tool != expected and b.tool == expected
    ]
    for text, a_tool, b_tool in wrong:
        print(f"  constrained chose {a_tool}, unconstrained {b_tool}: {text!r}")
    if arguments.json_out:
        records = [
            {"prompt": text, "expected": expected, "constrained": vars(a), "unconstrained": vars(b)}
            for (text, expected), a, b in zip(prompts, constrained.log, free.log, strict=False)
        ]
        arguments.json_out.write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
