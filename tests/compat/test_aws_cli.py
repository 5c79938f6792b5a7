"""The AWS CLI (v1, as pinned in the dev extra), unmodified, against a running server with fake models.

CLI v1 sends a blob argument such as `--body '{...}'` as raw bytes and has no `--cli-binary-format` option
(that is v2's); v1 also hides streaming operations such as `converse-stream`. Service errors exit 255
(v2 uses 254) with the error code and message on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.server import RunningServer

AWS = str(Path(sys.executable).with_name("aws"))
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
HI = json.dumps([{"role": "user", "content": [{"text": "hi"}]}])


def aws(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `aws --endpoint-url <server> ...` with explicit credentials and no user config."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIAOUTCROPCLI",
        AWS_SECRET_ACCESS_KEY="cli-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return subprocess.run(
        [AWS, "--endpoint-url", server.endpoint, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def aws_json(server: RunningServer, *args: str) -> Any:
    done = aws(server, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_converse(server: RunningServer) -> None:
    response = aws_json(server, "bedrock-runtime", "converse", "--model-id", HAIKU, "--messages", HI)
    assert response["output"]["message"] == {"role": "assistant", "content": [{"text": "You said: hi"}]}
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 1, "outputTokens": 3, "totalTokens": 4}


def test_converse_with_system_inference_config_and_tools(server: RunningServer) -> None:
    tool = {
        "toolSpec": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
        }
    }
    response = aws_json(
        server,
        "bedrock-runtime",
        "converse",
        "--model-id",
        HAIKU,
        "--system",
        json.dumps([{"text": "Be brief."}]),
        "--inference-config",
        json.dumps({"maxTokens": 64, "temperature": 0.1}),
        "--tool-config",
        json.dumps({"tools": [tool]}),
        "--messages",
        json.dumps([{"role": "user", "content": [{"text": "What is the weather in Lima?"}]}]),
    )
    assert response["stopReason"] == "tool_use"
    (block,) = response["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "Lima"}


def test_invoke_model_writes_the_body_to_the_outfile(server: RunningServer, tmp_path: Path) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hello cli"}],
    }
    out = tmp_path / "out.json"
    args = ("bedrock-runtime", "invoke-model", "--model-id", HAIKU, "--body", json.dumps(body), str(out))
    assert aws_json(server, *args) == {"contentType": "application/json"}
    answer = json.loads(out.read_text())
    assert answer["content"] == [{"type": "text", "text": "You said: hello cli"}]
    assert answer["model"] == "claude-3-haiku-20240307"
    assert answer["stop_reason"] == "end_turn"


def test_invoke_model_embedding_from_a_fileb_body(server: RunningServer, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"inputText": "hello from a file"}))
    for model_id, dimensions in [
        ("amazon.titan-embed-text-v1", 1536),
        ("amazon.titan-embed-text-v2:0", 1024),
    ]:
        out = tmp_path / "embedding.json"
        args = ("--model-id", model_id, "--body", f"fileb://{request}", str(out))
        aws_json(server, "bedrock-runtime", "invoke-model", *args)
        embedding = json.loads(out.read_text())["embedding"]
        assert len(embedding) == dimensions
        assert abs(sum(value * value for value in embedding) - 1.0) < 1e-5


def test_list_and_get_foundation_models(server: RunningServer) -> None:
    summaries = aws_json(server, "bedrock", "list-foundation-models")["modelSummaries"]
    ids = {summary["modelId"] for summary in summaries}
    assert {HAIKU, "amazon.titan-embed-text-v1", "meta.llama3-8b-instruct-v1:0"} <= ids
    embedders = aws_json(server, "bedrock", "list-foundation-models", "--by-output-modality", "EMBEDDING")[
        "modelSummaries"
    ]
    assert "amazon.titan-embed-text-v2:0" in {summary["modelId"] for summary in embedders}
    assert HAIKU not in {summary["modelId"] for summary in embedders}

    details = aws_json(server, "bedrock", "get-foundation-model", "--model-identifier", HAIKU)["modelDetails"]
    assert details["modelId"] == HAIKU
    assert details["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    assert details["providerName"] == "Anthropic"
    assert details["outputModalities"] == ["TEXT"]


def test_sts_get_caller_identity(server: RunningServer) -> None:
    identity = aws_json(server, "sts", "get-caller-identity")
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert identity["UserId"] == "AKIAOUTCROPCLI"


def test_unknown_model_is_a_validation_error(server: RunningServer) -> None:
    done = aws(server, "bedrock-runtime", "converse", "--model-id", "nope.not-a-model", "--messages", HI)
    assert done.returncode == 255
    assert done.stdout == ""
    assert "An error occurred (ValidationException) when calling the Converse operation" in done.stderr
    assert "The provided model identifier is invalid." in done.stderr


def test_unknown_foundation_model_is_not_found(server: RunningServer) -> None:
    done = aws(server, "bedrock", "get-foundation-model", "--model-identifier", "nope.not-a-model")
    assert done.returncode == 255
    assert "(ResourceNotFoundException) when calling the GetFoundationModel operation" in done.stderr
