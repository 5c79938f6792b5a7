"""`outcrop serve`: start the server."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def _load_blas_single_threaded() -> None:
    """Load numpy's OpenBLAS with one thread. The server's own matrix work is small (embedding projections),
    while a multi-threaded OpenBLAS in the process slowed onnxruntime's runs next to it: embeddings through
    invoke_model went from 0.58-0.71 to 0.85-0.96 of raw onnxruntime's throughput (bench_embeddings.py).
    Setting the thread count later, at run time, did not help. OpenBLAS reads the variable once, as it
    loads, so it is put back at once and child processes (training, endpoints, functions) keep the default."""
    import os

    previous = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        import numpy  # noqa: F401
    finally:
        if previous is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = previous


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="outcrop", description="The AWS AI stack on one local server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 4566)")
    serve.add_argument("--data-dir", type=Path, help="where state is kept (default ~/.local/share/outcrop)")
    serve.add_argument("--config", type=Path, help="a TOML settings file")
    serve.add_argument("--catalog", type=Path, help="a model catalog replacing the bundled one")
    serve.add_argument("--fake-models", action="store_true", default=None, help="deterministic fake models")
    serve.add_argument(
        "--app",
        action="append",
        type=Path,
        dest="apps",
        metavar="TEMPLATE",
        help="a SAM template.yaml whose functions and API routes to serve (repeatable)",
    )
    serve.add_argument(
        "--function",
        action="append",
        dest="functions",
        metavar="NAME=PATH/MODULE.HANDLER",
        help="one Lambda handler behind an HTTP API taking every path, e.g. hi=src/app.handler (repeatable)",
    )
    serve.add_argument(
        "--parameter-overrides",
        action="append",
        dest="app_parameters",
        metavar="KEY=VALUE",
        help="a template Parameter's value, as sam deploy's --parameter-overrides (repeatable)",
    )
    args = parser.parse_args(argv)
    _load_blas_single_threaded()

    import uvicorn

    from outcrop.config import load_settings
    from outcrop.protocol.bad_http import AwsHttpToolsProtocol
    from outcrop.server import build_app

    settings = load_settings(
        args.config,
        {
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "catalog": args.catalog,
            "fake_models": args.fake_models,
            "apps": args.apps,
            "functions": args.functions,
            "app_parameters": dict(p.split("=", 1) for p in args.app_parameters if "=" in p)
            if args.app_parameters
            else None,
        },
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from outcrop.lambdas.spec import AppError

    try:
        app = build_app(settings)
    except AppError as exc:  # a template or --function that cannot run: say which and why, no traceback
        parser.exit(2, f"outcrop: {exc}\n")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        loop="uvloop",
        http=AwsHttpToolsProtocol,  # httptools, answering malformed HTTP with an AWS error document
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
