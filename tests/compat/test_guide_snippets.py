"""The guide's Bedrock snippets (seed 000), run unchanged in a fresh interpreter.

The only change is the environment: AWS_ENDPOINT_URL points boto3 at the server, so the code itself is
exactly what a reader of the guide would paste. Each snippet prints what the guide's code extracts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.server import RunningServer

# "Foundation Model Access". The guide's block uses `json` without importing it; the import is the only
# line added, and the last line is how the guide's Lambda handler reads the answer.
FOUNDATION_MODEL_ACCESS = """
import json
import boto3

bedrock = boto3.client('bedrock-runtime', region_name='us-east-1')

response = bedrock.invoke_model(
    modelId='anthropic.claude-3-sonnet-20240229-v1:0',
    contentType='application/json',
    accept='application/json',
    body=json.dumps({
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1000,
        "messages": [
            {
                "role": "user",
                "content": "Explain quantum computing in simple terms"
            }
        ]
    })
)

result = json.loads(response['body'].read())
print(json.dumps(result['content'][0]['text']))
"""

# "Implement RAG with OpenSearch", up to the query embedding (OpenSearch itself is not Outcrop's).
RAG_QUERY_EMBEDDING = """
import json
import boto3

bedrock = boto3.client('bedrock-runtime', region_name='us-east-1')
query = 'How do I rotate my access keys?'

embedding_response = bedrock.invoke_model(
    modelId='amazon.titan-embed-text-v1',
    contentType='application/json',
    accept='application/json',
    body=json.dumps({'inputText': query})
)

query_embedding = json.loads(embedding_response['body'].read())['embedding']
print(json.dumps(query_embedding))
"""

# "Set Up the API Layer": the guide's Lambda handler as the example app ships it, unchanged, run with the
# real aws_lambda_powertools and called with an API Gateway style event.
GUIDE_HANDLER = Path(__file__).resolve().parents[2] / "examples" / "guide-chat" / "src" / "app.py"

# "Cross-Region Architecture" sends a Claude messages body without anthropic_version or max_tokens,
# which Bedrock rejects; Outcrop must reject it the same way rather than answer.
CROSS_REGION_BODY = """
import json
import boto3

bedrock_client = boto3.client('bedrock-runtime', region_name='us-east-1')
processed_text = 'non-sensitive summary'
try:
    response = bedrock_client.invoke_model(
        modelId='anthropic.claude-3-sonnet-20240229-v1:0',
        body=json.dumps({
            "messages": [{"role": "user", "content": processed_text}]
        })
    )
except bedrock_client.exceptions.ValidationException as error:
    print(json.dumps(error.response['Error']))
"""


def run_snippet(server: RunningServer, code: str, tmp_path: Path, **extra_env: str) -> object:
    """Run code in a new interpreter configured only by environment variables; return its printed JSON."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=server.endpoint,
        AWS_ACCESS_KEY_ID="AKIAOUTCROPGUIDE",
        AWS_SECRET_ACCESS_KEY="guide-secret",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")])),
        **extra_env,
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def test_foundation_model_access(server: RunningServer, tmp_path: Path) -> None:
    text = run_snippet(server, FOUNDATION_MODEL_ACCESS, tmp_path)
    assert text == "You said: Explain quantum computing in simple terms"


def test_rag_query_embedding(server: RunningServer, tmp_path: Path) -> None:
    embedding = run_snippet(server, RAG_QUERY_EMBEDDING, tmp_path)
    assert isinstance(embedding, list)
    assert len(embedding) == 1536
    assert all(isinstance(value, float) for value in embedding)
    assert abs(sum(value * value for value in embedding) - 1.0) < 1e-5


def test_lambda_handler(server: RunningServer, tmp_path: Path) -> None:
    event = "{'body': json.dumps({'message': 'Summarise my notes'})}"
    code = GUIDE_HANDLER.read_text() + f"\nprint(json.dumps(lambda_handler({event}, None)))\n"
    # No X-Ray daemon runs here, so tracing is off, as the example's template sets it.
    response = run_snippet(server, code, tmp_path, POWERTOOLS_TRACE_DISABLED="true")
    assert isinstance(response, dict)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"response": "You said: Summarise my notes"}


def test_cross_region_body_is_rejected_like_bedrock(server: RunningServer, tmp_path: Path) -> None:
    error = run_snippet(server, CROSS_REGION_BODY, tmp_path)
    assert isinstance(error, dict)
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Malformed input request: ")
