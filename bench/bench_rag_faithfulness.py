"""Bench: faithful RAG. RetrieveAndGenerate, with its grounding check, against the same model's unchecked
answers, on documents and questions written for the bench (`rag_faithfulness_data.py`), through boto3.

A real-model server; a knowledge base on Titan Embeddings v2 (all-MiniLM-L6-v2), one chunk per document;
answers from Claude 3 Sonnet's id (Qwen2.5-Coder-1.5B), temperature 0, 3 results. The baseline is the
unchecked answer to the same prompt: Retrieve's results put into RetrieveAndGenerate's own prompt
(`rag.generate.build_request`) and sent through Converse, cited by word overlap (`rag.generate.attribute`),
as Outcrop did before the check. Figures for both:
- answer accuracy: answerable questions answered with a right string (a number or name from the document);
- answers kept: answerable questions not refused;
- refusals: unanswerable questions answered with a refusal (Bedrock's fallback text; for the baseline, the
  model's own "could not find");
- citation precision: cited references that are the question's document (answerable questions).
Run: `.venv/bin/python bench/bench_rag_faithfulness.py [--answerable N] [--unanswerable N] [--out FILE]`.
`--rescore FILE` replays the check in-process on a run's saved unchecked answers at several thresholds
(the same detector with the real MiniLM embedder; no chat model), to choose the threshold.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import outcrop_server
from outcrop.rag.generate import attribute, build_request
from outcrop.rag.grounding import FALLBACK, is_refusal
from outcrop.storage.vectors import Hit
from rag_faithfulness_data import ANSWERABLE, DOCUMENTS, UNANSWERABLE

MODEL = "anthropic.claude-3-sonnet-20240229-v1:0"
MODEL_ARN = f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"
RESULTS = 3
INFERENCE = {"maxTokens": 80, "temperature": 0.0}


def document_of(reference: dict[str, Any]) -> str:
    return str(reference["location"]["s3Location"]["uri"]).rpartition("/")[2]


def checked(runtime: Any, kb_id: str, question: str) -> dict[str, Any]:
    """Outcrop's RetrieveAndGenerate: its text, whether it refused, and the documents each citation cites."""
    started = time.perf_counter()
    response = runtime.retrieve_and_generate(
        input={"text": question},
        retrieveAndGenerateConfiguration={
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {
                "knowledgeBaseId": kb_id,
                "modelArn": MODEL_ARN,
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": RESULTS}},
                "generationConfiguration": {"inferenceConfig": {"textInferenceConfig": INFERENCE}},
            },
        },
    )
    text = response["output"]["text"]
    cited = [document_of(ref) for c in response["citations"] for ref in c["retrievedReferences"]]
    return {
        "text": text,
        "refused": text == FALLBACK,
        "cited": cited,
        "seconds": time.perf_counter() - started,
    }


def unchecked(runtime: Any, bedrock: Any, kb_id: str, question: str) -> dict[str, Any]:
    """The baseline: the same prompt through Converse, no check, citations by word overlap."""
    started = time.perf_counter()
    results = runtime.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": question},
        retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": RESULTS}},
    )["retrievalResults"]
    hits = [Hit(str(n), document_of(r), r["content"]["text"], {}, None, 0.0) for n, r in enumerate(results)]
    system = build_request(question, hits, [], None).messages[0].content
    response = bedrock.converse(
        modelId=MODEL,
        system=[{"text": system}],
        messages=[{"role": "user", "content": [{"text": question}]}],
        inferenceConfig=INFERENCE,
    )
    raw = response["output"]["message"]["content"][0]["text"]
    text, runs = attribute(raw, hits)
    refused = not text or is_refusal(text)
    cited = [hits[index].document_id for run in runs for index in run.sources]
    seconds = time.perf_counter() - started
    passages = [hit.text for hit in hits]  # kept, with the raw answer, to score other checks offline
    return {
        "text": text,
        "refused": refused,
        "cited": cited,
        "seconds": seconds,
        "raw": raw,
        "passages": passages,
    }


def figures(rows: list[dict[str, Any]], name: str) -> dict[str, float]:
    answerable = [row for row in rows if row["expected"] is not None]
    unanswerable = [row for row in rows if row["expected"] is None]
    right = sum(
        1
        for row in answerable
        if not row[name]["refused"] and any(s.lower() in row[name]["text"].lower() for s in row["expected"])
    )
    cited = [(doc, row["document"]) for row in answerable for doc in row[name]["cited"]]
    return {
        "accuracy": right / len(answerable) if answerable else 0.0,
        "kept": sum(not row[name]["refused"] for row in answerable) / len(answerable) if answerable else 0.0,
        "refusals": sum(row[name]["refused"] for row in unanswerable) / len(unanswerable)
        if unanswerable
        else 0.0,
        "citation_precision": sum(doc == want for doc, want in cited) / len(cited) if cited else 0.0,
        "seconds": sum(row[name]["seconds"] for row in rows) / len(rows),  # per answer, under concurrency
    }


def rescore(path: str) -> None:
    """Answer accuracy, kept and refusals of the check at several grounding thresholds, on saved answers."""
    from outcrop.backends.grounding import EvidenceDetector
    from outcrop.backends.registry import ModelRegistry
    from outcrop.catalog import BUNDLED, load_catalog
    from outcrop.config import default_model_cache
    from outcrop.rag import grounding
    from outcrop.rag.generate import sentences
    from outcrop.rag.grounding import AnswerCheck
    from outcrop.services.bedrock_runtime.bodies.registry import BODY_FORMATS

    with open(path) as file:
        rows = json.load(file)
    catalog = load_catalog(BUNDLED, BODY_FORMATS)
    embedder = ModelRegistry(catalog.local, default_model_cache()).embedder("all-minilm-l6-v2")
    for use_embedder in (False, True):
        for threshold in (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
            grounding.GROUNDING_THRESHOLD = threshold
            for row in rows:
                hits = [
                    Hit(str(n), str(n), text, {}, None, 0.0)
                    for n, text in enumerate(row["baseline"]["passages"])
                ]
                detector = EvidenceDetector("evidence", "all-minilm-l6-v2" if use_embedder else None)
                check = AnswerCheck(detector, embedder if use_embedder else None, row["question"], hits)
                for sentence in sentences(row["baseline"]["raw"], len(hits)):
                    if check.settled:
                        break
                    check.add(sentence)
                text, _ = check.answer()
                row["rescored"] = {"text": text, "refused": text == FALLBACK, "cited": [], "seconds": 0.0}
            result = figures(rows, "rescored")
            print(
                f"embedder={use_embedder!s:5} threshold={threshold:.2f} accuracy={result['accuracy']:.3f} "
                f"kept={result['kept']:.3f} refusals={result['refusals']:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--answerable", type=int, default=len(ANSWERABLE))
    parser.add_argument("--answerable-from", type=int, default=0, help="skip the first N answerable")
    parser.add_argument("--unanswerable", type=int, default=len(UNANSWERABLE))
    parser.add_argument("--out", help="write every answer here as JSON")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--no-baseline", action="store_true", help="Outcrop's answers only (half the time)")
    parser.add_argument("--rescore", help="replay the check on a saved run at several thresholds")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore)
        return
    questions: list[tuple[str, str | None, tuple[str, ...] | None]] = [
        *(
            (q, doc, expected)
            for q, doc, expected in ANSWERABLE[args.answerable_from : args.answerable_from + args.answerable]
        ),
        *((q, None, None) for q in UNANSWERABLE[: args.unanswerable]),
    ]
    # the test suite's knowledge-base helpers (importable once `common` has put the repository on sys.path)
    from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket, ingest

    with outcrop_server(fake_models=False) as server:
        agent, s3 = server.client("bedrock-agent"), server.client("s3")
        runtime, bedrock = server.client("bedrock-agent-runtime"), server.client("bedrock-runtime")
        kb_id = create_knowledge_base(agent)
        bucket = fill_bucket(s3, {f"docs/{name}": text.encode() for name, text in DOCUMENTS.items()})
        chunking = {"chunkingConfiguration": {"chunkingStrategy": "NONE"}}
        data_source = create_data_source(agent, kb_id, bucket, vectorIngestionConfiguration=chunking)
        job = ingest(agent, kb_id, data_source, timeout=300)
        assert job["status"] == "COMPLETE", job
        rows: list[dict[str, Any]] = [
            {"question": question, "document": document, "expected": expected}
            for question, document, expected in questions
        ]

        def run(job: tuple[int, str]) -> None:
            row, name = rows[job[0]], job[1]
            if name == "baseline":
                row[name] = unchecked(runtime, bedrock, kb_id, row["question"])
            else:
                row[name] = checked(runtime, kb_id, row["question"])

        # the engine decodes up to 4 sequences together: both systems' answers to two questions at a time
        names = ("outcrop",) if args.no_baseline else ("baseline", "outcrop")
        jobs = [(index, name) for index in range(len(rows)) for name in names]
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(run, jobs))
    for number, row in enumerate(rows, 1):
        print(
            f"{number:3d} {row['question']}\n    baseline: {row.get('baseline', {}).get('text')!r}\n"
            f"    outcrop:  "
            f"{row['outcrop']['text']!r} cites {row['outcrop']['cited']}"
        )
    if args.out:
        with open(args.out, "w") as out:
            json.dump(rows, out, indent=1)
    ours = figures(rows, "outcrop")
    theirs = ours if args.no_baseline else figures(rows, "baseline")  # ratio 1.00 then: not measured
    answerable = sum(row["expected"] is not None for row in rows)
    print(
        f"\n{answerable} answerable and {len(rows) - answerable} unanswerable questions, "
        f"{len(DOCUMENTS)} documents"
    )
    print(f"{'':22s}{'Outcrop (checked)':>20s}{'unchecked baseline':>20s}{'ratio':>8s}")
    for key in ("accuracy", "kept", "refusals", "citation_precision", "seconds"):
        ratio = ours[key] / theirs[key] if theirs[key] else float("inf")
        print(f"{key:22s}{ours[key]:20.3f}{theirs[key]:20.3f}{ratio:8.2f}")


if __name__ == "__main__":
    main()
