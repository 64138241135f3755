"""Pure: ranked chunk lists in, one ranked list of documents out.

Each retriever (vector search, BM25) gives chunks, best first. Each list is
first collapsed to documents (a document ranks where its best chunk ranks), so
a page with many matching chunks cannot push every other page out of a list.
The document lists are then fused with weighted reciprocal rank fusion, and
each document opens at the chunk the retrievers agree on most.

Measured on the Ray docs (194 questions), collapsing before fusing raised
hit@5 from 0.644 to 0.670 and MRR@10 from 0.453 to 0.480 over fusing chunks
and collapsing after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True)
class RankedList:
    name: str  # the retriever: "vector", "keyword", "headings"; weights are keyed by it
    rows: Sequence[Mapping[str, Any]]  # chunks, best first; each has "id" and "doc_id"
    source: str = "question"  # what was searched for: the question, or an assistant's expansion

    @cached_property
    def documents(self) -> list[str]:
        """The list collapsed to documents, best first (a guided search reads it several times)."""
        return collapse_to_documents(self.rows)


@dataclass(frozen=True)
class RankingConfig:
    candidates: int = 50  # chunks fetched from each retriever before fusion
    rrf_k: int = 60
    weights: Mapping[str, float] = field(default_factory=lambda: {"vector": 1.0, "keyword": 1.0})


@dataclass(frozen=True)
class RankedDoc:
    doc_id: str
    score: float
    best_chunk: Mapping[str, Any]


def collapse_to_documents(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row["doc_id"], None)
    return list(seen)


def rank_documents(lists: Sequence[RankedList], config: RankingConfig) -> list[RankedDoc]:
    scores: dict[str, float] = {}
    chunk_scores: dict[str, float] = {}
    chunk_rows: dict[str, Mapping[str, Any]] = {}
    for ranked in lists:
        weight = config.weights.get(ranked.name, 1.0)
        if weight == 0:
            continue
        for rank, doc_id in enumerate(ranked.documents):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (config.rrf_k + rank + 1)
        for rank, row in enumerate(ranked.rows):
            chunk_scores[row["id"]] = chunk_scores.get(row["id"], 0.0) + weight / (config.rrf_k + rank + 1)
            chunk_rows.setdefault(row["id"], row)
    best_chunk: dict[str, Mapping[str, Any]] = {}
    for chunk_id in sorted(chunk_scores, key=lambda c: -chunk_scores[c]):
        best_chunk.setdefault(chunk_rows[chunk_id]["doc_id"], chunk_rows[chunk_id])
    ordered = sorted(scores, key=lambda d: (-scores[d], d))
    return [RankedDoc(doc_id, scores[doc_id], best_chunk[doc_id]) for doc_id in ordered]
