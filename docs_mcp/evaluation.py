"""Retrieval evaluation: labelled questions in, document-level metrics with intervals out.

Every query goes through DocsService.search, the code path search_docs serves:
there is no evaluation-only ranking. Hits are already one per document; a
query scores by the rank of its first relevant document.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docs_mcp.errors import ConfigError
from docs_mcp.search import SEARCH_MODES, DocsService, SearchMode

DEPTH = 10
BOOTSTRAP_SAMPLES = 2000
METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")


@dataclass(frozen=True)
class Label:
    query: str
    relevant: frozenset[str]  # source paths relative to the corpus root
    group: str | None = None


@dataclass(frozen=True)
class QueryOutcome:
    query: str
    relevant: list[str]
    ranked: list[str]  # source paths, best first
    rank: int | None  # 1-based rank of the first relevant doc within DEPTH
    seconds: float
    group: str | None

    def scores(self) -> dict[str, float]:
        return query_scores(self.ranked, set(self.relevant))


def load_labels(path: Path, group_field: str | None = None) -> list[Label]:
    """JSONL, one {"query": ..., "relevant": [path, ...]} per line; errors name the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read labels file {path}: {error.strerror}") from None
    labels = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            query, relevant = record["query"], record["relevant"]
            if not isinstance(query, str) or not isinstance(relevant, list) or not relevant:
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(
                f"{path}:{number}: expected a JSON object with a 'query' string and a non-empty "
                "'relevant' list of paths"
            ) from None
        group = None
        if group_field is not None and group_field in record:
            group = f"{group_field}={record[group_field]}"
        labels.append(Label(query, frozenset(str(p) for p in relevant), group))
    if not labels:
        raise ConfigError(f"{path} holds no labelled queries")
    return labels


def query_scores(ranked: Sequence[str], relevant: set[str]) -> dict[str, float]:
    top = list(ranked[:DEPTH])
    first = next((i + 1 for i, path in enumerate(top) if path in relevant), None)
    dcg = sum(1.0 / math.log2(i + 2) for i, path in enumerate(top) if path in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), DEPTH)))
    return {
        "hit@1": float(first is not None and first <= 1),
        "hit@5": float(first is not None and first <= 5),
        "hit@10": float(first is not None),
        "mrr@10": 1.0 / first if first else 0.0,
        "ndcg@10": dcg / ideal if ideal else 0.0,
    }


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def bootstrap_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean, resampling queries."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(mean([values[rng.randrange(n)] for _ in range(n)]) for _ in range(BOOTSTRAP_SAMPLES))
    return means[int(0.025 * BOOTSTRAP_SAMPLES)], means[int(0.975 * BOOTSTRAP_SAMPLES) - 1]


def summarise(outcomes: Sequence[QueryOutcome]) -> dict[str, Any]:
    per_query = [o.scores() for o in outcomes]
    summary: dict[str, Any] = {"queries": len(outcomes)}
    for metric in METRICS:
        values = [s[metric] for s in per_query]
        low, high = bootstrap_interval(values)
        summary[metric] = {"mean": round(mean(values), 4), "ci95": [round(low, 4), round(high, 4)]}
    latencies = sorted(o.seconds for o in outcomes)
    summary["latency_ms_p50"] = round(1000 * latencies[len(latencies) // 2], 2) if latencies else None
    return summary


def paired_difference(a: Sequence[QueryOutcome], b: Sequence[QueryOutcome], metric: str) -> dict[str, Any]:
    """Mean of per-query differences a - b, with a paired bootstrap interval."""
    differences = [x.scores()[metric] - y.scores()[metric] for x, y in zip(a, b, strict=True)]
    low, high = bootstrap_interval(differences, seed=1)
    return {
        "mean": round(mean(differences), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "excludes_zero": low > 0 or high < 0,
    }


def run_queries(
    service: DocsService,
    labels: Sequence[Label],
    mode: SearchMode,
    prefix: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[QueryOutcome]:
    outcomes = []
    for label in labels:
        started = clock()
        result = service.search(label.query, limit=DEPTH, prefix=prefix, mode=mode)
        seconds = clock() - started
        outcomes.append(outcome_of(label, [hit.source_path for hit in result.hits], seconds))
    return outcomes


def outcome_of(label: Label, ranked: list[str], seconds: float) -> QueryOutcome:
    """How one labelled query fared, given its ranked source paths."""
    first = next((i + 1 for i, path in enumerate(ranked) if path in label.relevant), None)
    return QueryOutcome(label.query, sorted(label.relevant), ranked, first, seconds, label.group)


def evaluate(
    service: DocsService, labels: Sequence[Label], modes: Sequence[SearchMode]
) -> tuple[dict[str, Any], dict[str, list[QueryOutcome]]]:
    """Metrics per mode (and per label group), plus hybrid's paired difference to the best baseline."""
    outcomes: dict[str, list[QueryOutcome]] = {mode: run_queries(service, labels, mode) for mode in modes}
    report: dict[str, Any] = {"modes": {}}
    for mode, results in outcomes.items():
        entry = summarise(results)
        groups = sorted({o.group for o in results if o.group is not None})
        if groups:
            entry["groups"] = {g: summarise([o for o in results if o.group == g]) for g in groups}
        report["modes"][mode] = entry
    baselines = [m for m in ("vector", "fts") if m in outcomes]
    if "hybrid" in outcomes and baselines:
        report["hybrid_vs_baselines"] = {
            baseline: {
                metric: paired_difference(outcomes["hybrid"], outcomes[baseline], metric)
                for metric in ("hit@5", "mrr@10", "ndcg@10")
            }
            for baseline in baselines
        }
        best = max(baselines, key=lambda m: report["modes"][m]["mrr@10"]["mean"])
        report["best_baseline"] = best
    return report, outcomes


def parse_modes(mode: str) -> list[SearchMode]:
    if mode == "all":
        return list(SEARCH_MODES)
    if mode not in SEARCH_MODES:
        raise ConfigError(f"--mode {mode!r} is not one of hybrid, vector, fts, all")
    return [mode]


def write_per_query(path: Path, outcomes: dict[str, list[QueryOutcome]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for mode, results in outcomes.items():
            for outcome in results:
                record = {
                    "mode": mode,
                    "query": outcome.query,
                    "relevant": outcome.relevant,
                    "rank": outcome.rank,
                    "ranked": outcome.ranked,
                    "group": outcome.group,
                    "ms": round(outcome.seconds * 1000, 2),
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
