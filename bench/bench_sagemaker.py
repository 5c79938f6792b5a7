"""SageMaker InvokeEndpoint through boto3 vs the same handlers called in-process, same model, same run.

The model is a scikit-learn logistic regression served with the scikit-learn container's default handlers
(CSV in, JSON out). Outcrop is measured end to end: boto3 -> HTTP -> sagemaker-runtime -> the endpoint's
worker process (socket) -> decode, predict, encode -> back. The baseline loads the same archive with the
same handler code in this process and calls it directly: what is left is the price of the server and the
process hop (the worker hop alone is measured too). Latency is sequential calls; throughput is 4 client
threads against 1 and 2 instances.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from common import RunningServer  # common also puts the repository on sys.path
from outcrop.app import App
from outcrop.config import Settings
from outcrop.services.sagemaker.serving import archive
from outcrop.services.sagemaker.serving.handlers import ModelHandler, RequestContext
from outcrop.services.sagemaker.serving.spec import VariantSpec

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
BODY = b"0.5,1.5\n-2.0,0.3\n1.1,-0.4\n"
CALLS = 500
SECONDS = 5.0
THREADS = 4


def latencies(call: Callable[[], object], count: int) -> list[float]:
    for _ in range(20):
        call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def throughput(make_call: Callable[[], Callable[[], object]], threads: int, seconds: float) -> float:
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def run(index: int) -> None:
        call = make_call()
        while time.perf_counter() < stop:
            call()
            done[index] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(done) / seconds


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"  {name:<47} p50 {statistics.median(times):7.2f} ms   p99 {p99:7.2f} ms"


def main() -> None:
    from tests.sagemaker_hosting.archives import sklearn_archive  # importable once common set sys.path

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        app = App(Settings(data_dir=data_dir))
        app.objects.create_bucket("bench", "us-east-1")
        app.objects.put_object("bench", "sk/model.tar.gz", sklearn_archive())

        model_dir = Path(tmp) / "inprocess"
        archive.fetch(app.objects, "s3://bench/sk/model.tar.gz", model_dir)
        handler = ModelHandler("sklearn", str(model_dir), None, {}, unique=False)

        def in_process() -> object:
            _, parts = handler.answer(BODY, "text/csv", "application/json", RequestContext())
            return b"".join(parts)

        expected = in_process()
        for name, count in (("one", 1), ("two", 2)):
            spec = VariantSpec("AllTraffic", "sk", IMAGE, "s3://bench/sk/model.tar.gz", instance_count=count)
            app.sagemaker_hosting.deploy(name, [spec])
        hosting = app.sagemaker_hosting
        hop = latencies(
            lambda: hosting.invoke("one", BODY, content_type="text/csv", accept="application/json"), CALLS
        )
        hosting.close()

        server = RunningServer(data_dir).start()
        try:

            def client_call(endpoint: str) -> Callable[[], object]:
                runtime = server.client("sagemaker-runtime")

                def call() -> object:
                    response = runtime.invoke_endpoint(
                        EndpointName=endpoint, Body=BODY, ContentType="text/csv", Accept="application/json"
                    )
                    body = response["Body"].read()
                    assert body == expected, body
                    return body

                return call

            client_call("two")()  # the restarted server brings endpoints back on their first call
            base = latencies(in_process, CALLS)
            ours = latencies(client_call("one"), CALLS)
            base_rate = throughput(lambda: in_process, THREADS, SECONDS)
            one_rate = throughput(lambda: client_call("one"), THREADS, SECONDS)
            two_rate = throughput(lambda: client_call("two"), THREADS, SECONDS)
        finally:
            server.stop()

    print(f"\nSageMaker InvokeEndpoint, scikit-learn LogisticRegression, 3-row CSV, {CALLS} sequential calls")
    print(summary("in-process handlers (baseline)", base))
    print(summary("EndpointHosting.invoke in-process (worker hop)", hop))
    print(summary("Outcrop invoke_endpoint via boto3, 1 instance", ours))
    print(f"  latency ratio (p50) {statistics.median(ours) / statistics.median(base):.1f}x")
    print(f"\nThroughput, {THREADS} client threads, {SECONDS:.0f} s each")
    print(f"  in-process handlers (baseline)  {base_rate:8.1f} calls/s")
    print(f"  Outcrop, 1 instance             {one_rate:8.1f} calls/s   ratio {one_rate / base_rate:.3f}")
    print(f"  Outcrop, 2 instances            {two_rate:8.1f} calls/s   ratio {two_rate / base_rate:.3f}")


if __name__ == "__main__":
    main()
