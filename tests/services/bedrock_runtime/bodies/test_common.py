from __future__ import annotations

import pytest

from outcrop.backends.base import ChatMessage
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.common import Fields, max_tokens
from outcrop.services.bedrock_runtime.bodies.messages import prompt_messages

from .support import model


def error(action: object) -> str:
    assert callable(action)
    with pytest.raises(ValidationException) as caught:
        action()
    return caught.value.message


def test_missing_keys_are_worded_as_bedrock_words_them() -> None:
    assert error(lambda: Fields({}).string("prompt", required=True)) == (
        "Malformed input request: #: required key [prompt] not found, "
        "please reformat your input and try again."
    )
    assert "#: 2 schema violations found" in error(lambda: Fields({}).require("a", "b"))


def test_wrong_types_name_the_path_and_both_types() -> None:
    fields = Fields({"config": {"temperature": "hot", "n": True, "stop": ["a", 1]}})
    config = fields.object("config")
    assert config is not None
    assert "#/config/temperature: expected type: Number, found: String" in error(
        lambda: config.number("temperature")
    )
    assert "#/config/n: expected type: Integer, found: Boolean" in error(lambda: config.integer("n"))
    assert "#/config/stop/1: expected type: String, found: Integer" in error(lambda: config.strings("stop"))
    assert "#: expected type: JSONObject, found: JSONArray" in error(lambda: Fields([]))


def test_extraneous_keys_are_refused_where_the_schema_is_fixed() -> None:
    assert "#: extraneous key [max_tokens] is not permitted" in error(
        lambda: Fields({"max_tokens": 5}).only(["a"])
    )


def test_max_tokens_defaults_caps_and_limits() -> None:
    entry = model("llama", max_tokens=2048)
    assert max_tokens(Fields({}), "max_gen_len", default=512, model=entry) == 512
    assert max_tokens(Fields({}), "max_gen_len", default=8192, model=entry) == 2048
    assert max_tokens(Fields({"max_gen_len": 100}), "max_gen_len", default=512, model=entry) == 100
    message = error(
        lambda: max_tokens(Fields({"max_gen_len": 8192}), "max_gen_len", default=512, model=entry)
    )
    assert message == (
        "Malformed input request: #/max_gen_len: 8192 is not less or equal to 2048, "
        "please reformat your input and try again."
    )
    assert "is not greater or equal to 1" in error(
        lambda: max_tokens(Fields({"max_gen_len": 0}), "max_gen_len", default=512, model=entry)
    )


def test_a_plain_prompt_is_one_user_turn() -> None:
    assert prompt_messages("  What is the capital of France?\n") == [
        ChatMessage("user", "What is the capital of France?")
    ]


def test_llama3_markup_becomes_turns_without_the_answer_cue() -> None:
    prompt = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert prompt_messages(prompt) == [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello!"),
        ChatMessage("user", "Name a colour."),
    ]


def test_inst_markup_with_llama2_system_block() -> None:
    prompt = (
        "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhat is 2+2? [/INST] 4 </s><s>[INST] And 3+3? [/INST]"
    )
    assert prompt_messages(prompt) == [
        ChatMessage("system", "You are terse."),
        ChatMessage("user", "What is 2+2?"),
        ChatMessage("assistant", "4"),
        ChatMessage("user", "And 3+3?"),
    ]


def test_titan_and_claude_transcripts() -> None:
    assert prompt_messages("User: Tell me a joke\nBot:") == [ChatMessage("user", "Tell me a joke")]
    assert prompt_messages("\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Bye\n\nAssistant:") == [
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "Bye"),
    ]
    assert prompt_messages("Answer in French.\n\nUser: Hello\nBot:") == [
        ChatMessage("system", "Answer in French."),
        ChatMessage("user", "Hello"),
    ]


def test_an_instruction_then_the_cue_stays_a_user_turn() -> None:
    assert prompt_messages("Write a haiku about rain.\nBot:") == [
        ChatMessage("user", "Write a haiku about rain.")
    ]


def test_labels_inside_ordinary_text_are_not_a_transcript() -> None:
    prompt = "Summarise this chat:\nUser: hi\nBot: hello there"
    assert prompt_messages(prompt) == [ChatMessage("user", prompt)]


def test_chatml_markup() -> None:
    prompt = "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert prompt_messages(prompt) == [ChatMessage("system", "Be kind."), ChatMessage("user", "Hi")]


def test_markup_with_no_user_text_still_gives_a_user_turn() -> None:
    assert prompt_messages("<s>[INST][/INST]") == [ChatMessage("user", "")]
