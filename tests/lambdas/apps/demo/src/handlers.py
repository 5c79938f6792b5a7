"""Handlers the Lambda / API Gateway tests call; each shows one behaviour of the local runtime."""

import json
import logging
import os
import time
import uuid

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
LOADED_AT = time.time()
# One id per worker process (sandboxed workers have their own pid namespaces, so pids repeat).
WORKER = uuid.uuid4().int % 2**31


def hello(event, context):
    if event.get("resource") == "/boom":
        raise ValueError("the boom route always fails")
    name = event["pathParameters"]["name"]
    print(f"greeting {name}")
    logger.info("request %s", context.aws_request_id)
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "body": json.dumps(
            {
                "message": f"{os.environ['GREETING']}, {name}",
                "version": "one",
                "event": event,
                "context": {
                    "aws_request_id": context.aws_request_id,
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "invoked_function_arn": context.invoked_function_arn,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                    "log_group_name": context.log_group_name,
                    "log_stream_name": context.log_stream_name,
                },
                "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "GREETING", "REGION_"))},
                "pid": WORKER,
            }
        ),
    }


def echo(event, context):
    if event.get("routeKey") == "GET /short":
        return {"shorthand": True, "path": event["rawPath"]}
    if event.get("routeKey") == "GET /cookies":
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2; Path=/"], "body": "cookies set"}
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0)))
    return {"statusCode": 200, "body": json.dumps({"event": event, "pid": WORKER})}


def crash(event, context):
    print("about to fail")
    raise RuntimeError("handler failed on purpose")


def slow(event, context):
    print("sleeping past the timeout")
    time.sleep(30)
    return {"statusCode": 200, "body": "never"}


def aws(event, context):
    """boto3 with no configuration at all: the runtime's environment points it at Outcrop."""
    identity = boto3.client("sts").get_caller_identity()
    s3 = boto3.client("s3")
    s3.put_object(Bucket="demo-notes", Key="seen.txt", Body=context.aws_request_id.encode())
    stored = s3.get_object(Bucket="demo-notes", Key="seen.txt")["Body"].read().decode()
    return {"account": identity["Account"], "stored": stored, "request": context.aws_request_id}
