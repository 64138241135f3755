#!/usr/bin/env python
"""Where "nothing matches well" should start: labelled questions against off-topic ones.

A measurement, not a test. For each corpus (an index and its labelled questions) and for the
off-topic questions (tests/data/off-topic-questions.jsonl), it takes the evidence search() uses
for the note (search.match_evidence over the same candidates: the nearest chunk's cosine, and how
far apart the two retrievers' best pages are) and reports, for a grid of thresholds:

  flagged    labelled questions that would get the note (false positives), and of those, how
             many had their labelled page in the top 5 anyway (the note would mislead there)
  caught     off-topic questions that would get it

The shipped values (search.WEAK_MATCH_COSINE, search.AGREEMENT_DEPTH) are marked with *.

Usage (from the repo root, in the project venv):

    .venv/bin/python scripts/offtopic_threshold.py \\
        --corpus own=/tmp/own-index:tests/data/corpus-questions.jsonl \\
        --corpus ray=/work/scratch/ray-index:../shared/bench/ray-docs.dev.jsonl \\
        --corpus tldr=/work/scratch/tldr-index:../shared/bench/tldr-nl2bash.jsonl
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from docs_mcp import search
from docs_mcp.config import Settings
from docs_mcp.ranking import RankedList
from docs_mcp.search import DocsService, MatchEvidence, match_evidence

REPO_ROOT = Path(__file__).resolve().parents[1]
OFF_TOPIC = REPO_ROOT / "tests" / "data" / "off-topic-questions.jsonl"
COSINES = (0.24, 0.26, 0.28, 0.30, 0.32, 0.34, 0.36)
DEPTHS = (1, 3, 5)


@dataclass(frozen=True)
class Measured:
    evidence: MatchEvidence
    found: bool  # a labelled page is in the top 5 (always False for off-topic questions)


def evidence_of(service: DocsService, query: str, relevant: list[str]) -> Measured:
    """The evidence search() would weigh for `query`, over the same candidates."""
    snapshot = service.snapshot()
    text = " ".join(query.split())[: search.MAX_QUERY_CHARS]
    depth = service.ranking.candidates
    lists = [
        RankedList("vector", snapshot.vector_search(service.embedder.embed_query(text), depth, None)),
        RankedList("keyword", snapshot.keyword_search(text, depth, None)),
    ]
    evidence = match_evidence(lists)
    assert evidence is not None
    hits = service.search(text, 5).hits
    return Measured(evidence, any(hit.source_path in relevant for hit in hits))


def weak(evidence: MatchEvidence, cosine: float, depth: int) -> bool:
    disagree = evidence.agreement is None or evidence.agreement >= depth
    return evidence.cosine < cosine and disagree


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", action="append", required=True, help="NAME=INDEX:LABELS.jsonl")
    parser.add_argument("--off-topic", type=Path, default=OFF_TOPIC)
    parser.add_argument("--json", type=Path, help="write every question's evidence here")
    options = parser.parse_args()
    off_topic = [json.loads(line)["query"] for line in options.off_topic.read_text().splitlines() if line]
    console = Console(highlight=False)
    table = Table(title="Questions that would get the note: labelled (false positives) / off-topic (caught)")
    table.add_column("cosine <")
    table.add_column("depth >=")
    measured: dict[str, dict[str, list[Measured]]] = {}
    for spec in options.corpus:
        name, _, paths = spec.partition("=")
        db, _, labels = paths.partition(":")
        service = DocsService.from_settings(Settings.load(db=db))
        records = [json.loads(line) for line in Path(labels).read_text().splitlines() if line.strip()]
        console.print(f"{name}: {len(records)} labelled and {len(off_topic)} off-topic questions…")
        measured[name] = {
            "labelled": [evidence_of(service, r["query"], r["relevant"]) for r in records],
            "off-topic": [evidence_of(service, q, []) for q in off_topic],
        }
        table.add_column(f"{name} flagged (found)", justify="right")
        table.add_column(f"{name} caught", justify="right")
    for cosine in COSINES:
        for depth in DEPTHS:
            shipped = cosine == search.WEAK_MATCH_COSINE and depth == search.AGREEMENT_DEPTH
            cells = []
            for groups in measured.values():
                labelled, off = groups["labelled"], groups["off-topic"]
                flagged = [m for m in labelled if weak(m.evidence, cosine, depth)]
                caught = sum(weak(m.evidence, cosine, depth) for m in off)
                cells += [
                    f"{len(flagged)}/{len(labelled)} ({sum(m.found for m in flagged)})",
                    f"{caught}/{len(off)}",
                ]
            table.add_row(f"{cosine:.2f}{' *' if shipped else ''}", str(depth), *cells)
    console.print(table)
    if options.json is not None:
        dump = {
            name: {
                group: [
                    {"cosine": m.evidence.cosine, "agreement": m.evidence.agreement, "found": m.found}
                    for m in items
                ]
                for group, items in groups.items()
            }
            for name, groups in measured.items()
        }
        options.json.write_text(json.dumps(dump, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
