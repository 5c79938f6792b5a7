"""Bedrock Agents on the local models: InvokeAgent tasks through boto3, with a Lambda action group.

32 tasks written for this bench against one agent whose function-schema action group (a Lambda with fixed
answers) offers get_weather, get_stock_price, convert_units and book_table, plus AMAZON.UserInput:
single tool (10), choice between tools (8), two steps (5), a missing required value (4), no tool needed (5).
Figures, per model:
- task success: the expected functions ran with the expected values and the answer carries what the Lambda
  returned; a missing value was asked for (ASK_USER, no call with an invented value); no-tool tasks ran none.
- valid-call rate: calls that ran over calls made (a call outside its schema is a REPROMPT from the parser).
- orchestration overhead: each task's wall time beside the sum of its model calls (the baseline measured
  in the same run): (wall - model) / model; target <= 5%. It includes the warm Lambda's own time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT, RunningServer

# isort: split
from tests.services.agents import make_function, orchestration, prepare, read_stream, wait_status

MODELS = {
    "anthropic.claude-3-haiku-20240307-v1:0": "qwen2.5-coder-0.5b",
    "anthropic.claude-3-sonnet-20240229-v1:0": "qwen2.5-coder-1.5b",
}
ROLE = "arn:aws:iam::000000000000:role/agent-role"
INSTRUCTION = (
    "You are a concise assistant for travel and finance questions. Use the tools for weather, stock prices, "
    "unit conversions and restaurant bookings, and answer with the numbers they return."
)
HANDLER = """
WEATHER = {"paris": 18, "rome": 24, "oslo": 7, "tokyo": 21, "lima": 19, "cairo": 33, "berlin": 12}
STOCKS = {"AMZN": 187.5, "AAPL": 229.1, "MSFT": 415.3, "NVDA": 131.2}
FACTORS = {("miles", "km"): 1.609, ("km", "miles"): 0.621, ("kg", "pounds"): 2.205, ("pounds", "kg"): 0.454}

def lambda_handler(event, context):
    p = {x['name']: x['value'] for x in event.get('parameters', [])}
    f = event['function']
    if f == 'get_weather':
        body = f"{WEATHER.get(p.get('city', '').lower(), 15)} degrees C in {p.get('city')}"
    elif f == 'get_stock_price':
        body = f"{p.get('ticker', '').upper()} trades at {STOCKS.get(p.get('ticker', '').upper(), 100.0)} USD"
    elif f == 'convert_units':
        factor = FACTORS.get((p.get('from_unit', '').lower(), p.get('to_unit', '').lower()), 1.0)
        body = f"{round(float(p.get('value', 0)) * factor, 1)} {p.get('to_unit')}"
    else:
        body = f"Booked {p.get('restaurant')} for {p.get('people')} people, confirmation 4471"
    return {'messageVersion': '1.0', 'response': {'actionGroup': event['actionGroup'], 'function': f,
            'functionResponse': {'responseBody': {'TEXT': {'body': body}}}}}
"""


def _param(kind: str, description: str) -> dict[str, Any]:
    return {"type": kind, "description": description, "required": True}


FUNCTIONS = {
    "functions": [
        {"name": "get_weather", "description": "Current temperature in a city.",
         "parameters": {"city": _param("string", "City name")}},
        {"name": "get_stock_price", "description": "Latest price of a stock by its ticker symbol.",
         "parameters": {"ticker": _param("string", "Ticker symbol such as AMZN")}},
        {"name": "convert_units", "description": "Convert a quantity between units (miles, km, kg, pounds).",
         "parameters": {"value": _param("number", "The quantity"),
                        "from_unit": _param("string", "Unit to convert from"),
                        "to_unit": _param("string", "Unit to convert to")}},
        {"name": "book_table", "description": "Book a restaurant table.",
         "parameters": {"restaurant": _param("string", "Restaurant name"),
                        "people": _param("integer", "Number of people")}},
    ]
}  # fmt: skip


@dataclass(frozen=True)
class Task:
    kind: str
    text: str
    calls: tuple[tuple[str, str], ...] = ()  # (function, a value its arguments must hold)
    answer: tuple[str, ...] = ()  # fragments the answer must hold


TASKS = [
    Task("single", "What is the weather in Paris?", (("get_weather", "paris"),), ("18",)),
    Task("single", "How warm is it in Rome today?", (("get_weather", "rome"),), ("24",)),
    Task("single", "Temperature in Oslo please.", (("get_weather", "oslo"),), ("7",)),
    Task("single", "Is it hot in Cairo right now?", (("get_weather", "cairo"),), ("33",)),
    Task("single", "What's the price of AMZN stock?", (("get_stock_price", "amzn"),), ("187.5",)),
    Task("single", "Give me the latest NVDA share price.", (("get_stock_price", "nvda"),), ("131.2",)),
    Task("single", "Convert 10 miles to km.", (("convert_units", "miles"),), ("16.1",)),
    Task("single", "How many pounds is 5 kg?", (("convert_units", "kg"),), ("11",)),
    Task("single", "Book a table at Luigi's for 4 people.", (("book_table", "luigi"),), ("4471",)),
    Task("single", "Reserve Sakura for 2 people please.", (("book_table", "sakura"),), ("4471",)),
    Task("choice", "I am flying to Tokyo, what's the weather there?", (("get_weather", "tokyo"),), ("21",)),
    Task("choice", "How is Apple (AAPL) trading?", (("get_stock_price", "aapl"),), ("229.1",)),
    Task("choice", "My run was 3 miles. How many km is that?", (("convert_units", "3"),), ("4.8",)),
    Task("choice", "Check MSFT for me.", (("get_stock_price", "msft"),), ("415.3",)),
    Task("choice", "Weather report for Berlin.", (("get_weather", "berlin"),), ("12",)),
    Task("choice", "Table for 6 at The Grill, please book it.", (("book_table", "grill"),), ("4471",)),
    Task("choice", "I weigh 70 kg, what is that in pounds?", (("convert_units", "70"),), ("154",)),
    Task("choice", "Lima weather?", (("get_weather", "lima"),), ("19",)),
    Task("two-step", "What is the weather in Paris and in Rome?",
         (("get_weather", "paris"), ("get_weather", "rome")), ("18", "24")),
    Task("two-step", "Compare the stock prices of AMZN and MSFT.",
         (("get_stock_price", "amzn"), ("get_stock_price", "msft")), ("187.5", "415.3")),
    Task("two-step", "What's the weather in Oslo, and convert 20 km to miles.",
         (("get_weather", "oslo"), ("convert_units", "20")), ("7", "12.4")),
    Task("two-step", "Price of AAPL, and how warm is Tokyo?",
         (("get_stock_price", "aapl"), ("get_weather", "tokyo")), ("229.1", "21")),
    Task("two-step", "Convert 100 pounds to kg and 5 miles to km.",
         (("convert_units", "100"), ("convert_units", "5")), ("45.4", "8")),
    Task("missing", "Book a table for me."),
    Task("missing", "What's the weather?"),
    Task("missing", "Get me a stock price."),
    Task("missing", "Please book a restaurant for tonight."),
    Task("none", "What is 2 + 2?", answer=("4",)),
    Task("none", "Say hello in French.", answer=("bonjour",)),
    Task("none", "What is the capital of Italy?", answer=("rome",)),
    Task("none", "Thank you, that is all!"),
    Task("none", "What colour is the sky on a clear day?", answer=("blue",)),
]  # fmt: skip


@dataclass
class Outcome:
    success: bool
    calls: int
    invalid: int
    wall: float
    model: float
    detail: str = ""


def run_task(runtime: Any, agent_id: str, task: Task) -> Outcome:
    started = time.perf_counter()
    response = runtime.invoke_agent(
        agentId=agent_id, agentAliasId="TSTALIASID", sessionId=uuid.uuid4().hex, inputText=task.text,
        enableTrace=True,
    )  # fmt: skip
    read = read_stream(response)
    wall = time.perf_counter() - started
    outputs = orchestration(read["traces"], "modelInvocationOutput")
    model = sum(o["metadata"]["totalTimeMs"] for o in outputs) / 1000
    made = [c["actionGroupInvocationInput"] for c in orchestration(read["traces"], "invocationInput")
            if "actionGroupInvocationInput" in c]  # fmt: skip
    observations = orchestration(read["traces"], "observation")
    invalid = sum(
        1 for o in observations if o["type"] == "REPROMPT" and o["repromptResponse"]["source"] == "PARSER"
    )
    text = read["text"].lower()
    if task.kind == "missing":
        success = any(o["type"] == "ASK_USER" for o in observations) or (not made and "?" in text)
    elif task.kind == "none":
        success = not made and all(fragment in text for fragment in task.answer)
    else:
        values = [(c["function"], " ".join(p["value"].lower() for p in c["parameters"])) for c in made]
        called = all(any(f == fn and v in vals for fn, vals in values) for f, v in task.calls)
        success = called and all(fragment in text for fragment in task.answer)
    steps = [(c["function"], {p["name"]: p["value"] for p in c["parameters"]}) for c in made]
    kinds = [o["type"] for o in observations]
    detail = f"calls {steps} observations {kinds} answer {read['text']!r}"
    return Outcome(success, len(made) + invalid, invalid, wall, model, detail)


def make_agent(server: RunningServer, model: str, arn: str, max_tokens: int) -> str:
    agent = server.client("bedrock-agent")
    override = {"promptConfigurations": [{"promptType": "ORCHESTRATION", "promptCreationMode": "DEFAULT",
                "inferenceConfiguration": {"maximumLength": max_tokens, "temperature": 0.0}}]}  # fmt: skip
    agent_id = agent.create_agent(
        agentName=f"bench-{uuid.uuid4().hex[:8]}", foundationModel=model, instruction=INSTRUCTION,
        agentResourceRoleArn=ROLE, promptOverrideConfiguration=override,
    )["agent"]["agentId"]  # fmt: skip
    wait_status(agent, agent_id, "NOT_PREPARED")
    agent.create_agent_action_group(
        agentId=agent_id, agentVersion="DRAFT", actionGroupName="tools", actionGroupExecutor={"lambda": arn},
        functionSchema=FUNCTIONS,
    )  # fmt: skip
    agent.create_agent_action_group(
        agentId=agent_id,
        agentVersion="DRAFT",
        actionGroupName="ask",
        parentActionGroupSignature="AMAZON.UserInput",
    )
    prepare(agent, agent_id)
    return str(agent_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="*", default=list(MODELS), help="Bedrock ids of the agents' models")
    parser.add_argument("--fake", action="store_true", help="the fake models (a check of the bench itself)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--limit", type=int, default=len(TASKS), help="first N tasks (a quick look)")
    parser.add_argument("--kinds", nargs="*", default=[], help="only these kinds of task (single, none...)")
    parser.add_argument("--only", nargs="*", default=[], help="only tasks whose text holds one of these")
    parser.add_argument("--verbose", action="store_true", help="print each task's calls and answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"OUTCROP_MODEL_DIR": str(ROOT / "data" / "models")}
        server = RunningServer(Path(tmp) / "data", fake_models=args.fake, extra_env=env).start()
        try:
            arn = make_function(server.client("lambda"), HANDLER)
            runtime = server.client("bedrock-agent-runtime")
            for model in args.models:
                agent_id = make_agent(server, model, arn, args.max_tokens)
                run_task(runtime, agent_id, Task("none", "Hello"))  # loads the model and warms the Lambda
                outcomes: dict[str, list[Outcome]] = {}
                chosen = [t for t in TASKS if not args.kinds or t.kind in args.kinds]
                chosen = [t for t in chosen if not args.only or any(o in t.text for o in args.only)]
                for task in chosen[: args.limit]:
                    outcome = run_task(runtime, agent_id, task)
                    outcomes.setdefault(task.kind, []).append(outcome)
                    mark = "ok " if outcome.success else "BAD"
                    print(
                        f"  {task.kind:8} {mark} wall {outcome.wall:6.1f}s model {outcome.model:6.1f}s "
                        f"calls {outcome.calls} invalid {outcome.invalid}  {task.text}"
                    )
                    if args.verbose:
                        print(f"           {outcome.detail}")
                report(MODELS.get(model, model), outcomes)
        finally:
            server.stop()


def report(name: str, outcomes: dict[str, list[Outcome]]) -> None:
    every = [o for found in outcomes.values() for o in found]
    calls = sum(o.calls for o in every)
    invalid = sum(o.invalid for o in every)
    wall, model = sum(o.wall for o in every), sum(o.model for o in every)
    print(f"{name}: task success {sum(o.success for o in every)}/{len(every)}", end="")
    print(" (" + ", ".join(f"{k} {sum(o.success for o in v)}/{len(v)}" for k, v in outcomes.items()) + ")")
    print(f"  valid calls {calls - invalid}/{calls} ({100 * (calls - invalid) / max(calls, 1):.0f}%)")
    overheads = [(o.wall - o.model) / o.model for o in every if o.model > 0]
    median = 100 * statistics.median(overheads or [0])
    print(
        f"  time per task {wall / len(every):.2f} s, model {model / len(every):.2f} s; orchestration "
        f"overhead {100 * (wall - model) / max(model, 1e-9):.1f}% (median task {median:.1f}%)"
    )


if __name__ == "__main__":
    main()
