"""Today's Bedrock model ids through boto3: each family's native body, the control plane's view of them
(inference types, modalities, lifecycle), and generation ids refused plainly (fake models)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from outcrop.catalog import BUNDLED, CatalogError, load_catalog
from outcrop.services.bedrock_runtime.bodies.registry import BODY_FORMATS


def invoke(client: Callable[..., Any], model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client("bedrock-runtime").invoke_model(modelId=model_id, body=json.dumps(body))
    return dict(json.loads(response["body"].read()))


def converse(client: Callable[..., Any], model_id: str, text: str) -> str:
    output = client("bedrock-runtime").converse(
        modelId=model_id, messages=[{"role": "user", "content": [{"text": text}]}]
    )
    return str(output["output"]["message"]["content"][0]["text"])


@pytest.mark.parametrize(
    "model_id",
    [  # the ids the issue found "invalid", and more of today's
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.meta.llama3-2-3b-instruct-v1:0",
        "deepseek.r1-v1:0",
        "amazon.nova-2-lite-v1:0",
        "openai.gpt-oss-20b-1:0",
        "global.anthropic.claude-haiku-4-5-20251001-v1:0",
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "eu.anthropic.claude-opus-4-5-20251101-v1:0",
        "us.meta.llama4-maverick-17b-instruct-v1:0",
        "us.amazon.nova-premier-v1:0",
        "qwen.qwen3-235b-a22b-2507-v1:0",
        "mistral.pixtral-large-2502-v1:0",
        "writer.palmyra-x5-v1:0",
        "google.gemma-3-27b-it",
    ],
)
def test_current_ids_answer_converse(client: Callable[..., Any], model_id: str) -> None:
    assert converse(client, model_id, "hello") == "You said: hello"


def test_native_bodies_of_the_new_families(client: Callable[..., Any]) -> None:
    gpt = invoke(
        client,
        "openai.gpt-oss-120b-1:0",
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]},
    )
    assert gpt["object"] == "chat.completion" and gpt["model"] == "openai.gpt-oss-120b-1:0"
    assert gpt["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "You said: hi"},
        "finish_reason": "stop",
    }
    assert gpt["usage"]["total_tokens"] == gpt["usage"]["prompt_tokens"] + gpt["usage"]["completion_tokens"]
    r1 = invoke(client, "us.deepseek.r1-v1:0", {"prompt": "why", "max_tokens": 3})
    assert r1 == {"choices": [{"text": "You said: why", "stop_reason": "stop"}]}
    writer = invoke(client, "us.writer.palmyra-x4-v1:0", {"prompt": "hey"})
    assert writer == {"choices": [{"text": "You said: hey", "finish_reason": "stop"}]}


@pytest.mark.parametrize(
    ("model_id", "body", "length"),
    [
        (
            "cohere.embed-v4:0",
            {"texts": ["a b"], "input_type": "search_document", "output_dimension": 256},
            256,
        ),
        (
            "amazon.titan-embed-image-v1",
            {"inputText": "a b", "embeddingConfig": {"outputEmbeddingLength": 384}},
            384,
        ),
        (
            "amazon.nova-2-multimodal-embeddings-v1:0",
            {
                "taskType": "SINGLE_EMBEDDING",
                "singleEmbeddingParams": {
                    "embeddingPurpose": "GENERIC_INDEX",
                    "embeddingDimension": 1024,
                    "text": {"truncationMode": "END", "value": "a b"},
                },
            },
            1024,
        ),
    ],
)
def test_new_embedding_ids(
    client: Callable[..., Any], model_id: str, body: dict[str, Any], length: int
) -> None:
    output = invoke(client, model_id, body)
    vector = (
        output["embeddings"]["float"][0]
        if model_id.startswith("cohere")
        else output["embeddings"][0]["embedding"]
        if "nova" in model_id
        else output["embedding"]
    )
    assert len(vector) == length


@pytest.mark.parametrize(
    "model_id",
    ["amazon.nova-canvas-v1:0", "stability.stable-image-core-v1:1", "amazon.titan-image-generator-v2:0"],
)
def test_image_generation_ids_say_what_is_missing(client: Callable[..., Any], model_id: str) -> None:
    with pytest.raises(ClientError) as caught:
        invoke(client, model_id, {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a cat"}})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "image generation is not served locally" in str(caught.value)


def test_video_generation_id_says_what_is_missing(client: Callable[..., Any]) -> None:
    with pytest.raises(ClientError) as caught:
        converse(client, "amazon.nova-reel-v1:1", "a short film")
    assert "video generation is not served locally" in str(caught.value)


def test_unknown_ids_and_missing_profiles_stay_invalid(client: Callable[..., Any]) -> None:
    for model_id in ("anthropic.claude-nothing-v9:0", "eu.deepseek.r1-v1:0", "apac.openai.gpt-oss-20b-1:0"):
        with pytest.raises(ClientError) as caught:
            converse(client, model_id, "hi")
        assert "The provided model identifier is invalid." in str(caught.value)


def test_foundation_models_report_inference_types_as_aws_does(client: Callable[..., Any]) -> None:
    bedrock = client("bedrock")
    sonnet = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-sonnet-4-5-20250929-v1:0")
    details = sonnet["modelDetails"]
    assert details["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert details["inputModalities"] == ["TEXT", "IMAGE"] and details["responseStreamingSupported"] is True
    haiku = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-3-haiku-20240307-v1:0")
    assert haiku["modelDetails"]["inferenceTypesSupported"] == ["ON_DEMAND"]
    on_demand = {
        m["modelId"] for m in bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    }
    assert "anthropic.claude-3-haiku-20240307-v1:0" in on_demand
    assert "anthropic.claude-sonnet-4-5-20250929-v1:0" not in on_demand
    images = bedrock.list_foundation_models(byOutputModality="IMAGE")["modelSummaries"]
    canvas = next(m for m in images if m["modelId"] == "amazon.nova-canvas-v1:0")
    assert "not served locally" in canvas["modelName"] and canvas["responseStreamingSupported"] is False
    assert bedrock.get_foundation_model(modelIdentifier="amazon.nova-reel-v1:1")["modelDetails"][
        "outputModalities"
    ] == ["VIDEO"]
    openai = bedrock.list_foundation_models(byProvider="OpenAI")["modelSummaries"]
    assert {"openai.gpt-oss-20b-1:0", "openai.gpt-oss-120b-1:0"} <= {m["modelId"] for m in openai}
    legacy = bedrock.get_foundation_model(modelIdentifier="anthropic.claude-v2:1")["modelDetails"]
    assert legacy["modelLifecycle"]["status"] == "LEGACY"


def test_bundled_catalog_is_consistent() -> None:
    catalog = load_catalog(BUNDLED, BODY_FORMATS)
    assert len(catalog.bedrock) >= 90 and len(catalog.unserved) >= 20
    for model in catalog.bedrock.values():
        assert model.profiles is not None, model.model_id  # every bundled entry says which geos it has
        assert model.local in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b") or model.kind == "embedding"
        if not model.on_demand:
            assert model.profiles, f"{model.model_id} is served only through profiles, yet has none"
    assert {kind for kind in (m.kind for m in catalog.unserved.values())} == {"image", "video"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('id = "x.image-v1"\noutput_modalities = ["TEXT"]', "only image or video generation ids"),
        ('id = "x.m-v1"\nformat = "anthropic"\nlocal = "m"\nprofiles = ["mars"]', "profile geos ['mars']"),
        ('id = "x.m-v1"\nformat = "anthropic"\nlocal = "m"\n[[bedrock]]\nid = "x.m-v1"\nlocal = "m"', "two"),
    ],
)
def test_catalog_errors_name_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(f'[local.m]\nruntime = "fake"\nkind = "chat"\n[[bedrock]]\n{entry}\n')
    with pytest.raises(CatalogError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_catalog(path, BODY_FORMATS)
