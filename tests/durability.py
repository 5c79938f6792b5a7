"""Crash-safety scenarios shared by tests/test_durability.py (a few kills, in CI) and
bench/bench_durability.py (50 kills): each drives one kind of durable work through boto3 against a real
`outcrop serve`, records what the server acknowledged, and after a `kill -9` and a restart checks that
nothing acknowledged was lost or corrupted, that nothing half-written is visible, and that every job it
left running resumed or ended FAILED with a reason.

A write counts as acknowledged only once its response arrived; a request cut off by the kill is "in flight"
and may land or not, but only whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.server import RunningServer

PART = 5 * 1024 * 1024  # S3's smallest part that is not the last
ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
EMBEDDING_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"


def client(server: RunningServer, service: str) -> Any:
    """A client that fails fast when the server is gone (no retries, short connect timeout)."""
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=60),
    )


def wait_until(condition: Callable[[], bool], timeout: float, pause: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(pause)
    return False


@dataclass
class Tally:
    """What one scenario saw over all its rounds: counters for the figures, violations for the verdict."""

    counts: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def bad(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        self.violations.append(f"{kind}: {detail}")


class Scenario:
    """One kind of durable work. `start` launches its client threads; `join` waits for them after the kill;
    `verify` runs after the restart."""

    name = "scenario"

    def __init__(self) -> None:
        self.tally = Tally()
        self.threads: list[threading.Thread] = []
        self.stop = threading.Event()
        self.round = 0

    def setup(self, server: RunningServer) -> None:
        """Once, before the first round."""

    def start(self, server: RunningServer) -> None:
        self.round += 1
        self.stop.clear()
        self.threads = [threading.Thread(target=self._guarded, args=(server, i)) for i in range(self.workers)]
        for thread in self.threads:
            thread.start()

    workers = 1

    def _guarded(self, server: RunningServer, worker: int) -> None:
        try:
            self.work(server, worker)
        except Exception:  # the kill cut a request off: what it was doing is "in flight"
            return

    def work(self, server: RunningServer, worker: int) -> None:
        raise NotImplementedError

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(120)

    def verify(self, server: RunningServer) -> None:
        raise NotImplementedError


@dataclass
class Upload:
    key: str
    upload_id: str
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # number -> (etag, data)
    completing: bool = False
    etag: str | None = None  # set once CompleteMultipartUpload answered


class MultipartUploads(Scenario):
    """Clients create uploads, send a 5 MiB and a small part, and complete them; after the restart each
    acknowledged part is listed with its ETag and completes to the exact bytes, each acknowledged object reads
    back whole, and an upload whose completion was in flight is either still an upload or a whole object."""

    name = "multipart"
    workers = 2
    bucket = "durability-multipart"

    def __init__(self) -> None:
        super().__init__()
        self.uploads: list[Upload] = []
        self.lock = threading.Lock()

    def setup(self, server: RunningServer) -> None:
        client(server, "s3").create_bucket(Bucket=self.bucket)

    def work(self, server: RunningServer, worker: int) -> None:
        s3 = client(server, "s3")
        while not self.stop.is_set():
            key = f"r{self.round}/w{worker}/{uuid.uuid4().hex[:8]}"
            upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            upload = Upload(key, upload_id)
            with self.lock:
                self.uploads.append(upload)
            for number, size in ((1, PART), (2, 64 * 1024 + worker)):
                data = os.urandom(size)
                etag = s3.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
                )["ETag"]
                upload.parts[number] = (etag, data)
            upload.completing = True
            listed = [{"PartNumber": n, "ETag": e} for n, (e, _) in sorted(upload.parts.items())]
            upload.etag = s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )["ETag"]

    def verify(self, server: RunningServer) -> None:
        s3, counts = client(server, "s3"), self.tally.counts
        stored = {
            o["Key"]: o
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            for o in page.get("Contents", [])
        }
        pending = {
            u["UploadId"]
            for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket)
            for u in page.get("Uploads", [])
        }
        known = {u.key for u in self.uploads}
        for key in sorted(set(stored) - known):
            self.tally.bad("half_written_visible", f"object {key} was never uploaded")
        for upload in self.uploads:
            whole = b"".join(data for _, (_, data) in sorted(upload.parts.items()))
            if upload.etag is not None or upload.key in stored:
                self._check_object(s3, upload, whole, upload.upload_id in pending)
            elif upload.upload_id in pending:
                self._check_parts(s3, upload)
            elif upload.parts:
                self.tally.bad("lost", f"upload {upload.key} has acknowledged parts but is gone")
            counts["acked_parts"] += len(upload.parts)

    def _check_object(self, s3: Any, upload: Upload, whole: bytes, still_pending: bool) -> None:
        if upload.etag is not None:
            self.tally.counts["acked_objects"] += 1
        if upload.key not in self._listed(s3, upload.key):
            self.tally.bad("lost", f"completed object {upload.key} is missing")
            return
        body = s3.get_object(Bucket=self.bucket, Key=upload.key)["Body"].read()
        if hashlib.sha256(body).digest() != hashlib.sha256(whole).digest():
            kind = "corrupted" if upload.etag is not None else "half_written_visible"
            self.tally.bad(kind, f"object {upload.key} reads {len(body)} bytes, not the {len(whole)} sent")
        if still_pending:
            self.tally.bad("half_written_visible", f"{upload.key} is both an object and an open upload")
        if upload.etag is None:
            self.tally.counts["in_flight_completed"] += 1

    def _listed(self, s3: Any, key: str) -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=self.bucket, Prefix=key).get("Contents", [])}

    def _check_parts(self, s3: Any, upload: Upload) -> None:
        """Every acknowledged part is listed with its ETag; completing them gives exactly their bytes."""
        listed = {
            p["PartNumber"]: p["ETag"]
            for p in s3.list_parts(Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id).get(
                "Parts", []
            )
        }
        for number, (etag, _) in upload.parts.items():
            if listed.get(number) != etag:
                self.tally.bad("lost", f"part {number} of {upload.key}: {listed.get(number)} != {etag}")
                return
        if len(upload.parts) < 2 or 1 not in upload.parts:
            return  # a lone small part cannot be completed; its listing is checked above
        parts = [{"PartNumber": n, "ETag": e} for n, (e, _) in sorted(upload.parts.items())]
        s3.complete_multipart_upload(
            Bucket=self.bucket, Key=upload.key, UploadId=upload.upload_id, MultipartUpload={"Parts": parts}
        )
        body = s3.get_object(Bucket=self.bucket, Key=upload.key)["Body"].read()
        whole = b"".join(data for _, (_, data) in sorted(upload.parts.items()))
        if body != whole:
            self.tally.bad("corrupted", f"parts of {upload.key} completed to different bytes")
        upload.etag = "completed-after-restart"
        self.tally.counts["completed_after_restart"] += 1


def sentence(key: str) -> str:
    """A document's text: words drawn from its key, so every document differs."""
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    words = ["basalt", "granite", "river", "harbour", "lantern", "meadow", "orbit", "quartz", "signal"]
    return " ".join(words[(seed >> (3 * i)) % len(words)] for i in range(9)) + f" document {key}."


class Ingestion(Scenario):
    """Each round puts new documents and starts an ingestion job; documents ListKnowledgeBaseDocuments called
    INDEXED before the kill must be retrieved whole (one chunk, their text) after it, the job must end
    COMPLETE or FAILED with a reason, and a new job must index what the killed one did not."""

    name = "ingestion"
    bucket = "durability-kb"
    documents_per_round = 30

    def __init__(self) -> None:
        super().__init__()
        self.indexed: set[str] = set()
        self.put: set[str] = set()  # documents whose PutObject was acknowledged
        self.job: str | None = None  # this round's job, once StartIngestionJob answered
        self.kb_id = self.ds_id = ""

    def setup(self, server: RunningServer) -> None:
        client(server, "s3").create_bucket(Bucket=self.bucket)
        agent = client(server, "bedrock-agent")
        self.kb_id = agent.create_knowledge_base(
            name="durability",
            roleArn="arn:aws:iam::123456789012:role/AmazonBedrockExecutionRoleForKnowledgeBase_d",
            knowledgeBaseConfiguration={
                "type": "VECTOR",
                "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING_ARN},
            },
        )["knowledgeBase"]["knowledgeBaseId"]
        self.ds_id = agent.create_data_source(
            knowledgeBaseId=self.kb_id,
            name="durability-docs",
            dataSourceConfiguration={
                "type": "S3",
                "s3Configuration": {
                    "bucketArn": f"arn:aws:s3:::{self.bucket}",
                    "inclusionPrefixes": ["docs/"],
                },
            },
            vectorIngestionConfiguration={"chunkingConfiguration": {"chunkingStrategy": "NONE"}},
        )["dataSource"]["dataSourceId"]

    def work(self, server: RunningServer, worker: int) -> None:
        s3, agent = client(server, "s3"), client(server, "bedrock-agent")
        self.job = None
        for i in range(self.documents_per_round):
            key = f"docs/r{self.round}-{i}.txt"
            s3.put_object(Bucket=self.bucket, Key=key, Body=sentence(key).encode())
            self.put.add(key)
        job = agent.start_ingestion_job(knowledgeBaseId=self.kb_id, dataSourceId=self.ds_id)
        self.job = job["ingestionJob"]["ingestionJobId"]
        while not self.stop.is_set():
            self.indexed |= self._indexed(agent)
            time.sleep(0.1)

    def _indexed(self, agent: Any) -> set[str]:
        keys = set()
        for page in agent.get_paginator("list_knowledge_base_documents").paginate(
            knowledgeBaseId=self.kb_id, dataSourceId=self.ds_id
        ):
            for detail in page["documentDetails"]:
                if detail["status"] == "INDEXED":
                    keys.add(detail["identifier"]["s3"]["uri"].rpartition(f"{self.bucket}/")[2])
        return keys

    def verify(self, server: RunningServer) -> None:
        agent, counts = client(server, "bedrock-agent"), self.tally.counts
        for job_id in [self.job] if self.job else []:
            job = agent.get_ingestion_job(
                knowledgeBaseId=self.kb_id, dataSourceId=self.ds_id, ingestionJobId=job_id
            )
            status, reasons = job["ingestionJob"]["status"], job["ingestionJob"].get("failureReasons")
            if status == "FAILED" and reasons:
                counts["jobs_failed_with_reason"] += 1
            elif status == "COMPLETE":
                counts["jobs_completed"] += 1
            else:
                self.tally.bad("job_stuck", f"ingestion job {job_id} is {status} ({reasons})")
        self._check_documents(server, self.indexed, "acked_documents")
        # The user's retry: a new job indexes whatever the killed one did not, and nothing twice.
        job_id = agent.start_ingestion_job(knowledgeBaseId=self.kb_id, dataSourceId=self.ds_id)[
            "ingestionJob"
        ]["ingestionJobId"]

        def finished() -> bool:
            got = agent.get_ingestion_job(
                knowledgeBaseId=self.kb_id, dataSourceId=self.ds_id, ingestionJobId=job_id
            )
            return got["ingestionJob"]["status"] not in ("STARTING", "IN_PROGRESS", "STOPPING")

        if not wait_until(finished, 120):
            self.tally.bad("job_stuck", f"the retry job {job_id} did not finish")
            return
        wanted = set(self.put)
        indexed = self._indexed(agent)
        for key in sorted(wanted - indexed):
            self.tally.bad("lost", f"{key} was not indexed by the retry job")
        self._check_documents(server, wanted & indexed - self.indexed, "documents_after_retry")
        self.indexed |= indexed

    def _check_documents(self, server: RunningServer, keys: set[str], counter: str) -> None:
        runtime = client(server, "bedrock-agent-runtime")
        for key in sorted(keys):
            self.tally.counts[counter] += 1
            text = sentence(key)
            results = runtime.retrieve(
                knowledgeBaseId=self.kb_id,
                retrievalQuery={"text": text},
                retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 5}},
            )["retrievalResults"]
            uri = f"s3://{self.bucket}/{key}"
            mine = [r for r in results if r["location"]["s3Location"]["uri"] == uri]
            if not mine:
                self.tally.bad("lost", f"indexed document {key} is not retrieved")
            elif len(mine) > 1 or mine[0]["content"]["text"].strip() != text:
                self.tally.bad("corrupted", f"{key} retrieved as {[m['content']['text'] for m in mine]}")


@dataclass
class Kill:
    """One kill: when it came, how long the restart took, and the server's children it left running."""

    scenarios: list[str]
    delay_s: float
    restart_s: float
    orphans: list[str]


def descendants(pid: int) -> dict[int, str]:
    """Every process below `pid` (from /proc), by pid, with its start time and command line as identity."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
                parents.setdefault(int(stat[1]), []).append(int(entry))
    found: dict[int, str] = {}
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        found[child] = _identity(child)
        todo += parents.get(child, [])
    return {child: who for child, who in found.items() if who}


def _identity(pid: int) -> str:
    """A process's start time and command line ('' once it is gone or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
    return "" if stat[0] == "Z" else f"{stat[19]} {command.strip()}"


def kill_round(server: RunningServer, scenarios: list[Scenario], delay_s: float) -> Kill:
    """Start the scenarios' work, `kill -9` the server after `delay_s`, restart it and verify each scenario.
    Children of the killed server still running after the restart and the checks are orphans: they are
    counted, named, and ended so the next round starts clean."""
    for scenario in scenarios:
        scenario.start(server)
    time.sleep(delay_s)
    assert server.process is not None
    children = descendants(server.process.pid)
    server.process.kill()
    server.process.wait()
    for scenario in scenarios:
        scenario.join()
    started = time.monotonic()
    server.start()
    restart_s = time.monotonic() - started
    for scenario in scenarios:
        try:
            scenario.verify(server)
        except Exception as error:  # a check that cannot even run is a finding, not a crash of the bench
            scenario.tally.bad("verify_error", f"{type(error).__name__}: {error}")
    orphans = []
    for child, who in children.items():
        if _identity(child) == who:  # the same process, not a new one given the pid
            orphans.append(who.partition(" ")[2][:160])
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
    return Kill([s.name for s in scenarios], delay_s, restart_s, orphans)
