"""Bedrock batch inference throughput against the same records sent one by one through InvokeModel.

One Outcrop server on the real 0.5B chat model (Claude 3 Haiku's id in the bundled catalog). Each round
sends the records one at a time with `invoke_model` (the baseline: a client looping over its prompts), then
runs them as one batch inference job (JSONL in S3, polled until Completed, outputs read back), and reports
records/s of each and their ratio (target >= 1.5x on 2 cores: the job keeps the backend's `parallel`
slots busy, so llama.cpp decodes several sequences per step). Rounds alternate so both sides see the same
background load; the best round of each is reported.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from common import outcrop_server

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ROLE = "arn:aws:iam::000000000000:role/BatchBench"
SUBJECTS = [
    "rivers", "volcanoes", "bees", "glaciers", "lighthouses", "comets", "coral reefs", "deserts",
    "owls", "tides", "bridges", "maple trees", "thunderstorms", "salmon", "caves", "windmills",
]  # fmt: skip


def bodies(count: int, max_tokens: int) -> list[dict[str, Any]]:
    return [
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "messages": [
                {"role": "user", "content": f"Write one sentence about {SUBJECTS[i % len(SUBJECTS)]}. ({i})"}
            ],
        }
        for i in range(count)
    ]


def one_by_one(runtime: Any, records: list[dict[str, Any]]) -> tuple[float, int]:
    """Seconds and output tokens for the records sent sequentially through InvokeModel."""
    started = time.perf_counter()
    tokens = 0
    for body in records:
        answer = json.loads(runtime.invoke_model(modelId=MODEL, body=json.dumps(body))["body"].read())
        tokens += answer["usage"]["output_tokens"]
    return time.perf_counter() - started, tokens


def as_a_job(bedrock: Any, s3: Any, bucket: str, records: list[dict[str, Any]]) -> tuple[float, int]:
    """Seconds from CreateModelInvocationJob to its outputs read back, and output tokens."""
    key = f"in-{uuid.uuid4().hex[:8]}.jsonl"
    lines = [json.dumps({"recordId": f"R{i:010d}", "modelInput": body}) for i, body in enumerate(records)]
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())
    started = time.perf_counter()
    arn = bedrock.create_model_invocation_job(
        jobName=f"bench-{uuid.uuid4().hex[:10]}",
        roleArn=ROLE,
        modelId=MODEL,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{bucket}/{key}"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/out/"}},
    )["jobArn"]
    while (job := bedrock.get_model_invocation_job(jobIdentifier=arn))["status"] not in (
        "Completed",
        "PartiallyCompleted",
        "Failed",
    ):
        time.sleep(0.05)
    job_id = arn.rpartition("/")[2]
    out = s3.get_object(Bucket=bucket, Key=f"out/{job_id}/{key}.out")["Body"].read().decode()
    elapsed = time.perf_counter() - started
    if job["status"] != "Completed":
        raise SystemExit(f"the batch job ended {job['status']}: {job.get('message')}")
    results = [json.loads(line) for line in out.splitlines()]
    return elapsed, sum(result["modelOutput"]["usage"]["output_tokens"] for result in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    records = bodies(arguments.records, arguments.max_tokens)
    with outcrop_server(fake_models=False) as server:
        runtime, bedrock, s3 = server.client("bedrock-runtime"), server.client("bedrock"), server.client("s3")
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        one_by_one(runtime, records[:1])  # load the model before timing
        sequential: list[tuple[float, int]] = []
        batched: list[tuple[float, int]] = []
        for _ in range(arguments.rounds):
            sequential.append(one_by_one(runtime, records))
            batched.append(as_a_job(bedrock, s3, bucket, records))
    seq_s, seq_tokens = min(sequential)
    job_s, job_tokens = min(batched)
    count, max_tokens = arguments.records, arguments.max_tokens
    print(f"\nBatch inference, {MODEL} (local 0.5B), {count} records, max_tokens={max_tokens}, same run")
    for label, seconds, tokens in (
        ("InvokeModel one by one", seq_s, seq_tokens),
        ("batch inference job   ", job_s, job_tokens),
    ):
        print(f"  {label} : {count / seconds:6.2f} records/s  ({seconds:5.1f} s, {tokens} tokens out)")
    print(f"  ratio                  : {seq_s / job_s:6.2f}x  (target >= 1.5x)")


if __name__ == "__main__":
    main()
