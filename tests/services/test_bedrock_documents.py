"""Documents and images in Converse and the native bodies, through boto3 against the fake models (which echo
the last user turn, so what a document was read into is visible in the reply), and one real-model answer."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.backends.openai_server import _FakeOpenAIServer, fake_openai_server
from tests.rag.documents import ARTICLE_HTML, make_docx, make_pdf, make_xlsx
from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN = "amazon.titan-text-express-v1"
NOVA = "amazon.nova-lite-v1:0"
KETTLE = [
    [
        "The Zephyr X2 is an electric kettle made by Brightwater Appliances.",
        "It holds 1.7 litres of water and boils a full load in 90 seconds.",
        "The Zephyr X2 costs 49 dollars and comes with a two-year warranty.",
    ]
]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def document(name: str, data: bytes, fmt: str = "pdf", **extra: Any) -> dict[str, Any]:
    return {"document": {"format": fmt, "name": name, "source": {"bytes": data}, **extra}}


def ask(*blocks: dict[str, Any], question: str = "What does it say?") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": question}, *blocks]}]


def reply(response: dict[str, Any]) -> str:
    return str(response["output"]["message"]["content"][0]["text"])


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error.value.response["Error"]["Message"])


# -- documents through Converse ------------------------------------------------------------------------------


def test_a_pdf_is_read_into_the_prompt_under_its_name(client: Callable[..., Any]) -> None:
    response = client("bedrock-runtime").converse(
        modelId=HAIKU, messages=ask(document("Zephyr X2 manual", make_pdf(KETTLE)))
    )
    text = reply(response)
    assert '<document name="Zephyr X2 manual">' in text
    assert "It holds 1.7 litres of water and boils a full load in 90 seconds." in text
    assert text.endswith("What does it say?")  # the question follows the document


@pytest.mark.parametrize(
    ("fmt", "data", "expected"),
    [
        ("docx", make_docx(), "Revenue grew by twelve percent in the third quarter."),
        ("xlsx", make_xlsx(), "Product: Zephyr X2; Price: 49; Stock: 120"),
        ("html", ARTICLE_HTML, "Caring for indoor cats"),
        ("csv", b"city,population\nOslo,709000\n", "city: Oslo; population: 709000"),
        ("md", b"# Notes\n\nThe **launch** is on Friday.", "The launch is on Friday."),
        ("txt", b"Plain words here.", "Plain words here."),
    ],
)
def test_each_readable_format_reaches_the_model(
    client: Callable[..., Any], fmt: str, data: bytes, expected: str
) -> None:
    response = client("bedrock-runtime").converse(modelId=HAIKU, messages=ask(document("notes", data, fmt)))
    assert expected in reply(response)


def test_text_and_content_sources_and_a_stream(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    sources = [
        {"format": "txt", "name": "a", "source": {"text": "Alpha text."}},
        {"name": "b", "source": {"content": [{"text": "Beta part one."}, {"text": "Beta part two."}]}},
    ]
    messages = ask(*({"document": source} for source in sources))
    text = reply(runtime.converse(modelId=NOVA, messages=messages))
    assert "Alpha text." in text and "Beta part one.\n\nBeta part two." in text
    streamed = runtime.converse_stream(modelId=HAIKU, messages=ask(document("kettle", make_pdf(KETTLE))))
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in streamed["stream"] if "contentBlockDelta" in e]
    assert "costs 49 dollars" in "".join(deltas)


def test_documents_are_read_from_s3(client: Callable[..., Any]) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="converse-documents")
    s3.put_object(Bucket="converse-documents", Key="manuals/kettle.pdf", Body=make_pdf(KETTLE))
    located = {
        "document": {
            "format": "pdf",
            "name": "kettle",
            "source": {"s3Location": {"uri": "s3://converse-documents/manuals/kettle.pdf"}},
        }
    }
    runtime = client("bedrock-runtime")
    assert "two-year warranty" in reply(runtime.converse(modelId=HAIKU, messages=ask(located)))
    located["document"]["source"]["s3Location"]["uri"] = "s3://converse-documents/missing.pdf"
    message = refused(lambda: runtime.converse(modelId=HAIKU, messages=ask(located)))
    assert "NoSuchKey" in message


# -- Bedrock's limits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["report.pdf", "two  spaces", "John's report", "résumé", "tab\there"])
def test_document_names_follow_bedrocks_pattern(client: Callable[..., Any], name: str) -> None:
    runtime = client("bedrock-runtime")
    message = refused(lambda: runtime.converse(modelId=HAIKU, messages=ask(document(name, b"x", "txt"))))
    assert message.startswith("The document file name can only contain alphanumeric characters")


def test_names_bedrock_accepts(client: Callable[..., Any]) -> None:
    blocks = [document(name, b"x", "txt") for name in ("Report (final) [v2]", "my_notes - 2024", " padded ")]
    client("bedrock-runtime").converse(modelId=HAIKU, messages=ask(*blocks))


def test_count_duplicates_size_and_placement_limits(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")

    def converse(messages: list[dict[str, Any]]) -> Callable[[], Any]:
        return lambda: runtime.converse(modelId=HAIKU, messages=messages)

    six = [document(f"doc {n}", b"words", "txt") for n in range(6)]
    assert refused(converse(ask(*six))) == "You can't include more than 5 documents in a request."
    twice = [document("same", b"a", "txt"), document("same", b"b", "txt")]
    assert refused(converse(ask(*twice))).startswith("Messages can't contain duplicate document names.")
    big = document("big", b"a" * (4_718_592 + 1), "txt")
    assert "exceeds the limit of 4.5 MB" in refused(converse(ask(big)))
    alone = [{"role": "user", "content": [document("alone", b"text", "txt")]}]
    assert "must also include a text content block" in refused(converse(alone))
    in_reply = [
        {"role": "user", "content": [{"text": "hi"}]},
        {"role": "assistant", "content": [{"text": "see"}, document("mine", b"x", "txt")]},
        {"role": "user", "content": [{"text": "ok"}]},
    ]
    assert "role is user" in refused(converse(in_reply))


def test_unreadable_documents_are_refused(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")

    def converse(*blocks: dict[str, Any]) -> Callable[[], Any]:
        return lambda: runtime.converse(modelId=HAIKU, messages=ask(*blocks))

    assert "legacy Excel .xls" in refused(converse(document("sheet", b"\xd0\xcf\x11\xe0", "xls")))
    assert "legacy Word .doc" in refused(converse(document("old", b"\xd0\xcf\x11\xe0", "doc")))
    assert "could not be read" in refused(converse(document("broken", b"not a pdf at all", "pdf")))


def test_citations_attribute_the_answer_to_document_passages(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    notes = "Oslo is the capital of Norway.\n\nBergen is known for rain."
    blocks = [
        document("kettle", make_pdf(KETTLE), citations={"enabled": True}),
        document("notes", notes.encode(), "txt", citations={"enabled": True}),
    ]
    content = runtime.converse(modelId=HAIKU, messages=ask(*blocks))["output"]["message"]["content"]
    answer = "".join(
        b["text"] if "text" in b else b["citationsContent"]["content"][0]["text"] for b in content
    )
    assert answer.startswith("You said: <document") and answer.endswith("What does it say?")
    citations = [c for b in content if "citationsContent" in b for c in b["citationsContent"]["citations"]]
    by_title = {c["title"]: c for c in citations}
    assert by_title["kettle"]["location"] == {"documentPage": {"documentIndex": 0, "start": 1, "end": 1}}
    assert "costs 49 dollars" in by_title["kettle"]["sourceContent"][0]["text"]
    rain = next(c for c in citations if "rain" in c["sourceContent"][0]["text"])
    span = rain["location"]["documentChar"]
    assert span["documentIndex"] == 1 and notes[span["start"] : span["end"]] == "Bergen is known for rain."
    streamed = runtime.converse_stream(modelId=HAIKU, messages=ask(*blocks))["stream"]
    deltas = [e["contentBlockDelta"]["delta"] for e in streamed if "contentBlockDelta" in e]
    assert {d["citation"]["title"] for d in deltas if "citation" in d} == {"kettle", "notes"}


# -- native bodies -------------------------------------------------------------------------------------------


def anthropic_image_body() -> dict[str, Any]:
    source = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    content = [{"type": "image", "source": source}, {"type": "text", "text": "?"}]
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": content}],
    }


def invoke(client: Callable[..., Any], model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client("bedrock-runtime").invoke_model(modelId=model_id, body=json.dumps(body))
    result: dict[str, Any] = json.loads(response["body"].read())
    return result


def test_anthropic_body_documents(client: Callable[..., Any]) -> None:
    pdf = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(make_pdf(KETTLE)),
        },
        "title": "Zephyr X2 manual",
    }
    pdf["source"]["data"] = pdf["source"]["data"].decode()  # type: ignore[index]
    plain = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "Plain fact."},
    }
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 4000,
        "messages": [{"role": "user", "content": [pdf, plain, {"type": "text", "text": "Summarise."}]}],
    }
    text = invoke(client, HAIKU, body)["content"][0]["text"]
    assert '<document name="Zephyr X2 manual">' in text and "boils a full load in 90 seconds" in text
    assert '<document name="document 2">\nPlain fact.' in text


def test_nova_body_documents(client: Callable[..., Any]) -> None:
    block = {"document": {"format": "pdf", "name": "kettle", "source": {"bytes": ""}}}
    block["document"]["source"]["bytes"] = base64.b64encode(make_pdf(KETTLE)).decode()  # type: ignore[index]
    body = {"messages": [{"role": "user", "content": [block, {"text": "Price?"}]}]}
    text = invoke(client, NOVA, body)["output"]["message"]["content"][0]["text"]
    assert "The Zephyr X2 costs 49 dollars" in text


# -- images --------------------------------------------------------------------------------------------------


def test_images_are_refused_by_models_that_cannot_see(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-runtime")
    image = {"image": {"format": "png", "source": {"bytes": PNG}}}
    message = refused(lambda: runtime.converse(modelId=HAIKU, messages=ask(image)))
    assert "reads text only and does not accept image input" in message and HAIKU in message
    message = refused(lambda: runtime.converse(modelId=TITAN, messages=ask(image)))
    assert message.startswith(f"The model {TITAN} doesn't support image input.")
    source = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [
            {"role": "user", "content": [{"type": "image", "source": source}, {"type": "text", "text": "?"}]}
        ],
    }
    message = refused(lambda: runtime.invoke_model(modelId=HAIKU, body=json.dumps(body)))
    assert "does not accept image input" in message
    nova_image = {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}}
    nova = {"messages": [{"role": "user", "content": [nova_image, {"text": "?"}]}]}
    message = refused(lambda: runtime.invoke_model(modelId=NOVA, body=json.dumps(nova)))
    assert "does not accept image input" in message and NOVA in message


@pytest.fixture(scope="module")
def vision(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, _FakeOpenAIServer]]:
    """A server whose Claude id is a vision model behind an OpenAI-compatible server (the test one)."""
    root = tmp_path_factory.mktemp("vision")
    with fake_openai_server() as remote:
        catalog = root / "catalog.toml"
        catalog.write_text(
            f"""
[local.remote-vision]
runtime = "openai"
kind = "chat"
base_url = "{remote.base_url}"
remote_model = "some-vlm"

[[bedrock]]
id = "{HAIKU}"
format = "anthropic"
local = "remote-vision"
input_modalities = ["TEXT", "IMAGE"]
"""
        )
        server = RunningServer(
            Path(root / "data"), fake_models=False, extra_env={"OUTCROP_CATALOG": str(catalog)}
        )
        server.start()
        try:
            yield server, remote
        finally:
            server.stop()


def test_images_reach_a_remote_vision_model(vision: tuple[RunningServer, _FakeOpenAIServer]) -> None:
    server, remote = vision
    runtime = server.client("bedrock-runtime")
    image = {"image": {"format": "png", "source": {"bytes": PNG}}}
    response = runtime.converse(modelId=HAIKU, messages=ask(image, question="What is in the picture?"))
    assert reply(response) == "You said: What is in the picture?"
    content = remote.requests[-1]["body"]["messages"][-1]["content"]
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert content == [
        {"type": "text", "text": "What is in the picture?"},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]
    source = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [
            {"role": "user", "content": [{"type": "image", "source": source}, {"type": "text", "text": "?"}]}
        ],
    }
    runtime.invoke_model(modelId=HAIKU, body=json.dumps(body))
    parts = remote.requests[-1]["body"]["messages"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": data_url}} in parts


# -- a real model --------------------------------------------------------------------------------------------


@pytest.mark.real
def test_the_real_model_answers_from_a_pdf(real_server: RunningServer) -> None:
    """AWS's document_understanding example, shaped as it is: a question first, then a PDF about a product."""
    response = real_server.client("bedrock-runtime").converse(
        modelId=HAIKU,
        messages=ask(
            document("Zephyr X2 product sheet", make_pdf(KETTLE)),
            question="How much does the Zephyr X2 cost?",
        ),
        inferenceConfig={"maxTokens": 40, "temperature": 0.0},
    )
    assert "49" in reply(response)


HARBOUR = (
    "The harbour town keeps a weekly market on the square, where fishermen sell the morning catch, bakers "
    "bring rye bread, and children chase the gulls between the stalls until the church bell rings noon."
)


@pytest.mark.real
def test_a_document_longer_than_a_slot_is_read_whole(real_server: RunningServer) -> None:
    """A PDF of ~4,600 tokens, past the 4,096 a sequence has beside others: it runs alone on the KV cells
    the other slots leave, and answers within boto3's default 60 s read timeout however long it takes."""
    pages = KETTLE + [[HARBOUR] * 12] * 9
    # boto3's own read timeout (60 s), and no retry to hide behind
    client = real_server.client("bedrock-runtime", read_timeout=60, retries={"total_max_attempts": 1})
    response = client.converse(
        modelId=HAIKU,
        messages=ask(
            document("Zephyr X2 and the harbour", make_pdf(pages)),
            question="How much does the Zephyr X2 cost?",
        ),
        inferenceConfig={"maxTokens": 40, "temperature": 0.0},
    )
    assert response["usage"]["inputTokens"] > 4096
    assert "49" in reply(response)
