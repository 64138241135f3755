"""Measure what each ranking lever contributes, on one index, through the search_docs code path.

Usage: python scripts/eval_ablations.py LABELS --db DIR [--group-by FIELD] [--json FILE]

Each variant is a RankingConfig handed to DocsService, the same object search_docs
uses; nothing here ranks on its own. Not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docs_mcp.config import Settings
from docs_mcp.embed import FastEmbedder
from docs_mcp.evaluation import evaluate, load_labels, paired_difference
from docs_mcp.ranking import RankingConfig
from docs_mcp.search import DocsService
from docs_mcp.store import IndexStore

VARIANTS: dict[str, RankingConfig] = {
    "default (rrf k=60, depth 50, equal weights)": RankingConfig(),
    "vector weight 2": RankingConfig(weights={"vector": 2.0, "keyword": 1.0}),
    "keyword weight 2": RankingConfig(weights={"vector": 1.0, "keyword": 2.0}),
    "rrf k=20": RankingConfig(rrf_k=20),
    "depth 100": RankingConfig(candidates=100),
    "depth 25": RankingConfig(candidates=25),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--db", required=True)
    parser.add_argument("--group-by")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", action="append", help="run only the variants with these names")
    args = parser.parse_args()

    settings = Settings.from_env()
    embedder = FastEmbedder(settings.model, settings.cache_dir)
    labels = load_labels(args.labels, args.group_by)
    results = {}
    reference = None
    for name, config in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        service = DocsService(IndexStore(args.db), lambda: embedder, model=settings.model, ranking=config)
        metrics, outcomes = evaluate(service, labels, ["hybrid"])
        entry = metrics["modes"]["hybrid"]
        if reference is None:
            reference = outcomes["hybrid"]
        delta = paired_difference(outcomes["hybrid"], reference, "mrr@10")
        results[name] = {"metrics": entry, "mrr_vs_first": delta}
        groups = " ".join(
            f"{g}: {s['hit@5']['mean']:.3f}/{s['mrr@10']['mean']:.3f}"
            for g, s in entry.get("groups", {}).items()
        )
        print(
            f"{name:40s} hit@1 {entry['hit@1']['mean']:.3f}  hit@5 {entry['hit@5']['mean']:.3f}  "
            f"hit@10 {entry['hit@10']['mean']:.3f}  mrr@10 {entry['mrr@10']['mean']:.3f}  "
            f"dMRR {delta['mean']:+.3f} {delta['ci95']}  p50 {entry['latency_ms_p50']} ms  {groups}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
