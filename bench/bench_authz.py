"""Bench: what `auth = "iam"` costs. S3 HeadBucket (authorized as s3:ListBucket) under 32 concurrent clients
(wrk), signed by an IAM user with 100 customer managed policies attached, against the same call on a
dev-mode server, same machine, same run; then the authorization step alone (the key resolved, 100
policies evaluated) timed in-process.

What the throughput figure is: two servers run side by side, set up alike (the bucket, the user, its 100
policies, its key), one with `auth = "iam"`, one in dev mode. wrk replays the same HeadBucket, signed once
by that user with botocore, to each in turn: after a warm-up of each, ROUNDS pairs of SECONDS-second
rounds, the order within a pair alternating (dev then iam, iam then dev, ...) so that load from elsewhere
on the machine, which comes and goes over seconds, falls on both alike; each round starts once both
servers are idle (the work a round leaves behind, CloudTrail's writes, done). Each pair gives one ratio (iam
req/s / dev req/s); the figure is the median of those ratios, printed with each pair's and their spread.
The client's work is the same in both modes; the iam server verifies the signature in full on every
request (nothing remembers a signature it has checked), resolves the key, and authorizes the call (its
decision remembered per principal, as for any repeated call); the dev server does neither. Server CPU per
request (its /proc time over the requests it answered) is printed beside it.

Targets (issue 15): iam-mode throughput >= 0.9 of dev mode; authorization p99 <= 1 ms with 100 policies.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common import ROOT, RunningServer, report, wrk

sys.path.insert(0, str(ROOT / "src"))

from outcrop.iam.authorizer import IamAuthenticator
from outcrop.iam.store import IamStore
from outcrop.protocol.auth import Caller
from outcrop.protocol.parse import HttpRequest

SECONDS = 2
ROUNDS = 20  # pairs of rounds: 80 s of measuring in all
WARMUP = 2
POLICIES = 100
BUCKET = "bench-authz"
ROOT_KEY, ROOT_SECRET = "AKIAOUTCROPBENCH", "bench-secret"


def statements(number: int) -> list[dict[str, Any]]:
    """Policy `number`: statements that match nothing the bench sends; the last policy allows it."""
    found: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["bedrock:Get*", "sagemaker:Describe*"],
            "Resource": f"arn:aws:bedrock:*:*:agent/A{number}",
        },
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::other-{number}/*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
    ]
    if number == POLICIES - 1:
        found.append({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"})
    return found


def document(number: int) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements(number)})


def signed(url: str, key: str, secret: str) -> dict[str, str]:
    request = AWSRequest(method="HEAD", url=url)
    SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


@contextmanager
def server(auth: str) -> Iterator[RunningServer]:
    env = {"OUTCROP_AUTH": auth, "OUTCROP_CREDENTIALS": f"{ROOT_KEY}:{ROOT_SECRET}"}
    with tempfile.TemporaryDirectory() as tmp:
        running = RunningServer(Path(tmp) / "data", extra_env=env).start()
        try:
            yield running
        finally:
            running.stop()


def client(running: RunningServer, service: str, key: str, secret: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=running.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


@dataclass(frozen=True)
class Target:
    url: str
    headers: dict[str, str]
    pid: int  # the server's process, whose CPU time each round reads


@contextmanager
def head_bucket_target(auth: str) -> Iterator[Target]:
    """A running server of this auth mode, set up the same in both modes (the bucket, the IAM user with
    100 policies, its key), and the HeadBucket that user signs, which wrk replays. Dev mode ignores
    the policies, but does the same work otherwise (its CloudTrail records name the same user)."""
    with server(auth) as running:
        client(running, "s3", ROOT_KEY, ROOT_SECRET).create_bucket(Bucket=BUCKET)
        iam = client(running, "iam", ROOT_KEY, ROOT_SECRET)
        iam.create_user(UserName="bench")
        for number in range(POLICIES):
            arn = iam.create_policy(PolicyName=f"p{number}", PolicyDocument=document(number))["Policy"]["Arn"]
            iam.attach_user_policy(UserName="bench", PolicyArn=arn)
        made = iam.create_access_key(UserName="bench")["AccessKey"]
        key, secret = made["AccessKeyId"], made["SecretAccessKey"]
        client(running, "s3", key, secret).head_bucket(Bucket=BUCKET)  # allowed, by the last policy
        url = f"{running.endpoint}/{BUCKET}"
        assert running.process is not None
        yield Target(url, signed(url, key, secret), running.process.pid)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (Linux /proc), all its threads together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, timeout: float = 15.0) -> None:
    """Wait until the server is idle again (under 5% of a core over 0.2 s): a round leaves work behind
    (CloudTrail writes the records of thousands of calls after they are answered), which would otherwise
    land on the next round, the other server's. Without this, the second round of each pair ran slower,
    whichever mode it was: pair ratios swung 0.6-1.4 by order alone."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_seconds(pid)
        if now - last < 0.01:
            return
        last = now


def measure(target: Target, seconds: int = SECONDS) -> tuple[float, float, float]:
    """(requests/s, p99 ms, server CPU microseconds per request) of one wrk round. CPU per request is
    what the load from elsewhere on the machine disturbs least: the server's own cost of a request,
    counted until the work the round left behind is done."""
    before = cpu_seconds(target.pid)
    rps, p99 = wrk(target.url, target.headers, method="HEAD", seconds=seconds)
    settle(target.pid)
    used = cpu_seconds(target.pid) - before
    return rps, p99, 1e6 * used / (rps * seconds)


def authorization_times(calls: int = 20000) -> dict[str, list[float]]:
    """Milliseconds per `authorize` call for the IAM user with 100 policies: as requests find it (the key
    resolved, the decision remembered), evaluated afresh (all 100 policies' statements for the action
    scanned), and right after an IAM write (the principal read back from SQLite and compiled)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = IamStore(Path(tmp) / "iam.sqlite3", "000000000000")
        store.create("user", "bench", "/")
        for number in range(POLICIES):
            arn = store.create_policy(f"p{number}", "/", document(number), "")["arn"]
            store.attach("user", "bench", arn)
        key = store.create_access_key("bench")["id"]
        authorizer = IamAuthenticator({ROOT_KEY: ROOT_SECRET}, store)
        caller = Caller(key, "us-east-1", "s3", "sigv4")
        request = HttpRequest("HEAD", f"/{BUCKET}", {}, {"user-agent": "bench"}, b"")
        params = {"Bucket": BUCKET}

        def forget_decisions() -> None:
            record = store.resolve(key)
            assert record is not None
            record.principal._decisions.clear()  # what a change of the bucket's policy would do

        found: dict[str, list[float]] = {}
        for name, before in (
            ("remembered", None),
            ("evaluated", forget_decisions),
            ("after a write", store.changed),
        ):
            times = found[name] = []
            for _ in range(calls if before is None else calls // 4):
                if before is not None:
                    before()
                started = time.perf_counter()
                authorizer.authorize(request, caller, "s3", "HeadBucket", params, "127.0.0.1")
                times.append(1000 * (time.perf_counter() - started))
        store.close()
        return found


def main() -> None:
    # Both servers up together, measured in pairs of short rounds whose order alternates (see the module
    # docstring); each pair gives one iam/dev ratio, and the median of the ratios is the figure.
    load = os.getloadavg()
    rounds: dict[str, list[tuple[float, float, float]]] = {"dev": [], "iam": []}
    with head_bucket_target("dev") as dev_target, head_bucket_target("iam") as iam_target:
        targets = {"dev": dev_target, "iam": iam_target}
        for target in targets.values():
            measure(target, WARMUP)  # connections open, caches filled, code paths warm
        for number in range(ROUNDS):
            for auth in ("dev", "iam") if number % 2 == 0 else ("iam", "dev"):
                rounds[auth].append(measure(targets[auth]))
    after = os.getloadavg()
    dev = [statistics.median(r[i] for r in rounds["dev"]) for i in (0, 1, 2)]
    iam = [statistics.median(r[i] for r in rounds["iam"]) for i in (0, 1, 2)]
    pairs = [i[0] / d[0] for i, d in zip(rounds["iam"], rounds["dev"], strict=True)]
    quartiles = statistics.quantiles(pairs, n=4)
    report(
        f"S3 HeadBucket, 32 concurrent clients (wrk), signed by an IAM user with {POLICIES} policies in both "
        f"modes, {ROUNDS} pairs of {SECONDS} s rounds in alternating order, same run (medians)",
        [
            ("", "auth = iam", "auth = dev"),
            ("req/s", f"{iam[0]:.0f}", f"{dev[0]:.0f}"),
            ("p99 (ms)", f"{iam[1]:.1f}", f"{dev[1]:.1f}"),
            ("server CPU per request (us)", f"{iam[2]:.0f}", f"{dev[2]:.0f}"),
        ],
    )
    print(
        f"  ratio iam / dev: {statistics.median(pairs):.2f} of dev-mode req/s, median of the {ROUNDS} pairs "
        f"(quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}; target >= 0.9)"
    )
    print(f"  each pair's ratio: {', '.join(f'{r:.2f}' for r in pairs)}")
    print(f"  server CPU per request, dev / iam: {dev[2] / iam[2]:.2f}")
    loads = " ".join(f"{value:.1f}" for value in load), " ".join(f"{value:.1f}" for value in after)
    print(f"  load average (1, 5, 15 min): before {loads[0]}, after {loads[1]}")
    for name, times in authorization_times().items():
        times.sort()
        p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
        print(
            f"  authorization, {POLICIES} policies, {name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
            "(target p99 <= 1 ms)"
        )


if __name__ == "__main__":
    main()
