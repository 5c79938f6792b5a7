"""The agent's orchestration loop in process, on a scripted model: what it does with calls the fake models
never make (a required value left null, arguments outside the schema, a loop that never answers)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from outcrop.backends.base import GenerationRequest, GenerationResult, ToolCall
from outcrop.catalog import BedrockModel
from outcrop.inference import Caller, Inference
from outcrop.lambdas.workers import Outcome
from outcrop.services.bedrock_agent_runtime.agent_actions import AgentSetup, build_actions
from outcrop.services.bedrock_agent_runtime.agent_grounding import given
from outcrop.services.bedrock_agent_runtime.agent_loop import MAX_STEPS, AgentTurn
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSession
from tests.services.agents import WEATHER_FUNCTIONS

ARN = "arn:aws:lambda:us-east-1:000000000000:function:weather"


class ScriptedModel:
    """Answers each generate call with the next scripted result (the last one repeats)."""

    def __init__(self, *results: GenerationResult) -> None:
        self.results = list(results)
        self.requests: list[GenerationRequest] = []

    async def generate(
        self, caller: Caller, model: BedrockModel, request: GenerationRequest
    ) -> GenerationResult:
        self.requests.append(request)
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


def call(name: str, arguments: dict[str, Any]) -> GenerationResult:
    return GenerationResult("", "tool_use", 10, 5, tool_calls=[ToolCall("c1", name, arguments)])


def text(answer: str) -> GenerationResult:
    return GenerationResult(answer, "end_turn", 10, 3)


def run(
    model: ScriptedModel,
    *,
    ask_user: bool = False,
    question: str = "What is the weather?",
    body: str = "sunny",
) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    groups: list[dict[str, Any]] = [
        {
            "actionGroupName": "tools",
            "actionGroupExecutor": {"lambda": ARN},
            "functionSchema": WEATHER_FUNCTIONS,
        }
    ]
    if ask_user:
        groups.append({"actionGroupName": "ask", "parentActionSignature": "AMAZON.UserInput"})
    setup = AgentSetup(
        agent_id="AGENT12345",
        alias_id="TSTALIASID",
        version="DRAFT",
        name="agent",
        instruction="Help with the weather.",
        model=BedrockModel(model_id="m", name="m", provider="x", format="", local="m", kind="chat"),
        model_id="m",
        actions=build_actions(groups, [], lambda schema: ""),
        idle_ttl=600,
    )
    lambda_events: list[Any] = []

    async def call_lambda(arn: str, event: dict[str, Any]) -> Outcome:
        lambda_events.append(event)
        response = {
            "actionGroup": "tools",
            "function": event["function"],
            "functionResponse": {"responseBody": {"TEXT": {"body": body}}},
        }
        return Outcome("r1", payload=json.dumps({"messageVersion": "1.0", "response": response}))

    turn = AgentTurn(
        setup=setup,
        session=AgentSession("s1"),
        inference=cast(Inference, model),
        caller=Caller(),
        call_lambda=call_lambda,
        search=lambda kb, query: [],
        enable_trace=True,
    )

    async def collect() -> list[tuple[str, dict[str, Any]]]:
        return [event async for event in turn.events(question, None)]

    return asyncio.run(collect()), lambda_events


def observations(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [
        e[1]["trace"]["orchestrationTrace"]["observation"]
        for e in events
        if e[0] == "trace" and "observation" in e[1]["trace"].get("orchestrationTrace", {})
    ]


def test_a_required_value_left_null_makes_the_agent_ask() -> None:
    events, ran = run(ScriptedModel(call("get_weather", {"city": None})), ask_user=True)
    assert not ran
    assert observations(events)[-1]["type"] == "ASK_USER"
    chunk = next(e[1]["bytes"].decode() for e in events if e[0] == "chunk")
    assert "city" in chunk and chunk.endswith("?")


def test_without_user_input_a_missing_value_reprompts_the_model() -> None:
    model = ScriptedModel(call("get_weather", {}), text("Which city do you mean?"))
    events, ran = run(model)
    assert not ran
    first = observations(events)[0]
    assert first["type"] == "REPROMPT" and "city" in first["repromptResponse"]["text"]
    assert model.requests[1].messages[-1].role == "tool"
    assert observations(events)[-1]["type"] == "FINISH"


def test_arguments_outside_the_schema_are_refused() -> None:
    model = ScriptedModel(call("book_table", {"restaurant": "Luigi", "people": "many"}), text("Sorry."))
    events, ran = run(model)
    assert not ran
    assert observations(events)[0]["repromptResponse"]["source"] == "PARSER"


def test_a_loop_that_never_answers_ends_at_the_step_limit() -> None:
    cities = [f"City{n}" for n in range(MAX_STEPS + 1)]
    model = ScriptedModel(*[call("get_weather", {"city": city}) for city in cities])
    events, ran = run(model, question=f"What is the weather in {', '.join(cities)}?")
    assert len(ran) == MAX_STEPS
    assert ran[0]["parameters"] == [{"name": "city", "type": "string", "value": "City0"}]
    failures = [e for e in events if e[0] == "trace" and "failureTrace" in e[1]["trace"]]
    assert "10 orchestration steps" in failures[0][1]["trace"]["failureTrace"]["failureReason"]
    assert next(e for e in events if e[0] == "chunk")[1]["bytes"].startswith(b"Sorry")


def test_a_value_the_user_never_gave_makes_the_agent_ask() -> None:
    model = ScriptedModel(call("book_table", {"restaurant": "The Golden Palace", "people": 2}))
    events, ran = run(model, ask_user=True, question="Book a table for me.")
    assert not ran
    assert observations(events)[-1]["type"] == "ASK_USER"
    chunk = next(e[1]["bytes"].decode() for e in events if e[0] == "chunk")
    assert "restaurant" in chunk and "people" in chunk


def test_values_the_user_gave_in_other_words_run() -> None:
    model = ScriptedModel(call("book_table", {"restaurant": "Luigi's", "people": 2}), text("Booked."))
    events, ran = run(model, ask_user=True, question="Book Luigis for two people.")
    assert len(ran) == 1 and observations(events)[-1]["type"] == "FINISH"


def test_a_tool_called_by_reflex_gets_an_answer_instead() -> None:
    model = ScriptedModel(call("get_weather", {"city": "Rome"}), text("<tool_response>4</tool_response>"))
    events, ran = run(model, ask_user=True, question="What is 2 + 2?")
    assert not ran and not model.requests[-1].tools
    assert [o["type"] for o in observations(events)] == ["FINISH"]
    assert next(e for e in events if e[0] == "chunk")[1]["bytes"] == b"4"


def test_what_counts_as_given() -> None:
    assert given("Paris, France", "weather in Paris") and not given("Rome, Italy", "the capital of Italy?")
    assert given("kilometers", "10 miles to km") and given(2, "a table for two") and given("4", "for 4")
    assert not given("F", "I am flying to Tokyo") and not given(3, "for 2 people")
    assert not given("AMZN", "Get me a stock price.", ["ticker", "such", "as", "amzn"])


def test_the_same_call_after_its_result_gets_an_answer_instead() -> None:
    model = ScriptedModel(
        call("get_weather", {"city": "Paris"}),
        call("get_weather", {"city": "Paris"}),
        text("It is sunny in Paris."),
    )
    events, ran = run(model, question="What is the weather in Paris?")
    assert len(ran) == 1
    assert not model.requests[-1].tools and len(model.requests) == 3
    assert observations(events)[-1]["type"] == "FINISH"
    assert next(e for e in events if e[0] == "chunk")[1]["bytes"] == b"It is sunny in Paris."


def test_tools_offer_required_values_as_nullable() -> None:
    model = ScriptedModel(text("Hello."))
    run(model)
    weather = next(t for t in model.requests[0].tools if t.name == "get_weather")
    assert weather.parameters["properties"]["city"]["type"] == ["string", "null"]
    assert weather.parameters["required"] == ["city"]


def chunk_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(e[1]["bytes"].decode() for e in events if e[0] == "chunk")


def rationales(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [
        e[1]["trace"]["orchestrationTrace"]["rationale"]["text"]
        for e in events
        if e[0] == "trace" and "rationale" in e[1]["trace"].get("orchestrationTrace", {})
    ]


def test_a_value_the_model_padded_is_passed_as_the_user_wrote_it() -> None:
    model = ScriptedModel(call("get_weather", {"city": "Rome, Italy"}), text("It is sunny in Rome."))
    events, ran = run(model, question="How warm is it in Rome today?")
    assert ran[0]["parameters"] == [{"name": "city", "type": "string", "value": "Rome"}]
    assert any("'Rome'" in r and "'Rome, Italy'" in r for r in rationales(events))
    # what the user wrote stays as written
    model = ScriptedModel(call("get_weather", {"city": "Paris, France"}), text("Sunny."))
    _, ran = run(model, question="Weather in Paris, France?")
    assert ran[0]["parameters"][0]["value"] == "Paris, France"


def test_values_joined_into_one_become_one_call_each() -> None:
    model = ScriptedModel(call("get_weather", {"city": "Oslo,Lima"}), text("Sunny in both."))
    events, ran = run(model, question="Weather in Oslo and Lima?")
    assert [e["parameters"][0]["value"] for e in ran] == ["Oslo", "Lima"]
    assert any("one call for each" in r for r in rationales(events))


def test_a_call_described_in_words_is_asked_for_as_a_call() -> None:
    model = ScriptedModel(
        text("I will use the `get_weather` function for Oslo."),
        call("get_weather", {"city": "Oslo"}),
        text("It is sunny in Oslo."),
    )
    events, ran = run(model, question="Weather in Oslo?")
    assert model.requests[1].tool_choice == "any" and len(ran) == 1
    assert chunk_text(events) == "It is sunny in Oslo."
    # once called, naming the tool in the answer is just an answer
    assert model.requests[2].tool_choice is None


def test_an_answer_leaving_out_a_returned_number_is_asked_for_again() -> None:
    body = "Booked Luigi for 2 people, confirmation 4471"
    model = ScriptedModel(
        call("book_table", {"restaurant": "Luigi", "people": 2}),
        text("Your table at Luigi is booked for 2."),
        text("Booked Luigi for 2 people; confirmation 4471."),
    )
    events, ran = run(model, question="Book Luigi for 2 people.", body=body)
    assert len(ran) == 1
    final = model.requests[-1]
    assert len(model.requests) == 3 and not final.tools
    assert "Results:\n- book_table(" in final.messages[-1].content and body in final.messages[-1].content
    assert "4471" in chunk_text(events)
    # an answer holding the tools' numbers (or the user's) is kept as it is
    model = ScriptedModel(call("book_table", {"restaurant": "Luigi", "people": 2}), text("Done: 4471."))
    events, _ = run(model, question="Book Luigi for 2 people.", body=body)
    assert len(model.requests) == 2 and chunk_text(events) == "Done: 4471."


def test_a_made_up_tool_result_is_asked_for_as_a_call_and_only_its_first_call_runs() -> None:
    model = ScriptedModel(
        call("get_weather", {"city": "Paris"}),
        text("<tool_response>\n18 degrees in Rome\n</tool_response>"),
        GenerationResult(
            "",
            "tool_use",
            10,
            5,
            tool_calls=[
                ToolCall("c2", "get_weather", {"city": "Rome"}),
                ToolCall("c3", "get_weather", {"city": "Oslo"}),
            ],
        ),
        text("Sunny in Paris and Rome."),
    )
    events, ran = run(model, question="Weather in Paris and in Rome?")
    assert model.requests[2].tool_choice == "any"
    assert [e["parameters"][0]["value"] for e in ran] == ["Paris", "Rome"]
    assert chunk_text(events) == "Sunny in Paris and Rome."


def test_the_same_call_twice_in_one_reply_runs_once() -> None:
    twice = [ToolCall("c1", "get_weather", {"city": "Oslo"}), ToolCall("c2", "get_weather", {"city": "Oslo"})]
    model = ScriptedModel(GenerationResult("", "tool_use", 10, 5, tool_calls=twice), text("Sunny."))
    _, ran = run(model, question="Weather in Oslo?")
    assert len(ran) == 1


def test_a_guessed_number_is_asked_for_as_a_call_whose_values_were_given() -> None:
    model = ScriptedModel(
        text("It is 30 degrees in Oslo."),
        call("get_weather", {"city": "Oslo"}),
        text("It is sunny in Oslo."),
    )
    events, ran = run(model, question="Weather in Oslo?")
    assert model.requests[1].tool_choice == "any" and len(ran) == 1
    assert chunk_text(events) == "It is sunny in Oslo."


def test_a_forced_call_with_values_nobody_gave_leaves_the_answer_as_it_was() -> None:
    model = ScriptedModel(text("4"), call("get_weather", {"city": "Rome"}))
    events, ran = run(model, ask_user=True, question="What is 2 + 2?")
    assert model.requests[1].tool_choice == "any" and not ran and len(model.requests) == 2
    assert chunk_text(events) == "4" and observations(events)[-1]["type"] == "FINISH"


def test_results_an_answer_still_leaves_out_are_quoted_after_it() -> None:
    body = "Booked Luigi for 2 people, confirmation 4471"
    model = ScriptedModel(call("book_table", {"restaurant": "Luigi", "people": 2}), text("Booked."))
    events, _ = run(model, question="Book Luigi for 2 people.", body=body)
    assert len(model.requests) == 3
    assert chunk_text(events) == f"Booked.\n\n{body}"


def test_a_number_of_the_request_no_call_was_given_asks_for_the_part_left_undone() -> None:
    model = ScriptedModel(
        call("get_weather", {"city": "Oslo"}),
        text("It is sunny in Oslo."),
        call("get_weather", {"city": "Lima"}),
        text("Sunny in Oslo and in Lima."),
    )
    events, ran = run(model, question="Weather in Oslo, and in Lima for 3 days?")
    assert model.requests[2].tool_choice == "any"
    assert [e["parameters"][0]["value"] for e in ran] == ["Oslo", "Lima"]
    assert chunk_text(events) == "Sunny in Oslo and in Lima."


def test_a_result_of_a_tool_the_request_is_not_about_is_not_quoted() -> None:
    model = ScriptedModel(call("get_weather", {"city": "Rome"}), text("Rome is the capital of Italy."))
    events, ran = run(model, question="Is Rome the capital of Italy?", body="15 degrees in Rome")
    assert len(ran) == 1 and len(model.requests) == 3
    assert chunk_text(events) == "Rome is the capital of Italy."
