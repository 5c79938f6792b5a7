"""Bedrock batch inference jobs through boto3: JSONL in S3 in, `.out` files and a manifest out."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
TITAN_EMBED = "amazon.titan-embed-text-v2:0"
ROLE = "arn:aws:iam::000000000000:role/BatchRole"
FINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")


def claude(text: str, max_tokens: int = 50) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def put_records(s3: Any, bucket: str, key: str, records: list[dict[str, Any]]) -> None:
    body = "\n".join(json.dumps(record) for record in records) + "\n"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def new_bucket(s3: Any) -> str:
    name = f"batch-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def create_job(bedrock: Any, source: str, sink: str, model: str = HAIKU, **extra: Any) -> str:
    arn: str = bedrock.create_model_invocation_job(
        jobName=extra.pop("jobName", f"job-{uuid.uuid4().hex[:10]}"),
        roleArn=ROLE,
        modelId=model,
        inputDataConfig={"s3InputDataConfig": {"s3Uri": source}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": sink}},
        **extra,
    )["jobArn"]
    return arn


def wait_job(bedrock: Any, arn: str, until: tuple[str, ...] = FINAL, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = bedrock.get_model_invocation_job(jobIdentifier=arn)
        if job["status"] in until or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def read_lines(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_a_batch_job_writes_outputs_and_manifest_as_bedrock_lays_them_out(
    client: Callable[..., Any],
) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    records = [{"recordId": f"REC{i:08d}", "modelInput": claude(f"number {i} please")} for i in range(7)]
    records.append({"recordId": "BADRECORD01", "modelInput": {"messages": "not a list"}})
    put_records(s3, bucket, "input/records.jsonl", records)
    arn = create_job(bedrock, f"s3://{bucket}/input/records.jsonl", f"s3://{bucket}/output/")
    job_id = arn.rpartition("/")[2]
    assert arn.startswith("arn:aws:bedrock:us-east-1:") and len(job_id) == 12

    job = wait_job(bedrock, arn)
    assert job["status"] == "PartiallyCompleted"
    assert (job["totalRecordCount"], job["processedRecordCount"]) == (8, 8)
    assert (job["successRecordCount"], job["errorRecordCount"]) == (7, 1)
    assert job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"] == f"s3://{bucket}/input/records.jsonl"
    assert job["roleArn"] == ROLE and job["timeoutDurationInHours"] == 24 and "endTime" in job
    assert job["modelInvocationType"] == "InvokeModel"

    lines = {line["recordId"]: line for line in read_lines(s3, bucket, f"output/{job_id}/records.jsonl.out")}
    assert len(lines) == 8
    answer = lines["REC00000003"]
    assert answer["modelInput"] == records[3]["modelInput"]
    assert answer["modelOutput"]["type"] == "message"
    assert answer["modelOutput"]["content"][0]["text"] == "You said: number 3 please"
    assert lines["BADRECORD01"]["error"]["errorCode"] == 400
    assert "modelOutput" not in lines["BADRECORD01"]

    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"output/{job_id}/manifest.json.out")["Body"].read()
    )
    assert manifest["totalRecordCount"] == 8 and manifest["processedRecordCount"] == 8
    assert manifest["successRecordCount"] == 7 and manifest["errorRecordCount"] == 1
    assert manifest["inputTokenCount"] > 0 and manifest["outputTokenCount"] > 0


def test_a_prefix_of_files_converse_records_and_missing_record_ids(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    message = {"messages": [{"role": "user", "content": [{"text": "hello there"}]}]}
    put_records(s3, bucket, "in/a.jsonl", [{"recordId": "A1", "modelInput": message}])
    put_records(s3, bucket, "in/sub/b.jsonl", [{"modelInput": message}, {"modelInput": message}])
    s3.put_object(Bucket=bucket, Key="in/notes.txt", Body=b"not a record file")
    arn = create_job(bedrock, f"s3://{bucket}/in/", f"s3://{bucket}/out", modelInvocationType="Converse")
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed" and job["totalRecordCount"] == 3
    job_id = arn.rpartition("/")[2]
    first = read_lines(s3, bucket, f"out/{job_id}/a.jsonl.out")
    assert first[0]["recordId"] == "A1"
    assert first[0]["modelOutput"]["output"]["message"]["content"][0]["text"] == "You said: hello there"
    assert first[0]["modelOutput"]["stopReason"] == "end_turn"
    second = read_lines(s3, bucket, f"out/{job_id}/sub/b.jsonl.out")
    assert [len(line["recordId"]) for line in second] == [11, 11]
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]}
    assert keys == {
        f"out/{job_id}/a.jsonl.out",
        f"out/{job_id}/sub/b.jsonl.out",
        f"out/{job_id}/manifest.json.out",
    }


def test_converse_records_read_documents_from_s3(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    s3.put_object(
        Bucket=bucket, Key="docs/notes.txt", Body=b"The lighthouse keeper is named Ada Brightwater."
    )
    document = {
        "format": "txt",
        "name": "notes",
        "source": {"s3Location": {"uri": f"s3://{bucket}/docs/notes.txt"}},
    }
    message = {"role": "user", "content": [{"text": "Who keeps the lighthouse?"}, {"document": document}]}
    put_records(s3, bucket, "in.jsonl", [{"recordId": "D1", "modelInput": {"messages": [message]}}])
    arn = create_job(
        bedrock, f"s3://{bucket}/in.jsonl", f"s3://{bucket}/out/", modelInvocationType="Converse"
    )
    assert wait_job(bedrock, arn)["status"] == "Completed"
    line = read_lines(s3, bucket, f"out/{arn.rpartition('/')[2]}/in.jsonl.out")[0]
    assert "Ada Brightwater" in line["modelOutput"]["output"]["message"]["content"][0]["text"]


def test_titan_embedding_records_are_embedded_in_batches(client: Callable[..., Any]) -> None:
    s3, bedrock, runtime = client("s3"), client("bedrock"), client("bedrock-runtime")
    bucket = new_bucket(s3)
    texts = [f"sentence number {i} about rivers" for i in range(40)]
    records = [
        {"recordId": f"E{i:010d}", "modelInput": {"inputText": text, "dimensions": 256}}
        for i, text in enumerate(texts)
    ]
    put_records(s3, bucket, "embed.jsonl", records)
    arn = create_job(bedrock, f"s3://{bucket}/embed.jsonl", f"s3://{bucket}/", model=TITAN_EMBED)
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed", job.get("message")
    lines = read_lines(s3, bucket, f"{arn.rpartition('/')[2]}/embed.jsonl.out")
    assert len(lines) == 40
    single = json.loads(
        runtime.invoke_model(modelId=TITAN_EMBED, body=json.dumps(records[5]["modelInput"]))["body"].read()
    )
    batched = next(line for line in lines if line["recordId"] == "E0000000005")["modelOutput"]
    assert len(batched["embedding"]) == 256
    assert batched["embedding"] == pytest.approx(single["embedding"], abs=1e-5)
    assert batched["inputTextTokenCount"] == single["inputTextTokenCount"]


def test_jobs_list_filter_page_and_stop(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    put_records(s3, bucket, "one.jsonl", [{"recordId": "R1", "modelInput": claude("hi")}])
    marker = uuid.uuid4().hex[:8]
    arns = [
        create_job(bedrock, f"s3://{bucket}/one.jsonl", f"s3://{bucket}/out/", jobName=f"list-{marker}-{i}")
        for i in range(3)
    ]
    for arn in arns:
        wait_job(bedrock, arn)
    listed = bedrock.list_model_invocation_jobs(nameContains=marker)["invocationJobSummaries"]
    assert [job["jobArn"] for job in listed] == arns[::-1]  # newest first by default
    ascending = bedrock.list_model_invocation_jobs(nameContains=marker, sortOrder="Ascending")
    assert [job["jobArn"] for job in ascending["invocationJobSummaries"]] == arns
    first = bedrock.list_model_invocation_jobs(nameContains=marker, maxResults=2)
    assert len(first["invocationJobSummaries"]) == 2 and first["nextToken"]
    rest = bedrock.list_model_invocation_jobs(nameContains=marker, maxResults=2, nextToken=first["nextToken"])
    assert [job["jobArn"] for job in rest["invocationJobSummaries"]] == [arns[0]] and "nextToken" not in rest
    assert all(
        job["status"] == "Completed"
        for job in bedrock.list_model_invocation_jobs(statusEquals="Completed")["invocationJobSummaries"]
    )
    assert not bedrock.list_model_invocation_jobs(nameContains=marker, statusEquals="Failed")[
        "invocationJobSummaries"
    ]
    future = bedrock.list_model_invocation_jobs(nameContains=marker, submitTimeAfter=time.time() + 60)
    assert future["invocationJobSummaries"] == []
    paginator = bedrock.get_paginator("list_model_invocation_jobs")
    pages = list(paginator.paginate(nameContains=marker, PaginationConfig={"PageSize": 1}))
    assert sum(len(page["invocationJobSummaries"]) for page in pages) == 3

    # A finished job cannot be stopped; a job by id (not ARN) is found.
    job_id = arns[0].rpartition("/")[2]
    assert bedrock.get_model_invocation_job(jobIdentifier=job_id)["jobArn"] == arns[0]
    with pytest.raises(ClientError) as stopped:
        bedrock.stop_model_invocation_job(jobIdentifier=arns[0])
    assert stopped.value.response["Error"]["Code"] == "ConflictException"


def test_stopping_a_running_job_keeps_what_it_did(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    long_text = " ".join(f"w{i}" for i in range(2000))
    records = [{"recordId": f"S{i:010d}", "modelInput": claude(long_text, 4096)} for i in range(400)]
    put_records(s3, bucket, "many.jsonl", records)
    arn = create_job(bedrock, f"s3://{bucket}/many.jsonl", f"s3://{bucket}/out/")
    queued = create_job(bedrock, f"s3://{bucket}/many.jsonl", f"s3://{bucket}/queued/")  # waits its turn
    running = wait_job(bedrock, arn, until=("InProgress", *FINAL))
    assert running["status"] == "InProgress"
    assert bedrock.get_model_invocation_job(jobIdentifier=queued)["status"] == "Submitted"
    bedrock.stop_model_invocation_job(jobIdentifier=queued)
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    job = wait_job(bedrock, arn)
    assert job["status"] == "Stopped", job
    assert job["processedRecordCount"] < 400
    lines = read_lines(s3, bucket, f"out/{arn.rpartition('/')[2]}/many.jsonl.out")
    assert len(lines) == job["processedRecordCount"]
    never_ran = wait_job(bedrock, queued)
    assert never_ran["status"] == "Stopped" and never_ran["processedRecordCount"] == 0
    assert s3.list_objects_v2(Bucket=bucket, Prefix="queued/")["KeyCount"] == 0


def test_failures_before_the_first_record(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock")
    bucket = new_bucket(s3)
    empty = create_job(bedrock, f"s3://{bucket}/nothing/", f"s3://{bucket}/out/")
    job = wait_job(bedrock, empty)
    assert job["status"] == "Failed" and "No .jsonl file" in job["message"]
    s3.put_object(Bucket=bucket, Key="broken.jsonl", Body=b'{"recordId": "X"}\n{not json\n')
    broken = wait_job(bedrock, create_job(bedrock, f"s3://{bucket}/broken.jsonl", f"s3://{bucket}/out/"))
    assert broken["status"] == "Failed" and "line 1 has no modelInput" in broken["message"]
    put_records(s3, bucket, "ok.jsonl", [{"recordId": "R1", "modelInput": claude("hi")}])
    no_sink = wait_job(bedrock, create_job(bedrock, f"s3://{bucket}/ok.jsonl", "s3://no-such-bucket-here/x/"))
    assert no_sink["status"] == "Failed" and "no-such-bucket-here" in no_sink["message"]
    all_bad = [{"recordId": "B1", "modelInput": {"prompt": "no messages"}}]
    put_records(s3, bucket, "bad.jsonl", all_bad)
    failed = wait_job(bedrock, create_job(bedrock, f"s3://{bucket}/bad.jsonl", f"s3://{bucket}/out/"))
    assert failed["status"] == "Failed" and failed["errorRecordCount"] == 1


def test_bad_requests_are_refused(client: Callable[..., Any]) -> None:
    s3, bedrock = client("s3"), client("bedrock", parameter_validation=False)  # the server checks
    bucket = new_bucket(s3)
    source, sink = f"s3://{bucket}/in.jsonl", f"s3://{bucket}/out/"

    def code(**extra: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as error:
            create_job(bedrock, source, sink, **extra)
        return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]

    assert code(model="no.such-model-v1:0")[0] == "ValidationException"
    assert code(vpcConfig={"subnetIds": ["s1"], "securityGroupIds": ["g1"]})[0] == "ValidationException"
    assert code(model=TITAN_EMBED, modelInvocationType="Converse")[0] == "ValidationException"
    assert code(timeoutDurationInHours=2)[0] == "ValidationException"  # the model's minimum is 24
    assert code(jobName="bad name!")[0] == "ValidationException"
    with pytest.raises(ClientError) as bad_uri:
        create_job(bedrock, "bucket/in.jsonl", sink)
    assert bad_uri.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as kms:
        bedrock.create_model_invocation_job(
            jobName="kms-job",
            roleArn=ROLE,
            modelId=HAIKU,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": source}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": sink, "s3EncryptionKeyId": "alias/mine"}},
        )
    assert kms.value.response["Error"]["Code"] == "ValidationException"
    assert "s3EncryptionKeyId" in kms.value.response["Error"]["Message"]

    name = f"dup-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    first = create_job(bedrock, source, sink, jobName=name, clientRequestToken=token)
    assert create_job(bedrock, source, sink, jobName=name, clientRequestToken=token) == first
    assert code(jobName=name)[0] == "ConflictException"
    assert code(jobName=f"{name}-other", clientRequestToken=token)[0] == "ConflictException"

    for call in (bedrock.get_model_invocation_job, bedrock.stop_model_invocation_job):
        with pytest.raises(ClientError) as missing:
            call(jobIdentifier="abcdefabcdef")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as token_error:
        bedrock.list_model_invocation_jobs(nextToken="garbage")
    assert token_error.value.response["Error"]["Code"] == "ValidationException"


def test_a_running_job_resumes_after_a_restart(tmp_path: Path) -> None:
    RECORDS = 3000  # enough that the fake model is still at work when the server is killed
    running = RunningServer(tmp_path / "data").start()
    try:
        s3, bedrock = running.client("s3"), running.client("bedrock")
        bucket = new_bucket(s3)
        long_text = " ".join(f"w{i}" for i in range(2000))
        records = [{"recordId": f"R{i:010d}", "modelInput": claude(long_text, 4096)} for i in range(RECORDS)]
        put_records(s3, bucket, "many.jsonl", records)
        arn = create_job(bedrock, f"s3://{bucket}/many.jsonl", f"s3://{bucket}/out/")
        deadline = time.monotonic() + 60
        while bedrock.get_model_invocation_job(jobIdentifier=arn)["processedRecordCount"] < 10:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert running.process is not None
        running.process.kill()  # a crash: a graceful stop could let the job finish while it drains
        running.process.wait()
        running.process = None
        running.start()
        bedrock, s3 = running.client("bedrock"), running.client("s3")
        resumed = bedrock.get_model_invocation_job(jobIdentifier=arn)
        assert resumed["status"] in ("Validating", "Scheduled", "InProgress")
        assert 10 <= resumed["processedRecordCount"] < RECORDS
        job = wait_job(bedrock, arn, seconds=120)
        assert job["status"] == "Completed"
        assert (job["processedRecordCount"], job["successRecordCount"]) == (RECORDS, RECORDS)
        lines = read_lines(s3, bucket, f"out/{arn.rpartition('/')[2]}/many.jsonl.out")
        assert sorted(line["recordId"] for line in lines) == [record["recordId"] for record in records]
    finally:
        running.stop()


@pytest.mark.real
def test_a_three_record_batch_on_the_real_small_model(real_server: RunningServer) -> None:
    s3, bedrock = real_server.client("s3"), real_server.client("bedrock")
    bucket = new_bucket(s3)
    questions = ["What is 2 + 2?", "Name the capital of France.", "What colour is the sky on a clear day?"]
    records = [
        {
            "recordId": f"Q{i:010d}",
            "modelInput": {**claude(question + " Answer in a few words.", 16), "temperature": 0},
        }
        for i, question in enumerate(questions)
    ]
    put_records(s3, bucket, "q.jsonl", records)
    arn = create_job(bedrock, f"s3://{bucket}/q.jsonl", f"s3://{bucket}/out/")  # Haiku: the 0.5B model
    job = wait_job(bedrock, arn, seconds=300)
    assert job["status"] == "Completed", job
    out = read_lines(s3, bucket, f"out/{arn.rpartition('/')[2]}/q.jsonl.out")
    lines = {line["recordId"]: line for line in out}
    answers = [lines[f"Q{i:010d}"]["modelOutput"]["content"][0]["text"].lower() for i in range(3)]
    assert "4" in answers[0] or "four" in answers[0]
    assert "paris" in answers[1]
    assert "blue" in answers[2]
