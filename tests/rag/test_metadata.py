from __future__ import annotations

import json

import pytest

from outcrop.rag import (
    DocumentError,
    InvalidMetadata,
    document_key_for,
    is_metadata_key,
    metadata_key_for,
    parse_metadata,
)


def sidecar(attributes: object) -> bytes:
    return json.dumps({"metadataAttributes": attributes}).encode()


def test_plain_and_typed_attributes_become_python_values() -> None:
    metadata = parse_metadata(
        sidecar(
            {
                "genre": "geology",
                "year": 2024,
                "rating": 4.5,
                "public": True,
                "tags": ["rocks", "ice"],
                "company": {
                    "value": {"type": "STRING", "stringValue": "Outcrop"},
                    "includeForEmbedding": True,
                },
                "pages": {"value": {"type": "NUMBER", "numberValue": 36}, "includeForEmbedding": True},
                "draft": {"value": {"type": "BOOLEAN", "booleanValue": False}},
                "authors": {
                    "value": {"type": "STRING_LIST", "stringListValue": ["Ada", "Grace"]},
                    "includeForEmbedding": False,
                },
            }
        )
    )
    assert metadata.attributes == {
        "genre": "geology",
        "year": 2024.0,
        "rating": 4.5,
        "public": True,
        "tags": ["rocks", "ice"],
        "company": "Outcrop",
        "pages": 36.0,
        "draft": False,
        "authors": ["Ada", "Grace"],
    }
    assert isinstance(metadata.attributes["year"], float)
    assert metadata.embedded == ("company", "pages")
    assert metadata.embedding_text() == "company: Outcrop\npages: 36"


def test_a_parsed_mapping_is_accepted_too() -> None:
    assert parse_metadata({"metadataAttributes": {}}).attributes == {}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "metadataAttributes"),
        (json.dumps({"attributes": {}}).encode(), "metadataAttributes"),
        (sidecar({"nested": {"a": 1}}), "unknown field"),
        (sidecar({"k": {"includeForEmbedding": True}}), "expected"),
        (sidecar({"when": None}), "string, number, boolean"),
        (sidecar({"mixed": ["a", 1]}), "string, number, boolean"),
        (sidecar({"k": {"value": {"type": "DATE", "stringValue": "x"}}}), "type must be one of"),
        (sidecar({"k": {"value": {"type": "NUMBER", "stringValue": "3"}}}), "needs numberValue"),
        (sidecar({"k": {"value": {"type": "NUMBER", "numberValue": "3"}}}), "does not match type NUMBER"),
        (sidecar({"k": {"value": {"type": "BOOLEAN", "booleanValue": 1}}}), "does not match"),
        (
            sidecar({"k": {"value": {"type": "STRING", "stringValue": "a"}, "includeForEmbedding": "yes"}}),
            "true or false",
        ),
        (sidecar({"k": {"value": {"type": "STRING", "stringValue": "a"}, "extra": 1}}), "unknown field"),
        (sidecar({"x-amz-bedrock-kb-source-uri": "s3://b/k"}), "reserved"),
        (sidecar({"": "empty key"}), "1 to 200"),
        (b'{"metadataAttributes": {"n": NaN}}', "finite"),
        (sidecar({"big": "x" * 11_000}), "limit"),
    ],
)
def test_invalid_sidecars_fail_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidMetadata, match=reason) as caught:
        parse_metadata(data)
    assert isinstance(caught.value, DocumentError)


def test_sidecar_keys_belong_to_their_documents() -> None:
    assert is_metadata_key("docs/x.pdf.metadata.json")
    assert is_metadata_key("X.PDF.METADATA.JSON")
    assert not is_metadata_key("docs/x.pdf")
    assert not is_metadata_key("docs/.metadata.json")
    assert metadata_key_for("docs/x.pdf") == "docs/x.pdf.metadata.json"
    assert document_key_for("docs/x.pdf.metadata.json") == "docs/x.pdf"
    assert document_key_for("docs/x.pdf") is None
