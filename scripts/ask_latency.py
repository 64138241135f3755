"""Measure ask_docs on the bundled docs (corpus/): extractive in-process, and sampled over the
SDK's in-memory client with a deterministic sampling callback (no model time, so what is left is
docs-mcp's own cost plus the protocol's round trips). Not a test; prints JSON.

    .venv/bin/python scripts/ask_latency.py [--rounds 3]

The questions are the labelled ones in tests/data/corpus-questions.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, types

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_util import latency_summary

from docs_mcp import ask
from docs_mcp.budget import DEFAULT_MAX_TOKENS
from docs_mcp.config import bundled_corpus
from docs_mcp.embed import FastEmbedder
from docs_mcp.evaluation import load_labels
from docs_mcp.indexer import index_corpus
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.store import IndexStore

MODEL = "all-MiniLM-L6-v2-int8"
QUESTIONS = Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus-questions.jsonl"


async def deterministic_model(context: Any, params: types.CreateMessageRequestParams) -> Any:
    text = params.messages[0].content.text  # type: ignore[union-attr]
    first = text.split('cite="', 1)[1].split('"', 1)[0]
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=f"See [{first}]."), model="det"
    )


async def timed_calls(server: Any, questions: list[str], **client: Any) -> list[float]:
    durations = []
    async with Client(server, **client) as session:
        for question in questions:
            started = time.perf_counter()
            result = await session.call_tool("ask_docs", {"question": question})
            durations.append(time.perf_counter() - started)
            assert not result.is_error, result.content
    return durations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [label.query for label in load_labels(QUESTIONS)]
    with tempfile.TemporaryDirectory() as scratch:
        embedder = FastEmbedder(MODEL, Path(scratch) / "cache")
        store = IndexStore(str(Path(scratch) / "index"))
        index_corpus(bundled_corpus(), store, embedder)
        service = DocsService(store, lambda: embedder, model=MODEL)
        service.search("warm up")

        extractive, search_only, passages = [], [], []
        for _ in range(args.rounds):
            for question in questions:
                started = time.perf_counter()
                service.search(question, ask.DEFAULT_PASSAGES)
                search_only.append(time.perf_counter() - started)
                started = time.perf_counter()
                retrieval = ask.retrieve(service, question, ask.DEFAULT_PASSAGES, DEFAULT_MAX_TOKENS)
                ask.fit_answer(ask.extractive(retrieval, None), DEFAULT_MAX_TOKENS)
                extractive.append(time.perf_counter() - started)
                passages.append(sum(len(p.text) for p in retrieval.passages))

        server = build_server(service)
        sampled: dict[str, list[float]] = {"2026-07-28": [], "handshake": []}
        no_sampling: list[float] = []
        for _ in range(args.rounds):
            sampled["2026-07-28"] += anyio.run(
                lambda: timed_calls(server, questions, sampling_callback=deterministic_model)
            )
            sampled["handshake"] += anyio.run(
                lambda: timed_calls(server, questions, sampling_callback=deterministic_model, mode="legacy")
            )
            no_sampling += anyio.run(lambda: timed_calls(server, questions))

    print(
        json.dumps(
            {
                "questions": len(questions),
                "rounds": args.rounds,
                "search_only_in_process": latency_summary(search_only),
                "extractive_in_process": latency_summary(extractive),
                "passage_chars_p50": sorted(passages)[len(passages) // 2],
                "ask_docs_in_memory_extractive": latency_summary(no_sampling),
                "ask_docs_in_memory_sampled_2026_07_28": latency_summary(sampled["2026-07-28"]),
                "ask_docs_in_memory_sampled_handshake": latency_summary(sampled["handshake"]),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
