"""Soak: N concurrent clients for T minutes over a mix of S3, CloudWatch Logs, Bedrock (fake models, or
the real ones with --real: Qwen2.5-Coder 0.5B behind Claude 3 Haiku, MiniLM behind Titan Embed), Retrieve
and Comprehend against one real `outcrop serve`.

Prints each operation's count, p50 and p99 (ms), every error by code (ThrottlingException, the modelled
throttling, apart), and the server's RSS (its process and children), open file descriptors and threads
after warm-up and at the end. The exit status is 1 on any error other than throttling or an RSS growth
over 10% after warm-up.

    python bench/bench_soak.py                           # 64 clients, 10 minutes
    python bench/bench_soak.py --clients 16 --minutes 2  # a short run
    python bench/bench_soak.py --real --minutes 3        # the real models in the mix
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.durability import client, descendants, sentence, wait_until
from tests.server import RunningServer

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED = "amazon.titan-embed-text-v2:0"
BUCKET = "soak"
GROUP = "/soak/app"
THROTTLED = {"ThrottlingException", "TooManyRequestsException", "SlowDown", "ServiceUnavailableException"}


class Soak:
    """The shared fixtures (a bucket with objects, a log group, a knowledge base) and the per-client mix."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.kb_id = ""

    def setup(self) -> None:
        s3, logs = client(self.server, "s3"), client(self.server, "logs")
        s3.create_bucket(Bucket=BUCKET)
        for i in range(50):
            s3.put_object(Bucket=BUCKET, Key=f"static/{i}", Body=sentence(f"static/{i}").encode())
        logs.create_log_group(logGroupName=GROUP)
        agent = client(self.server, "bedrock-agent")
        self.kb_id = agent.create_knowledge_base(
            name="soak",
            roleArn="arn:aws:iam::123456789012:role/AmazonBedrockExecutionRoleForKnowledgeBase_soak",
            knowledgeBaseConfiguration={
                "type": "VECTOR",
                "vectorKnowledgeBaseConfiguration": {
                    "embeddingModelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{EMBED}"
                },
            },
        )["knowledgeBase"]["knowledgeBaseId"]
        ds_id = agent.create_data_source(
            knowledgeBaseId=self.kb_id,
            name="soak-docs",
            dataSourceConfiguration={
                "type": "S3",
                "s3Configuration": {"bucketArn": f"arn:aws:s3:::{BUCKET}", "inclusionPrefixes": ["static/"]},
            },
        )["dataSource"]["dataSourceId"]
        job = agent.start_ingestion_job(knowledgeBaseId=self.kb_id, dataSourceId=ds_id)["ingestionJob"]

        def done() -> bool:
            got = agent.get_ingestion_job(
                knowledgeBaseId=self.kb_id, dataSourceId=ds_id, ingestionJobId=job["ingestionJobId"]
            )
            return bool(got["ingestionJob"]["status"] == "COMPLETE")

        if not wait_until(done, 300):
            raise SystemExit("the soak's knowledge base did not finish ingesting")

    def client_loop(self, index: int, until: float) -> None:
        rng = random.Random(index)
        clients = {
            name: client(self.server, name)
            for name in ("s3", "logs", "bedrock-runtime", "bedrock-agent-runtime", "comprehend")
        }
        stream = f"client-{index}"
        clients["logs"].create_log_stream(logGroupName=GROUP, logStreamName=stream)
        mix = self.operations(clients, stream, rng)
        names = list(mix)
        while time.monotonic() < until:
            name = rng.choice(names)
            started = time.perf_counter()
            try:
                mix[name]()
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "?")
                with self.lock:
                    (self.throttled if code in THROTTLED else self.errors)[f"{name}: {code}"] += 1
                continue
            except (BotoCoreError, AssertionError) as error:
                with self.lock:
                    self.errors[f"{name}: {type(error).__name__}: {error}"[:160]] += 1
                continue
            with self.lock:
                self.latencies[name].append(time.perf_counter() - started)

    def operations(self, c: dict[str, Any], stream: str, rng: random.Random) -> dict[str, Callable[[], None]]:
        """Each call checks its answer, so a wrong answer counts as an error, not as a fast request."""
        own = f"clients/{stream}/"

        def put_object() -> None:
            c["s3"].put_object(Bucket=BUCKET, Key=own + str(rng.randrange(20)), Body=rng.randbytes(4096))

        def get_object() -> None:
            key = f"static/{rng.randrange(50)}"
            body = c["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert body == sentence(key).encode(), "GetObject answered other bytes"

        def list_objects() -> None:
            assert len(c["s3"].list_objects_v2(Bucket=BUCKET, Prefix="static/")["Contents"]) == 50

        def put_log_events() -> None:
            events = [{"timestamp": int(time.time() * 1000), "message": f"event {uuid.uuid4().hex}"}]
            c["logs"].put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)

        def get_log_events() -> None:
            c["logs"].get_log_events(logGroupName=GROUP, logStreamName=stream, limit=20)

        def converse() -> None:
            answer = c["bedrock-runtime"].converse(
                modelId=CHAT,
                messages=[{"role": "user", "content": [{"text": f"Say something about {rng.random()}"}]}],
                inferenceConfig={"maxTokens": 32},
            )
            assert answer["output"]["message"]["content"][0]["text"], "Converse answered no text"

        def embed() -> None:
            body = c["bedrock-runtime"].invoke_model(modelId=EMBED, body=b'{"inputText": "granite river"}')
            assert b"embedding" in body["body"].read()

        def retrieve() -> None:
            key = f"static/{rng.randrange(50)}"
            results = c["bedrock-agent-runtime"].retrieve(
                knowledgeBaseId=self.kb_id, retrievalQuery={"text": sentence(key)}
            )["retrievalResults"]
            assert results[0]["location"]["s3Location"]["uri"].endswith(key), "Retrieve missed the document"

        def detect_sentiment() -> None:
            c["comprehend"].detect_sentiment(Text="The support was quick and helpful.", LanguageCode="en")

        def detect_entities() -> None:
            c["comprehend"].detect_entities(Text="Ada Lovelace lived in London in 1843.", LanguageCode="en")

        return {
            f.__name__: f
            for f in (
                put_object,
                get_object,
                list_objects,
                put_log_events,
                get_log_events,
                converse,
                embed,
                retrieve,
                detect_sentiment,
                detect_entities,
            )
        }


def open_files(pid: int) -> tuple[int, int]:
    """The server process's open file descriptors and threads: a leak of either shows before RSS does."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0, 0


def rss_mib(pid: int) -> float:
    total = 0
    for process in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{process}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=0.2, help="share of the run before RSS is baselined")
    parser.add_argument("--real", action="store_true", help="the real models instead of the fake ones")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = RunningServer(Path(tmp) / "data", fake_models=not args.real).start()
        try:
            soak = Soak(server)
            soak.setup()
            assert server.process is not None
            pid = server.process.pid
            files: list[tuple[int, int]] = []
            began = time.monotonic()
            until = began + args.minutes * 60
            threads = [
                threading.Thread(target=soak.client_loop, args=(i, until)) for i in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            samples: list[tuple[float, float]] = []
            while any(t.is_alive() for t in threads):
                samples.append((time.monotonic() - began, rss_mib(pid)))
                files.append(open_files(pid))
                time.sleep(5)
            for thread in threads:
                thread.join()
        finally:
            server.stop()
    return report(soak, samples, files, args)


def report(
    soak: Soak, samples: list[tuple[float, float]], files: list[tuple[int, int]], args: argparse.Namespace
) -> int:
    duration = args.minutes * 60
    total = sum(len(v) for v in soak.latencies.values())
    run = f"{args.clients} clients, {args.minutes:g} min, {'real' if args.real else 'fake'} models"
    print(f"{run}: {total} requests, {total / duration:.0f}/s")
    print(f"{'operation':<18}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name, values in sorted(soak.latencies.items()):
        p50, p99 = np.percentile(np.array(values) * 1000, [50, 99])
        print(f"{name:<18}{len(values):>8}{p50:>9.1f}{p99:>9.1f}")
    print(f"throttled (modelled): {sum(soak.throttled.values())} {dict(soak.throttled)}")
    print(f"errors: {sum(soak.errors.values())}")
    for error, count in soak.errors.most_common(20):
        print(f"    ! {count} x {error}")
    warm_at = next((i for i, (at, _) in enumerate(samples) if at >= args.warmup * duration), 0)
    warm = [rss for _, rss in samples[warm_at:]]
    baseline, end, peak = warm[0], warm[-1], max(warm)
    growth = (end - baseline) / baseline * 100
    print(
        f"server RSS: {samples[0][1]:.0f} MiB at start, {baseline:.0f} after warm-up, {end:.0f} at the end "
        f"(peak {peak:.0f}): {growth:+.1f}% after warm-up"
    )
    (fds_warm, threads_warm), (fds_end, threads_end) = files[warm_at], files[-1]
    print(f"open files {fds_warm} after warm-up, {fds_end} at the end; threads {threads_warm}, {threads_end}")
    print("RSS MiB every 5 s: " + " ".join(f"{rss:.0f}" for _, rss in samples))
    return 1 if soak.errors or growth > 10 else 0


if __name__ == "__main__":
    sys.exit(main())
