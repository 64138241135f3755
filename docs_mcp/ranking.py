"""Pure: ranked candidate lists in, one ranked list of documents out.

Each retriever (vector search over chunks, BM25 over chunks, BM25 over page
titles and headings) gives a ranked list. Lists of chunks are collapsed to
documents first (a document ranks where its best chunk ranks), so a page with
many matching chunks cannot push every other page out of a list. The document
lists are then fused with weighted reciprocal rank fusion. One optional prior
follows: pages titled with a code identifier (API reference pages) are
demoted when the query names no identifier, because such a query asks how to
do something, which guides answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_IDENTIFIER_TITLE = re.compile(r"^`?[A-Za-z_][\w]*(?:[.:]+[A-Za-z_][\w]*)+(?:\(.*\))?`?$")
_QUERY_IDENTIFIER = re.compile(
    r"`[^`]+`"  # anything in backticks
    r"|\b[A-Za-z_]\w*\.[A-Za-z_][\w.]*"  # dotted.name
    r"|\b[a-z]+_[a-z_]+\b"  # snake_case
    r"|\b[a-z]+[A-Z]\w*|\b[A-Z][a-z]+[A-Z]\w*"  # camelCase, CamelCase
    r"|\b\w+\(\)"  # call()
)


@dataclass(frozen=True)
class RankedList:
    name: str
    rows: Sequence[Mapping[str, Any]]  # best first; each has "doc_id" (and "id" for chunks)
    weight: float = 1.0


@dataclass(frozen=True)
class RankingConfig:
    candidates: int = 50  # rows fetched from each retriever before fusion
    rrf_k: int = 60
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"vector": 1.0, "keyword": 1.0, "title": 1.0}
    )
    reference_prior: float = 1.0  # multiplier for identifier-titled pages when the query has no identifier


@dataclass(frozen=True)
class RankedDoc:
    doc_id: str
    score: float
    best_chunk: Mapping[str, Any] | None


def is_reference_title(title: str) -> bool:
    """True for titles like `ray.data.Dataset.map_batches` or `torch.nn.Module.forward()`."""
    return bool(_IDENTIFIER_TITLE.match(title.strip()))


def names_identifier(query: str) -> bool:
    return bool(_QUERY_IDENTIFIER.search(query))


def collapse_to_documents(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row["doc_id"], None)
    return list(seen)


def rank_documents(
    query: str,
    lists: Sequence[RankedList],
    titles: Mapping[str, str],
    config: RankingConfig,
) -> list[RankedDoc]:
    scores: dict[str, float] = {}
    chunk_scores: dict[str, float] = {}
    chunk_rows: dict[str, Mapping[str, Any]] = {}
    for ranked in lists:
        weight = config.weights.get(ranked.name, 1.0) * ranked.weight
        if weight == 0:
            continue
        for rank, doc_id in enumerate(collapse_to_documents(ranked.rows)):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight / (config.rrf_k + rank + 1)
        for rank, row in enumerate(ranked.rows):
            if "id" in row:  # chunk lists also vote for the chunk a hit should open at
                chunk_scores[row["id"]] = chunk_scores.get(row["id"], 0.0) + weight / (
                    config.rrf_k + rank + 1
                )
                chunk_rows.setdefault(row["id"], row)
    if config.reference_prior != 1.0 and not names_identifier(query):
        for doc_id in scores:
            if is_reference_title(titles.get(doc_id, "")):
                scores[doc_id] *= config.reference_prior
    best_chunk: dict[str, str] = {}
    for chunk_id in sorted(chunk_scores, key=lambda c: -chunk_scores[c]):
        best_chunk.setdefault(chunk_rows[chunk_id]["doc_id"], chunk_id)
    ordered = sorted(scores, key=lambda d: (-scores[d], d))
    return [
        RankedDoc(doc_id, scores[doc_id], chunk_rows[best_chunk[doc_id]] if doc_id in best_chunk else None)
        for doc_id in ordered
    ]
