"""Bench: faithful RAG. RetrieveAndGenerate, with its grounding check, against the same model's unchecked
answers, on documents and questions written for the bench (`rag_faithfulness_data.py`), through boto3.

A real-model server; a knowledge base on Titan Embeddings v2 (all-MiniLM-L6-v2), one chunk per document;
answers from Claude 3 Sonnet's id (Qwen2.5-Coder-1.5B) or, with `--model haiku`, Claude 3 Haiku's
(Qwen2.5-Coder-0.5B), temperature 0, 3 results. The baseline is the
unchecked answer to the same prompt: Retrieve's results put into RetrieveAndGenerate's own prompt
(`rag.generate.build_request`) and sent through Converse, cited by word overlap (`rag.generate.attribute`),
as Outcrop did before the check. Figures for both:
- answer accuracy: answerable questions answered with a right string (a number or name from the document);
- answers kept: answerable questions not refused;
- refusals: unanswerable questions answered with a refusal (Bedrock's fallback text; for the baseline, the
  model's own "could not find");
- citation precision: cited references that are the question's document (answerable questions).
Outcrop's answers include its extractive second try (asked when no sentence of the first answer passed the
check), so its "seconds" hold that generation too; `--rescore` replays the check on first answers only.
Each figure is printed for the dev half of the questions (the check was designed on it), the held-out half
(written before the check, never used to shape it) and all of them.
Run: `.venv/bin/python bench/bench_rag_faithfulness.py [--model sonnet|haiku] [--half dev|held-out]
[--answerable N] [--unanswerable N] [--out FILE]`. `--rescore FILE` replays the check in-process on a run's
saved unchecked answers (the same detector with the real MiniLM embedder; no chat model); its "seconds"
row is then the check's own time per answer, the baseline's the whole unchecked answer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import outcrop_server
from outcrop.rag.generate import attribute, build_request
from outcrop.rag.grounding import FALLBACK, is_refusal
from outcrop.storage.vectors import Hit
from rag_faithfulness_data import ANSWERABLE, DOCUMENTS, UNANSWERABLE, held_out

MODELS = {
    "sonnet": "anthropic.claude-3-sonnet-20240229-v1:0",  # Qwen2.5-Coder-1.5B
    "haiku": "anthropic.claude-3-haiku-20240307-v1:0",  # Qwen2.5-Coder-0.5B
}
RESULTS = 3
INFERENCE = {"maxTokens": 80, "temperature": 0.0}


def document_of(reference: dict[str, Any]) -> str:
    return str(reference["location"]["s3Location"]["uri"]).rpartition("/")[2]


def checked(runtime: Any, kb_id: str, model: str, question: str) -> dict[str, Any]:
    """Outcrop's RetrieveAndGenerate: its text, whether it refused, and the documents each citation cites."""
    started = time.perf_counter()
    response = runtime.retrieve_and_generate(
        input={"text": question},
        retrieveAndGenerateConfiguration={
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {
                "knowledgeBaseId": kb_id,
                "modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model}",
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


def unchecked(runtime: Any, bedrock: Any, kb_id: str, model: str, question: str) -> dict[str, Any]:
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
        modelId=model,
        system=[{"text": system}],
        messages=[{"role": "user", "content": [{"text": question}]}],
        inferenceConfig=INFERENCE,
    )
    raw = response["output"]["message"]["content"][0]["text"]
    text, runs = attribute(raw, hits)
    refused = not text or is_refusal(text)
    cited = [hits[index].document_id for run in runs for index in run.sources]
    seconds = time.perf_counter() - started
    passages = [hit.text for hit in hits]  # kept, with the raw answer, to replay the check offline
    return {
        "text": text,
        "refused": refused,
        "cited": cited,
        "seconds": seconds,
        "raw": raw,
        "passages": passages,
        "documents": [hit.document_id for hit in hits],
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


def replay(rows: list[dict[str, Any]], embedder: Any) -> None:
    """The check (`rag.grounding.AnswerCheck`, as RetrieveAndGenerate runs it) on each row's saved unchecked
    answer and passages, stored as the row's "rescored" answer."""
    from outcrop.backends.grounding import EvidenceDetector
    from outcrop.rag.generate import sentences
    from outcrop.rag.grounding import AnswerCheck

    detector = EvidenceDetector("evidence", "all-minilm-l6-v2")
    for row in rows:
        passages = row["baseline"]["passages"]
        documents = row["baseline"].get("documents") or [str(n) for n in range(len(passages))]
        hits = [Hit(str(n), documents[n], text, {}, None, 0.0) for n, text in enumerate(passages)]
        started = time.perf_counter()
        check = AnswerCheck(detector, embedder, row["question"], hits)
        for sentence in sentences(row["baseline"]["raw"], len(hits)):
            if check.settled:
                break
            check.add(sentence)
        text, runs = check.answer()
        seconds = time.perf_counter() - started  # the check's own time: what it adds to an answer
        cited = [hits[index].document_id for run in runs for index in run.sources]
        row["rescored"] = {"text": text, "refused": text == FALLBACK, "cited": cited, "seconds": seconds}


def rescore(path: str, verbose: bool, half: str) -> None:
    """The check's figures on a run's saved unchecked answers, per half, without a chat model."""
    from outcrop.backends.registry import ModelRegistry
    from outcrop.catalog import BUNDLED, load_catalog
    from outcrop.config import default_model_cache
    from outcrop.services.bedrock_runtime.bodies.registry import BODY_FORMATS

    with open(path) as file:
        rows = [row for row in json.load(file) if "baseline" in row]
    if half != "all":
        rows = [row for row in rows if held_out(row["document"], row["question"]) == (half == "held-out")]
    catalog = load_catalog(BUNDLED, BODY_FORMATS)
    embedder = ModelRegistry(catalog.local, default_model_cache()).embedder("all-minilm-l6-v2")
    replay(rows, embedder)
    if verbose:
        for row in rows:
            wrong = row["rescored"]["refused"] != (row["expected"] is None)
            print(f"{'!!' if wrong else '  '} {row['question']}\n     {row['baseline']['raw']!r}")
            print(f"     -> {row['rescored']['text']!r}")
    report(rows, ("rescored", "baseline"))


def halves(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    dev = [row for row in rows if not held_out(row["document"], row["question"])]
    held = [row for row in rows if held_out(row["document"], row["question"])]
    return [(name, part) for name, part in (("dev", dev), ("held-out", held), ("all", rows)) if part]


def report(rows: list[dict[str, Any]], names: tuple[str, str]) -> None:
    """Each figure for both systems and their ratio, for each half of the questions."""
    for half, part in halves(rows):
        ours = figures(part, names[0])
        theirs = figures(part, names[1]) if names[1] in part[0] else ours  # ratio 1.00: not measured
        answerable = sum(row["expected"] is not None for row in part)
        print(f"\n{half}: {answerable} answerable and {len(part) - answerable} unanswerable questions")
        print(f"{'':22s}{'Outcrop (checked)':>20s}{'unchecked baseline':>20s}{'ratio':>8s}")
        for key in ("accuracy", "kept", "refusals", "citation_precision", "seconds"):
            ratio = ours[key] / theirs[key] if theirs[key] else float("inf")
            print(f"{key:22s}{ours[key]:20.3f}{theirs[key]:20.3f}{ratio:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=sorted(MODELS), default="sonnet")
    parser.add_argument("--half", choices=("dev", "held-out", "all"), default="all")
    parser.add_argument("--answerable", type=int, default=len(ANSWERABLE))
    parser.add_argument("--answerable-from", type=int, default=0, help="skip the first N answerable")
    parser.add_argument("--unanswerable", type=int, default=len(UNANSWERABLE))
    parser.add_argument("--out", help="write every answer here as JSON")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--no-baseline", action="store_true", help="Outcrop's answers only (half the time)")
    parser.add_argument("--baseline-only", action="store_true", help="unchecked answers only, for --rescore")
    parser.add_argument("--rescore", help="replay the check on a saved run's unchecked answers")
    parser.add_argument("--verbose", action="store_true", help="with --rescore: every answer")
    parser.add_argument("--interleave", action="store_true", help="answerable and unanswerable in turn")
    parser.add_argument("--report", help="the figures of a saved run (of Outcrop's answers)")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore, args.verbose, args.half)
        return
    if args.report:
        with open(args.report) as file:
            saved = json.load(file)
        report(saved, ("outcrop", "baseline"))
        return
    model = MODELS[args.model]
    questions: list[tuple[str, str | None, tuple[str, ...] | None]] = [
        *(
            (q, doc, expected)
            for q, doc, expected in ANSWERABLE[args.answerable_from : args.answerable_from + args.answerable]
        ),
        *((q, None, None) for q in UNANSWERABLE[: args.unanswerable]),
    ]
    if args.half != "all":
        questions = [q for q in questions if held_out(q[1], q[0]) == (args.half == "held-out")]
    if args.interleave:  # answerable and unanswerable in turn, so a run cut short measures both
        kinds = [[q for q in questions if q[1] is not None], [q for q in questions if q[1] is None]]
        turns = itertools.zip_longest(*kinds)
        questions = [q for pair in turns for q in pair if q is not None]
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

        # the engine decodes up to 4 sequences together: both systems' answers to two questions at a time
        names = (
            ("outcrop",)
            if args.no_baseline
            else ("baseline",)
            if args.baseline_only
            else ("baseline", "outcrop")
        )
        lock = threading.Lock()

        def run(job: tuple[int, str]) -> None:
            row, name = rows[job[0]], job[1]
            if name == "baseline":
                row[name] = unchecked(runtime, bedrock, kb_id, model, row["question"])
            else:
                row[name] = checked(runtime, kb_id, model, row["question"])
            if args.out:  # as each answer comes: a run cut short still leaves what it measured
                with lock, open(args.out, "w") as out:
                    json.dump([row for row in rows if all(name in row for name in names)], out, indent=1)

        jobs = [(index, name) for index in range(len(rows)) for name in names]
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(run, jobs))
    for number, row in enumerate(rows, 1):
        ours = row.get("outcrop", {})
        print(
            f"{number:3d} {row['question']}\n    baseline: {row.get('baseline', {}).get('text')!r}\n"
            f"    outcrop:  {ours.get('text')!r} cites {ours.get('cited')}"
        )
    if args.out:
        with open(args.out, "w") as out:
            json.dump(rows, out, indent=1)
    print(f"\n{model}, {len(DOCUMENTS)} documents")
    if not args.baseline_only:
        report(rows, ("outcrop", "baseline"))


if __name__ == "__main__":
    main()
