"""Streamed answers for the chat page, and the source documents its citations point to.

API Gateway REST APIs with Lambda proxy integrations return one whole response, so streaming is done the
serverless way: `start` stores an empty answer in S3 and invokes `work` asynchronously; `work` writes the
answer into that object as the model streams it (plain Bedrock `converse_stream`, or, when KNOWLEDGE_BASE_ID
is set, `retrieve_and_generate_stream` over the knowledge base, with citations); the page polls `read`.
The same code runs unchanged on AWS.
"""

import base64
import json
import os
import time
import uuid

import boto3
from aws_lambda_powertools import Logger, Tracer

logger = Logger()
tracer = Tracer()
s3 = boto3.client("s3")
lambda_client = boto3.client("lambda")
bedrock = boto3.client("bedrock-runtime")
agent_runtime = boto3.client("bedrock-agent-runtime")

BUCKET = os.environ["ANSWERS_BUCKET"]
MODEL_ID = os.environ.get("MODEL_ID", "anthropic.claude-3-sonnet-20240229-v1:0")
KNOWLEDGE_BASE_ID = os.environ.get("KNOWLEDGE_BASE_ID", "")
WRITE_EVERY_SECONDS = 0.2
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def _reply(status, body):
    return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(body)}


def _save(answer_id, answer):
    s3.put_object(
        Bucket=BUCKET,
        Key=f"answers/{answer_id}.json",
        Body=json.dumps(answer).encode(),
        ContentType="application/json",
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def start(event, context):
    try:
        body = json.loads(event.get("body") or "{}")
    except json.JSONDecodeError:
        return _reply(400, {"error": "The body must be JSON: {\"message\": \"...\"}"})
    message = str(body.get("message") or "").strip()
    if not message:
        return _reply(400, {"error": "Say something: {\"message\": \"...\"}"})
    answer_id = uuid.uuid4().hex
    _save(answer_id, {"text": "", "done": False, "citations": [], "rag": bool(KNOWLEDGE_BASE_ID)})
    job = {"id": answer_id, "message": message, "sessionId": body.get("sessionId")}
    lambda_client.invoke(
        FunctionName=os.environ["STREAM_WORKER"], InvocationType="Event", Payload=json.dumps(job).encode()
    )
    logger.info("answer started", extra={"answer_id": answer_id, "rag": bool(KNOWLEDGE_BASE_ID)})
    return _reply(202, {"id": answer_id})


@tracer.capture_lambda_handler
def read(event, context):
    answer_id = (event.get("pathParameters") or {}).get("id", "")
    if not answer_id.isalnum():
        return _reply(400, {"error": "bad answer id"})
    try:
        stored = s3.get_object(Bucket=BUCKET, Key=f"answers/{answer_id}.json")
    except s3.exceptions.NoSuchKey:
        return _reply(404, {"error": "no such answer"})
    return {"statusCode": 200, "headers": JSON_HEADERS, "body": stored["Body"].read().decode()}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def work(event, context):
    answer = {"text": "", "done": False, "citations": [], "rag": bool(KNOWLEDGE_BASE_ID)}
    written = time.monotonic()
    try:
        chunks = _rag_stream(event, answer) if KNOWLEDGE_BASE_ID else _model_stream(event["message"])
        for text in chunks:
            answer["text"] += text
            if time.monotonic() - written > WRITE_EVERY_SECONDS:
                _save(event["id"], answer)
                written = time.monotonic()
    except Exception as exc:  # the page shows what went wrong instead of waiting forever
        logger.exception("answer failed")
        answer["error"] = str(exc)
    answer["done"] = True
    _save(event["id"], answer)
    return {"id": event["id"], "characters": len(answer["text"])}


def _model_stream(message):
    response = bedrock.converse_stream(
        modelId=MODEL_ID,
        messages=[{"role": "user", "content": [{"text": message}]}],
        inferenceConfig={"maxTokens": 1000},
    )
    for item in response["stream"]:
        delta = item.get("contentBlockDelta", {}).get("delta", {})
        if "text" in delta:
            yield delta["text"]


def _rag_stream(event, answer):
    request = {
        "input": {"text": event["message"]},
        "retrieveAndGenerateConfiguration": {
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {
                "knowledgeBaseId": KNOWLEDGE_BASE_ID,
                "modelArn": f"arn:aws:bedrock:{os.environ['AWS_REGION']}::foundation-model/{MODEL_ID}",
            },
        },
    }
    if event.get("sessionId"):
        request["sessionId"] = event["sessionId"]
    response = agent_runtime.retrieve_and_generate_stream(**request)
    answer["sessionId"] = response.get("sessionId")
    for item in response["stream"]:
        if "output" in item:
            yield item["output"]["text"]
        elif "citation" in item:
            answer["citations"].append(_citation(item["citation"]))


def _citation(citation):
    """The cited span of the answer and the passages behind it, trimmed to what the page shows."""
    generated = citation.get("generatedResponsePart", {}).get("textResponsePart", {})
    references = []
    for reference in citation.get("retrievedReferences", []):
        location = reference.get("location", {})
        uri = (location.get("s3Location") or {}).get("uri") or (location.get("webLocation") or {}).get("url")
        references.append({"text": reference.get("content", {}).get("text", ""), "uri": uri or ""})
    return {"span": generated.get("span"), "text": generated.get("text", ""), "references": references}


def source(event, context):
    """The whole document behind a citation (`?uri=s3://bucket/key`), as its own content type."""
    uri = (event.get("queryStringParameters") or {}).get("uri", "")
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        return _reply(400, {"error": "give ?uri=s3://bucket/key"})
    bucket, key = uri[5:].split("/", 1)
    try:
        stored = s3.get_object(Bucket=bucket, Key=key)
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
        return _reply(404, {"error": f"{uri} does not exist"})
    data = stored["Body"].read()
    content_type = stored.get("ContentType") or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/json", "text/markdown"):
        return {"statusCode": 200, "headers": {"Content-Type": content_type}, "body": data.decode("utf-8", "replace")}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": content_type},
        "body": base64.b64encode(data).decode(),
        "isBase64Encoded": True,
    }
