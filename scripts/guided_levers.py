"""The design choices of guided search, measured: each one left out or changed, on real
expansions and on the shuffled control. Run through `ranking_levers.py LABELS --db DIR
--expansions FILE`, which calls `measure` here.

Every variant re-ranks the same lists the service searches for one guided call (the
question's vector and BM25 searches; each keyword's vector, BM25 and heading searches; the
hypothetical answer's vector and BM25 searches), built with the same public Snapshot
methods. The first variant fuses them as served and must equal DocsService.search with
expansions exactly (+0.000); the control gives each question the lists of another
question's expansions (the same derangement `docs-mcp eval` uses).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from _bench_util import StageTimes

from docs_mcp.embed import FastEmbedder
from docs_mcp.evaluation import (
    Label,
    outcome_of,
    paired_difference,
    run_queries,
    shuffled,
    summarise,
)
from docs_mcp.guidance import ANSWER_VECTOR_TOKENS, Guidance, keep_question_in_reach
from docs_mcp.ranking import RankedList, RankingConfig, rank_documents
from docs_mcp.search import DocsService

SERVED = RankingConfig()  # what DocsService ranks with by default

# One call's searches: (retriever, kind of text) -> rows, one list per text of that kind.
Searches = dict[tuple[str, str], list[list[dict[str, Any]]]]
Variant = Callable[[Searches, Searches], list[str]]  # question's searches, expansions' -> doc ids


def measure(service: DocsService, labels: Sequence[Label], embedder: FastEmbedder) -> dict[str, Any]:
    guided = [label for label in labels if label.guided]
    control = shuffled(guided)
    served = run_queries(service, guided, "hybrid", expansions=guided)
    searches = [_searches(service, embedder, label) for label in guided]
    by_query = {label.query: found for label, found in zip(guided, searches, strict=True)}
    path_of = {doc_id: row["path"] for doc_id, row in service.snapshot().docs.items()}
    report: dict[str, Any] = {"questions": len(guided), "served": summarise(served), "variants": {}}
    print(f"\nGuided search, {len(guided)} questions with expansions (dMRR: paired, to the served guided)")
    for name, variant in VARIANTS.items():
        real = [
            outcome_of(label, [path_of[d] for d in variant(found, found)][:10], 0.0)
            for label, found in zip(guided, searches, strict=True)
        ]
        shuffled_outcomes = [
            outcome_of(label, [path_of[d] for d in variant(found, by_query[other.query])][:10], 0.0)
            for label, found, other in zip(guided, searches, control, strict=True)
        ]
        delta = paired_difference(real, served, "mrr@10")
        entry = {"real": summarise(real), "control": summarise(shuffled_outcomes), "mrr_vs_served": delta}
        report["variants"][name] = entry
        low, high = delta["ci95"]
        print(
            f"{name:58s} {_line(entry['real'])}  dMRR {delta['mean']:+.3f} [{low:+.3f}, {high:+.3f}]"
            f"  control hit@10 {entry['control']['hit@10']['mean']:.3f}"
        )
    return report


def _searches(service: DocsService, embedder: FastEmbedder, label: Label) -> Searches:
    """Every search of the served guided call for `label`, by retriever and kind of text."""
    snapshot = service.snapshot()
    depth = service.ranking.candidates
    guidance = Guidance.clean(label.keywords, label.hypothetical_answer)
    question = " ".join(label.query.split())
    texts = [("question", question), *guidance.texts()]
    vectors = embedder.embed_queries([text for _, text in texts])
    if guidance.hypothetical_answer is not None:  # its vector reads its first tokens only
        vectors[-1] = embedder.embed_query(
            embedder.first_tokens(guidance.hypothetical_answer, ANSWER_VECTOR_TOKENS)
        )
    found: Searches = {}
    for (kind, text), vector in zip(texts, vectors, strict=True):
        found.setdefault(("vector", kind), []).append(snapshot.vector_search(vector, depth))
        found.setdefault(("keyword", kind), []).append(snapshot.keyword_search(text, depth))
        if kind == "keywords":
            found.setdefault(("headings", kind), []).append(snapshot.heading_search(text, depth))
    return found


def _fused(
    own: Searches, other: Searches, every: int | None = 3, leave_out: Sequence[tuple[str, str]] = ()
) -> list[str]:
    """The served fusion of the question's searches (from `own`) and the expansions' (from
    `other`), without the searches in `leave_out`; `every=None` does not keep the question's
    pages in reach."""
    question = [
        RankedList(r, rows, "question") for (r, k), lists in own.items() if k == "question" for rows in lists
    ]
    expansions = [
        RankedList(retriever, rows, kind)
        for (retriever, kind), lists in other.items()
        if kind != "question" and (retriever, kind) not in leave_out
        for rows in lists
    ]
    fused = rank_documents(_served_order(question, expansions), SERVED)
    if every is not None:
        fused = keep_question_in_reach(fused, rank_documents(question, SERVED), every)
    return [doc.doc_id for doc in fused]


def _served_order(question: list[RankedList], expansions: list[RankedList]) -> list[RankedList]:
    """The lists in the order the service fuses them (fusion sums per document, so the order
    only matters in the last bit of a score)."""
    rank = {
        ("vector", "question"): 0,
        ("vector", "keywords"): 1,
        ("headings", "keywords"): 2,
        ("vector", "hypothetical_answer"): 3,
        ("keyword", "question"): 4,
        ("keyword", "keywords"): 5,
        ("keyword", "hypothetical_answer"): 6,
    }
    return sorted([*question, *expansions], key=lambda ranked: rank[(ranked.name, ranked.source)])


def _per_text(own: Searches, other: Searches) -> list[str]:
    """Each text searched as a bare search is (its vector and BM25 lists fused), and the
    texts' rankings fused with RRF: the issue's 'each text searched on its own' baseline."""
    rankings = []
    for kind in ("question", "keywords", "hypothetical_answer"):
        source = own if kind == "question" else other
        for vector, keyword in zip(
            source.get(("vector", kind), []), source.get(("keyword", kind), []), strict=True
        ):
            ranked = rank_documents([RankedList("vector", vector), RankedList("keyword", keyword)], SERVED)
            rankings.append(RankedList("text", [{"id": d.doc_id, "doc_id": d.doc_id} for d in ranked]))
    return [doc.doc_id for doc in rank_documents(rankings, SERVED)]


VARIANTS: dict[str, Variant] = {
    "served (must be +0.000)": lambda own, other: _fused(own, other),
    "question's pages not kept in reach": lambda own, other: _fused(own, other, every=None),
    "question's r-th page within 2r": lambda own, other: _fused(own, other, every=2),
    "question's r-th page within 4r": lambda own, other: _fused(own, other, every=4),
    "without the keywords' heading searches": lambda own, other: _fused(
        own, other, leave_out=[("headings", "keywords")]
    ),
    "without the keywords' vector searches": lambda own, other: _fused(
        own, other, leave_out=[("vector", "keywords")]
    ),
    "without the keywords' BM25 searches": lambda own, other: _fused(
        own, other, leave_out=[("keyword", "keywords")]
    ),
    "without the hypothetical answer's vector search": lambda own, other: _fused(
        own, other, leave_out=[("vector", "hypothetical_answer")]
    ),
    "without the hypothetical answer's BM25 search": lambda own, other: _fused(
        own, other, leave_out=[("keyword", "hypothetical_answer")]
    ),
    "keywords only (no hypothetical answer)": lambda own, other: _fused(
        own, other, leave_out=[("vector", "hypothetical_answer"), ("keyword", "hypothetical_answer")]
    ),
    "hypothetical answer only (no keywords)": lambda own, other: _fused(
        own, other, leave_out=[("vector", "keywords"), ("keyword", "keywords"), ("headings", "keywords")]
    ),
    "each text a bare search, rankings fused (no headings, no reach)": _per_text,
}


def stage_costs(service: DocsService, labels: Sequence[Label], rounds: int = 3) -> dict[str, dict[str, Any]]:
    """p50 / p95 milliseconds of each stage of a guided search, one after another, beside the
    whole bare and whole guided searches. The service runs the BM25 searches and the answer's
    embedding on its pool while the query and keywords are embedded and searched, so a whole
    search costs less than the sum."""
    snapshot = service.snapshot()
    embedder = service.embedder
    depth = service.ranking.candidates
    snapshot.heading_search("warm up", 1)  # the heading index is built on first use
    stages = StageTimes()

    guided = [label for label in labels if label.guided]
    for _ in range(rounds):
        for label in guided:
            guidance = Guidance.clean(label.keywords, label.hypothetical_answer)
            question = " ".join(label.query.split())
            texts = [question] + [text for _, text in guidance.texts()]
            with stages.timed("embedding the query and keywords (one call)"):
                vectors = embedder.embed_queries([question, *guidance.keywords])
            if guidance.hypothetical_answer is not None:
                with stages.timed("embedding the hypothetical answer (its first tokens)"):
                    answer = embedder.embed_query(
                        embedder.first_tokens(guidance.hypothetical_answer, ANSWER_VECTOR_TOKENS)
                    )
            with stages.timed("vector searches (query, keywords in one pass, answer)"):
                snapshot.vector_search(vectors[0], depth)
                snapshot.vector_search_each(vectors[1:], depth)
                if guidance.hypothetical_answer is not None:
                    snapshot.vector_search(answer, depth)
            with stages.timed("BM25 searches, every text in one call"):
                snapshot.keyword_search_each(texts, depth)
            with stages.timed("heading searches, one per keyword"):
                for keyword in guidance.keywords:
                    snapshot.heading_search(keyword, depth)
            with stages.timed("whole bare search"):
                service.search(label.query, limit=10)
            with stages.timed("whole guided search"):
                service.search(
                    label.query,
                    limit=10,
                    keywords=label.keywords,
                    hypothetical_answer=label.hypothetical_answer,
                )
    print("\nGuided search, stage by stage (in process):")
    return stages.report(50)


def _line(summary: dict[str, Any]) -> str:
    return f"hit@5 {summary['hit@5']['mean']:.3f}  MRR@10 {summary['mrr@10']['mean']:.3f}"
