"""Measure second-stage ranking levers against the ranking search_docs serves, on one index.

Usage: python scripts/ranking_levers.py LABELS --db DIR [--json FILE] [--skip-slow] [--stages]
       [--expansions FILE]

The reference is `DocsService.search` itself (the search_docs code path). Every
lever re-ranks the same candidate lists the service's retrievers return
(Snapshot.vector_search / keyword_search), so a difference can only come from
the lever. Levers that change what the keyword index sees build a scratch BM25
table in a temporary folder; levers that need extra vectors embed them with the
index's own model. Each line reports hit@5, MRR@10 and the paired difference in
MRR@10 to the served ranking with its 95% bootstrap interval, using the same
metric code as `docs-mcp eval`.

Not a test and not shipped behaviour: the levers here were measured and left
out (corpus/guides/evaluating-retrieval.md says why). Running it again on new
labels is how to check that conclusion.

With --expansions (or labels that carry `keywords` / `hypothetical_answer`), it also
measures the design choices of guided search (scripts/guided_levers.py): each search
of a guided call left out, and other ways of keeping the question's pages in reach,
on the real expansions and on the shuffled control.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import guided_levers
import lancedb
import numpy as np
import pyarrow as pa
from _bench_util import StageTimes
from lancedb.index import FTS

from docs_mcp.config import Settings
from docs_mcp.embed import FastEmbedder
from docs_mcp.evaluation import (
    load_labels,
    outcome_of,
    paired_difference,
    run_queries,
    summarise,
    with_expansions,
)
from docs_mcp.ranking import RankedList, RankingConfig, rank_documents
from docs_mcp.search import DocsService, build_hits
from docs_mcp.store import IndexStore, _match

SERVED = RankingConfig()
DEPTH = SERVED.candidates  # chunks per retriever, as served
RRF_K = SERVED.rrf_k
WIDE = 200  # what the levers that look deeper may use

Candidates = list[tuple[str, float]]  # (chunk id, retriever score), best first
Ranker = Callable[[dict[str, Any]], list[str]]  # one query's candidates -> doc ids, best first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--db", required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-slow", action="store_true", help="skip levers that embed extra text")
    parser.add_argument("--stages", action="store_true", help="also time each stage of the served search")
    parser.add_argument("--expansions", type=Path, help="assistant expansions: also measure guided search")
    args = parser.parse_args()

    settings = Settings.from_env()
    embedder = FastEmbedder(settings.model, settings.cache_dir, threads=2)
    labels = load_labels(args.labels)
    if args.expansions is not None:
        labels = with_expansions(labels, args.expansions)
    service = DocsService(IndexStore(args.db), lambda: embedder, model=settings.model, ranking=SERVED)
    served = run_queries(service, labels, "hybrid")
    snapshot = service.snapshot()
    index = _read_index(args.db)
    path_of = {doc_id: row["path"] for doc_id, row in snapshot.docs.items()}
    doc_of = dict(zip(index["ids"], index["doc_ids"], strict=True))

    queries = []
    for label in labels:
        text = " ".join(label.query.split())
        vector = embedder.embed_query(text)
        queries.append(
            {
                "text": text,
                "vector": vector / np.linalg.norm(vector),
                "vec": [(r["id"], 1.0 - r["_distance"]) for r in snapshot.vector_search(vector, WIDE)],
                "kw": [(r["id"], r["_score"]) for r in snapshot.keyword_search(text, WIDE)],
            }
        )

    def docs(candidates: Candidates) -> Candidates:
        best: dict[str, float] = {}
        for chunk_id, score in candidates:
            best.setdefault(doc_of[chunk_id], score)
        return list(best.items())

    levers: dict[str, Ranker] = {
        "re-ranked here as served (must be +0.000)": lambda q: rrf(
            [docs(q["vec"][:DEPTH]), docs(q["kw"][:DEPTH])]
        ),
        "rrf k=10": lambda q: rrf([docs(q["vec"][:DEPTH]), docs(q["kw"][:DEPTH])], k=10),
        "convex 0.5 min-max": lambda q: convex(docs(q["vec"][:DEPTH]), docs(q["kw"][:DEPTH]), 0.5, "minmax"),
        "convex 0.7 theoretical-min": lambda q: convex(
            docs(q["vec"][:DEPTH]), docs(q["kw"][:DEPTH]), 0.7, "zero"
        ),
        "keyword list x2 when the query names an identifier": lambda q: rrf(
            [docs(q["vec"][:DEPTH]), docs(q["kw"][:DEPTH])],
            weights=[1.0, 2.0 if names_identifier(q["text"]) else 1.0],
        ),
        "several chunks per page (decay 1/4)": lambda q: several_chunks(
            [q["vec"][:DEPTH], q["kw"][:DEPTH]], doc_of, 0.25
        ),
    }
    for variant in ("title twice", "camel case split"):
        keyword = _scratch_bm25(index, snapshot.docs, variant, [q["text"] for q in queries])
        for q, hits in zip(queries, keyword, strict=True):
            q[variant] = hits
        levers[f"BM25: {variant}"] = _with_keyword(variant, docs)
    if not args.skip_slow:
        titles = _page_vectors(embedder, snapshot.docs)
        for q in queries:
            similarity = titles["matrix"] @ q["vector"]
            top = np.argsort(-similarity)[:DEPTH]
            q["titles"] = [(titles["ids"][i], float(similarity[i])) for i in top]
        levers["third list: page title + outline vectors"] = lambda q: rrf(
            [docs(q["vec"][:DEPTH]), docs(q["kw"][:DEPTH]), q["titles"]]
        )
        adapter = _heading_adapter(embedder, index, snapshot.docs)
        for q in queries:
            adapted = q["vector"] @ adapter
            adapted /= np.linalg.norm(adapted)
            similarity = index["matrix"] @ (0.5 * q["vector"] + 0.5 * adapted)
            top = np.argsort(-similarity)[:DEPTH]
            q["adapted"] = [(index["ids"][i], float(similarity[i])) for i in top]
        levers["query adapter learned from headings"] = lambda q: rrf(
            [docs(q["adapted"]), docs(q["kw"][:DEPTH])]
        )

    report: dict[str, Any] = {"served": summarise(served), "levers": {}}
    if args.stages:
        report["stages_ms"] = stage_costs(service, [q["text"] for q in queries])
    print(f"{'served ranking':45s} {_line(summarise(served))}")
    for name, ranker in levers.items():
        outcomes = [
            outcome_of(label, [path_of[d] for d in ranker(q)][:10], 0.0)
            for label, q in zip(labels, queries, strict=True)
        ]
        summary = summarise(outcomes)
        delta = paired_difference(outcomes, served, "mrr@10")
        report["levers"][name] = {"metrics": summary, "mrr_vs_served": delta}
        low, high = delta["ci95"]
        print(f"{name:45s} {_line(summary)}  dMRR {delta['mean']:+.3f} [{low:+.3f}, {high:+.3f}]")
    if any(label.guided for label in labels):
        report["guided"] = guided_levers.measure(service, labels, embedder)
        if args.stages:
            report["guided"]["stages_ms"] = guided_levers.stage_costs(service, labels)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


def _with_keyword(name: str, docs: Callable[[Candidates], Candidates]) -> Ranker:
    """The served fusion, with the keyword list `name` in place of the served one."""
    return lambda q: rrf([docs(q["vec"][:DEPTH]), docs(q[name][:DEPTH])])


# -- rankers ---------------------------------------------------------------------------------


def rrf(lists: Sequence[Candidates], k: int = RRF_K, weights: Sequence[float] | None = None) -> list[str]:
    scores: dict[str, float] = defaultdict(float)
    for position, ranked in enumerate(lists):
        weight = 1.0 if weights is None else weights[position]
        for rank, (doc_id, _) in enumerate(ranked):
            scores[doc_id] += weight / (k + rank + 1)
    return sorted(scores, key=lambda d: (-scores[d], d))


def convex(vector: Candidates, keyword: Candidates, alpha: float, floor: str) -> list[str]:
    """alpha * normalised cosine + (1 - alpha) * normalised BM25 (floor "zero": TM2C2's minimum)."""

    def normalised(ranked: Candidates) -> dict[str, float]:
        if not ranked:
            return {}
        high = max(s for _, s in ranked)
        low = min(s for _, s in ranked) if floor == "minmax" else 0.0
        return {d: (s - low) / (high - low + 1e-9) for d, s in ranked}

    v, k = normalised(vector), normalised(keyword)
    scores = {d: alpha * v.get(d, 0.0) + (1 - alpha) * k.get(d, 0.0) for d in v.keys() | k.keys()}
    return sorted(scores, key=lambda d: (-scores[d], d))


def several_chunks(lists: Sequence[Candidates], doc_of: dict[str, str], decay: float) -> list[str]:
    """A page's n-th matching chunk in a list adds decay**n of its reciprocal rank."""
    scores: dict[str, float] = defaultdict(float)
    for ranked in lists:
        seen: dict[str, int] = defaultdict(int)
        for rank, (chunk_id, _) in enumerate(ranked):
            doc_id = doc_of[chunk_id]
            scores[doc_id] += decay ** seen[doc_id] / (RRF_K + rank + 1)
            seen[doc_id] += 1
    return sorted(scores, key=lambda d: (-scores[d], d))


# -- extra evidence ------------------------------------------------------------------------------

IDENTIFIER = re.compile(
    r"`[^`]+`|\b[a-z]+_[a-z0-9_]+\b|\b\w+\.\w+(\.\w+)*\b|\b[a-z]+[A-Z]\w*\b|\b[A-Z][a-z]+[A-Z]\w*\b|(?<!\w)--?[a-z][\w-]*"
)


def names_identifier(query: str) -> bool:
    """`code`, snake_case, dotted.names, camelCase, CamelCase or a --flag."""
    return IDENTIFIER.search(query) is not None


CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
CAMEL_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*[A-Z][A-Za-z0-9_]*")


def split_camel_case(text: str) -> str:
    parts = [" ".join(CAMEL_BOUNDARY.split(m.group())) for m in CAMEL_WORD.finditer(text)]
    return "\n".join([text, *[p for p in parts if " " in p]])


def _read_index(db: str) -> dict[str, Any]:
    chunks = lancedb.connect(db).open_table("chunks").to_arrow()
    matrix = np.asarray(chunks["vector"].to_pylist(), dtype=np.float32)
    return {
        "ids": chunks["id"].to_pylist(),
        "doc_ids": chunks["doc_id"].to_pylist(),
        "headings": chunks["heading_path"].to_pylist(),
        "search_text": chunks["search_text"].to_pylist(),
        "matrix": matrix / np.linalg.norm(matrix, axis=1, keepdims=True),
    }


def _scratch_bm25(
    index: dict[str, Any], docs: dict[str, dict[str, Any]], variant: str, queries: list[str]
) -> list[Candidates]:
    if variant == "title twice":
        texts = [
            docs[d]["title"] + "\n" + t for d, t in zip(index["doc_ids"], index["search_text"], strict=True)
        ]
    else:
        texts = [split_camel_case(t) for t in index["search_text"]]
        queries = [split_camel_case(q) for q in queries]
    with tempfile.TemporaryDirectory() as folder:
        table = lancedb.connect(folder).create_table(
            "c", pa.table({"id": index["ids"], "search_text": texts})
        )
        table.create_index("search_text", config=FTS(with_position=False))
        return [
            [(r["id"], r["_score"]) for r in table.search(_match(q), query_type="fts").limit(WIDE).to_list()]
            for q in queries
        ]


def _page_vectors(embedder: FastEmbedder, docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ids = sorted(docs)
    texts = []
    for doc_id in ids:
        headings = [h[1] for h in json.loads(docs[doc_id].get("outline") or "[]") if h[0] >= 2]
        texts.append(docs[doc_id]["title"] + (": " + "; ".join(headings) if headings else ""))
    matrix = embedder.embed_documents(texts)
    return {"ids": ids, "matrix": matrix / np.linalg.norm(matrix, axis=1, keepdims=True)}


def _heading_adapter(
    embedder: FastEmbedder, index: dict[str, Any], docs: dict[str, dict[str, Any]], ridge: float = 10.0
) -> np.ndarray:
    """A linear map from query space to chunk space, fitted on the corpus's own headings:
    each chunk's last heading (its page title for the first) stands in for a question about it."""
    pseudo = [
        h.split(" > ")[-1] if h else docs[d]["title"]
        for h, d in zip(index["headings"], index["doc_ids"], strict=True)
    ]
    x = embedder.embed_documents(pseudo)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    eye = np.eye(x.shape[1], dtype=np.float32)
    return np.linalg.solve(x.T @ x + ridge * eye, x.T @ index["matrix"] + ridge * eye)


def stage_costs(service: DocsService, queries: list[str], rounds: int = 3) -> dict[str, dict[str, Any]]:
    """p50 / p95 milliseconds of each stage of the served search, run one after another.

    The service overlaps the keyword stage with embedding and vector search on its pool, so
    a whole search costs less than the sum; "whole search" is DocsService.search itself."""
    snapshot = service.snapshot()
    embedder = service.embedder
    depth = service.ranking.candidates
    stages = StageTimes()

    for _ in range(rounds):
        for text in queries:
            with stages.timed("query embedding"):
                vector = embedder.embed_query(text)
            with stages.timed("vector search"):
                found = snapshot.vector_search(vector, depth)
            with stages.timed("keyword search (BM25)"):
                matched = snapshot.keyword_search(text, depth)
            with stages.timed("fusion"):
                ranked = rank_documents([RankedList("vector", found), RankedList("keyword", matched)], SERVED)
            with stages.timed("reading the 10 hits"):
                build_hits(ranked, snapshot, 10)
            with stages.timed("whole search"):
                service.search(text, limit=10)
    return stages.report(45)


# -- reporting -------------------------------------------------------------------------------------


def _line(summary: dict[str, Any]) -> str:
    return f"hit@5 {summary['hit@5']['mean']:.3f}  MRR@10 {summary['mrr@10']['mean']:.3f}"


if __name__ == "__main__":
    main()
