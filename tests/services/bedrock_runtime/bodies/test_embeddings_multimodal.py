"""Cohere Embed v4, Titan Multimodal Embeddings G1 and Nova Multimodal Embeddings bodies, for text; their
image, audio and video inputs are refused plainly (the local embedding models read text only)."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.embeddings import (
    CohereEmbedV4Format,
    NovaEmbedFormat,
    TitanEmbedImageFormat,
)

from .support import model, wire

V4, TITAN, NOVA = CohereEmbedV4Format(), TitanEmbedImageFormat(), NovaEmbedFormat()
V4_MODEL = model("cohere-embed-v4", "cohere.embed-v4:0", dimensions=1536)
TITAN_MODEL = model("titan-embed-image", "amazon.titan-embed-image-v1", dimensions=1024)
NOVA_MODEL = model("nova-embed", "amazon.nova-2-multimodal-embeddings-v1:0", dimensions=3072)


def nova_body(**params: Any) -> dict[str, Any]:
    single = {"embeddingPurpose": "GENERIC_INDEX", "text": {"truncationMode": "END", "value": "hi"}, **params}
    return {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": single}


def test_cohere_v4_dimensions_and_by_type_response() -> None:
    request = V4.parse({"texts": ["a", "b"], "input_type": "search_query"}, V4_MODEL)
    assert request.dimensions == 1536
    assert (
        V4.parse({"texts": ["a"], "input_type": "search_query", "output_dimension": 512}, V4_MODEL).dimensions
        == 512
    )
    output = wire(V4.response([[0.5] * 4, [-0.5] * 4], [1, 1], request))
    assert output["response_type"] == "embeddings_by_type" and len(output["embeddings"]["float"]) == 2
    with pytest.raises(ValidationException, match="output_dimension: 300 is not a valid enum"):
        V4.parse({"texts": ["a"], "input_type": "search_query", "output_dimension": 300}, V4_MODEL)


def test_titan_multimodal_text_and_refused_image() -> None:
    request = TITAN.parse(
        {"inputText": "hello", "embeddingConfig": {"outputEmbeddingLength": 256}}, TITAN_MODEL
    )
    assert (list(request.texts), request.dimensions) == (["hello"], 256)
    assert TITAN.parse({"inputText": "hello"}, TITAN_MODEL).dimensions == 1024
    output = wire(TITAN.response([[0.1] * 256], [1], request))
    assert len(output["embedding"]) == 256 and output["inputTextTokenCount"] == 1
    with pytest.raises(ValidationException, match="Image embeddings are not supported here"):
        TITAN.parse({"inputImage": "aGk="}, TITAN_MODEL)


def test_nova_text_embedding() -> None:
    request = NOVA.parse(nova_body(embeddingDimension=384), NOVA_MODEL)
    assert (list(request.texts), request.dimensions) == (["hi"], 384)
    assert NOVA.parse(nova_body(), NOVA_MODEL).dimensions == 3072
    output = wire(NOVA.response([[0.2] * 384], [1], request))
    assert (
        output["embeddings"][0]["embeddingType"] == "TEXT"
        and len(output["embeddings"][0]["embedding"]) == 384
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            nova_body(image={"format": "png", "source": {"bytes": "aGk="}}),
            "Image embeddings are not supported",
        ),
        ({**nova_body(), "taskType": "SEGMENTED_EMBEDDING"}, "StartAsyncInvoke"),
        (nova_body(embeddingPurpose="ANYTHING"), "ANYTHING is not a valid enum value"),
        (nova_body(text={"truncationMode": "END", "value": ""}), "expected minLength: 1"),
    ],
)
def test_nova_refusals(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        NOVA.parse(body, NOVA_MODEL)
    assert message in caught.value.message
