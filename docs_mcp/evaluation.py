"""Retrieval evaluation: labelled questions in, document-level metrics with intervals out.

Every query goes through DocsService.search, the code path search_docs serves:
there is no evaluation-only ranking. Hits are already one per document; a
query scores by the rank of its first relevant document.

Labels may carry an assistant's expansions (`keywords`, `hypothetical_answer`, on
the label line or in a separate file keyed by query). Then the served ranking is
measured three ways on the same questions: bare, guided (with its own expansions)
and a control (each question given another question's expansions, as an assistant
that guessed wrong), with paired differences to bare.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
    keywords: tuple[str, ...] = ()  # an assistant's expansions of the query, if any
    hypothetical_answer: str | None = None

    @property
    def guided(self) -> bool:
        return bool(self.keywords) or self.hypothetical_answer is not None


@dataclass(frozen=True)
class QueryOutcome:
    query: str
    relevant: list[str]
    ranked: list[str]  # source paths, best first
    rank: int | None  # 1-based rank of the first relevant doc within DEPTH
    seconds: float
    group: str | None
    disagreed: bool | None = None  # a guided search's expansions_disagree

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
        keywords, answer = _expansions(record, f"{path}:{number}")
        labels.append(Label(query, frozenset(str(p) for p in relevant), group, keywords, answer))
    if not labels:
        raise ConfigError(f"{path} holds no labelled queries")
    return labels


def _expansions(record: dict[str, Any], where: str) -> tuple[tuple[str, ...], str | None]:
    """The optional `keywords` (a list of strings) and `hypothetical_answer` (a string) of a line."""
    keywords = record.get("keywords", [])
    answer = record.get("hypothetical_answer")
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise ConfigError(f"{where}: 'keywords' must be a list of strings")
    if answer is not None and not isinstance(answer, str):
        raise ConfigError(f"{where}: 'hypothetical_answer' must be a string")
    return tuple(keywords), answer


def with_expansions(labels: Sequence[Label], path: Path) -> list[Label]:
    """`labels` with the expansions of a JSONL file of {"query", "keywords", "hypothetical_answer"}
    lines, matched by query text (spacing aside); a line whose query is not labelled is an error
    naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read expansions file {path}: {error.strerror}") from None
    by_query: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            query = record["query"]
            if not isinstance(query, str):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ConfigError(f"{path}:{number}: expected a JSON object with a 'query' string") from None
        by_query[" ".join(query.split())] = _expansions(record, f"{path}:{number}")
    unknown = set(by_query) - {" ".join(label.query.split()) for label in labels}
    if unknown:
        raise ConfigError(
            f"{path}: {len(unknown)} queries are not in the labels file, e.g. {sorted(unknown)[0]!r}; "
            "each line's 'query' must be a labelled query, exactly"
        )
    guided = []
    for label in labels:
        found = by_query.get(" ".join(label.query.split()))
        guided.append(
            label if found is None else replace(label, keywords=found[0], hypothetical_answer=found[1])
        )
    return guided


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
    guided = [o.disagreed for o in outcomes if o.disagreed is not None]
    if guided:  # how often a guided search said its expansions pointed elsewhere
        summary["expansions_disagree"] = round(mean([float(d) for d in guided]), 4)
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
    expansions: Sequence[Label] | None = None,
) -> list[QueryOutcome]:
    """Each label's query searched as served; with `expansions`, the i-th query is guided by
    the i-th of those labels' keywords and hypothetical answer (its own, or another's)."""
    outcomes = []
    for number, label in enumerate(labels):
        guide = expansions[number] if expansions is not None else None
        started = clock()
        result = service.search(
            label.query,
            limit=DEPTH,
            prefix=prefix,
            mode=mode,
            keywords=guide.keywords if guide else None,
            hypothetical_answer=guide.hypothetical_answer if guide else None,
        )
        seconds = clock() - started
        ranked = [hit.source_path for hit in result.hits]
        outcomes.append(outcome_of(label, ranked, seconds, result.expansions_disagree))
    return outcomes


def outcome_of(
    label: Label, ranked: list[str], seconds: float, disagreed: bool | None = None
) -> QueryOutcome:
    """How one labelled query fared, given its ranked source paths."""
    first = next((i + 1 for i, path in enumerate(ranked) if path in label.relevant), None)
    return QueryOutcome(label.query, sorted(label.relevant), ranked, first, seconds, label.group, disagreed)


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


def shuffled(labels: Sequence[Label], seed: int = 0) -> list[Label]:
    """The labels reordered so that none stays in its place (a derangement): each question then
    gets another question's expansions, the control for expansions that guessed wrong."""
    if len(labels) < 2:
        return list(labels)
    rng = random.Random(seed)
    order = list(range(len(labels)))
    while any(i == j for i, j in enumerate(order)):
        rng.shuffle(order)
    return [labels[j] for j in order]


def evaluate_guided(
    service: DocsService, labels: Sequence[Label], bare: Sequence[QueryOutcome] | None = None
) -> tuple[dict[str, Any], dict[str, list[QueryOutcome]]]:
    """Bare, guided and control (shuffled expansions) rankings of the same questions, each with
    its paired difference to bare. Questions without expansions are searched bare throughout."""
    runs = {
        "bare": list(bare) if bare is not None else run_queries(service, labels, "hybrid"),
        "guided": run_queries(service, labels, "hybrid", expansions=labels),
        "control": run_queries(service, labels, "hybrid", expansions=shuffled(labels)),
    }
    report: dict[str, Any] = {
        "questions_with_expansions": sum(label.guided for label in labels),
        "runs": {name: summarise(outcomes) for name, outcomes in runs.items()},
    }
    for name in ("guided", "control"):
        report[f"{name}_vs_bare"] = {
            metric: paired_difference(runs[name], runs["bare"], metric) for metric in METRICS
        }
    return report, runs


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
                if outcome.disagreed is not None:
                    record["expansions_disagree"] = outcome.disagreed
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
