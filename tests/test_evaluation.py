import json
import math

import pytest

from docs_mcp.errors import ConfigError
from docs_mcp.evaluation import (
    QueryOutcome,
    bootstrap_interval,
    load_labels,
    paired_difference,
    parse_modes,
    query_scores,
)


def test_scores_of_a_first_relevant_doc_at_rank_3():
    scores = query_scores(["a.md", "b.md", "c.md"], {"c.md"})
    assert scores == {
        "hit@1": 0.0,
        "hit@5": 1.0,
        "hit@10": 1.0,
        "mrr@10": pytest.approx(1 / 3),
        "ndcg@10": pytest.approx(1 / math.log2(4)),
    }


def test_ndcg_rewards_finding_every_relevant_doc():
    both = query_scores(["a.md", "b.md"], {"a.md", "b.md"})
    one = query_scores(["a.md", "x.md"], {"a.md", "b.md"})
    assert both["ndcg@10"] == pytest.approx(1.0) and one["ndcg@10"] < 1.0 and one["mrr@10"] == 1.0


def test_a_miss_beyond_depth_10_scores_zero():
    ranked = [f"{i}.md" for i in range(20)]
    assert set(query_scores(ranked, {"15.md"}).values()) == {0.0}


def test_bootstrap_interval_brackets_the_mean_and_is_degenerate_for_constants():
    values = [0.0] * 50 + [1.0] * 50
    low, high = bootstrap_interval(values)
    assert low < 0.5 < high and high - low < 0.3
    assert bootstrap_interval([1.0] * 30) == (1.0, 1.0)


def test_paired_difference_detects_a_consistent_gain():
    def outcome(rank):
        ranked = ["x.md"] * (rank - 1) + ["r.md"]
        return QueryOutcome("q", ["r.md"], ranked, rank, 0.0, None)

    better = [outcome(1) for _ in range(40)]
    worse = [outcome(3) for _ in range(40)]
    difference = paired_difference(better, worse, "mrr@10")
    assert difference["mean"] == pytest.approx(2 / 3, abs=1e-3) and difference["excludes_zero"]


def test_labels_load_with_optional_groups(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        json.dumps({"query": "q1", "relevant": ["a.md"], "easy": True})
        + "\n\n"
        + json.dumps({"query": "q2", "relevant": ["b.md", "c.md"], "easy": False})
        + "\n",
        encoding="utf-8",
    )
    labels = load_labels(path, group_field="easy")
    assert [(lab.query, sorted(lab.relevant), lab.group) for lab in labels] == [
        ("q1", ["a.md"], "easy=True"),
        ("q2", ["b.md", "c.md"], "easy=False"),
    ]


@pytest.mark.parametrize("line", ['{"query": "q"}', "not json", '{"query": "q", "relevant": []}'])
def test_a_bad_label_line_is_an_error_naming_the_line(tmp_path, line):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"query": "ok", "relevant": ["a.md"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"labels.jsonl:2: expected a JSON object"):
        load_labels(path)


def test_modes_parse_and_reject_unknown_ones():
    assert parse_modes("all") == ["hybrid", "vector", "fts"]
    with pytest.raises(ConfigError, match="not one of"):
        parse_modes("magic")
