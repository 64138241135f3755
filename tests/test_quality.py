"""Retrieval quality on docs-mcp's own documentation, as users phrase their questions.

Measured when written (38 questions, hybrid): hit@5 1.00, MRR@10 0.84. The floors
sit below that by a margin, so that normal edits to the docs pass and a real
regression in parsing, chunking, embedding or ranking fails.

Guided search is measured on the same questions with keywords and a hypothetical
answer written as an assistant would, from the question alone (never from the
answering page): last measured (48 questions, 38 with expansions) hit@5 1.00 and MRR@10
0.891 against 0.903 bare, a difference within chance on docs whose pages the bare query
already finds; with each question given another question's expansions every question's page
stayed in the top ten.

Ten more are questions a newcomer asked in their first hour (`"asked_by": "newcomer"`), two of
them the issue's own: "the assistant does not see my docs" once ranked the quickstart's link list
first, and "serve docs for v1 and v2 of my sdk" a troubleshooting entry. With the docs fixed (not
the ranking): 9 of 10 first, all 10 in the top 3; all 48 questions hit@5 1.00, MRR@10 0.90, and the
first 38 as before (hit@1 0.82, MRR@10 0.89). A newcomer who gets the wrong page first rarely
asks twice, so the group has floors of its own, and those two must come first.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.config import bundled_corpus
from docs_mcp.evaluation import evaluate, evaluate_guided, load_labels, with_expansions
from docs_mcp.indexer import index_corpus
from docs_mcp.search import WEAK_MATCH_NOTE, DocsService
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

QUESTIONS = bundled_corpus().parent / "tests" / "data" / "corpus-questions.jsonl"
EXPANSIONS = QUESTIONS.with_name("corpus-questions.expansions.jsonl")
runner = CliRunner()
HIT_AT_5_FLOOR = 0.90
MRR_AT_10_FLOOR = 0.70
GUIDED_MRR_AT_10_FLOOR = 0.80
CONTROL_HIT_AT_10_FLOOR = 0.85
NEWCOMER_HIT_AT_1_FLOOR = 0.70
NEWCOMER_FIRST = ("the assistant does not see my docs", "serve docs for v1 and v2 of my sdk")


LEVERS_SCRIPT = bundled_corpus().parent / "scripts" / "ranking_levers.py"


@pytest.fixture(scope="module")
def corpus_index(tmp_path_factory, embedder):
    store = IndexStore(str(tmp_path_factory.mktemp("corpus-index") / "index"))
    index_corpus(bundled_corpus(), store, embedder)
    return store


@pytest.fixture(scope="module")
def evaluated(corpus_index, embedder):
    service = DocsService(corpus_index, lambda: embedder, model=MODEL)
    return evaluate(service, load_labels(QUESTIONS, "asked_by"), ["hybrid"])


@pytest.fixture(scope="module")
def report(evaluated):
    return evaluated[0]["modes"]["hybrid"]


@pytest.fixture(scope="module")
def guided(corpus_index, embedder):
    service = DocsService(corpus_index, lambda: embedder, model=MODEL)
    labels = with_expansions(load_labels(QUESTIONS), EXPANSIONS)
    return evaluate_guided(service, labels)[0]


def test_there_are_at_least_30_questions_and_every_label_names_a_real_page():
    labels = load_labels(QUESTIONS)
    assert len(labels) >= 30
    for label in labels:
        for path in label.relevant:
            assert (bundled_corpus() / path).is_file(), path


@pytest.mark.slow
def test_search_finds_the_answering_page_in_the_top_5(report):
    assert report["hit@5"]["mean"] >= HIT_AT_5_FLOOR, json.dumps(report, indent=1)


@pytest.mark.slow
def test_the_answering_page_ranks_near_the_top(report):
    assert report["mrr@10"]["mean"] >= MRR_AT_10_FLOOR, json.dumps(report, indent=1)


@pytest.mark.slow
def test_a_newcomer_finds_the_answering_page_first_or_nearly(report, evaluated):
    newcomer = report["groups"]["asked_by=newcomer"]
    assert newcomer["queries"] >= 10
    assert newcomer["hit@1"]["mean"] >= NEWCOMER_HIT_AT_1_FLOOR, json.dumps(newcomer, indent=1)
    assert newcomer["hit@5"]["mean"] == 1.0, json.dumps(newcomer, indent=1)
    ranks = {outcome.query: outcome.rank for outcome in evaluated[1]["hybrid"]}
    assert [ranks[query] for query in NEWCOMER_FIRST] == [1, 1]


@pytest.mark.slow
def test_guided_search_finds_the_answering_page_and_ranks_it_higher(guided):
    runs = guided["runs"]
    assert guided["questions_with_expansions"] >= 30
    assert runs["guided"]["hit@5"]["mean"] >= HIT_AT_5_FLOOR, json.dumps(runs, indent=1)
    assert runs["guided"]["mrr@10"]["mean"] >= GUIDED_MRR_AT_10_FLOOR, json.dumps(runs, indent=1)
    # Both are near the ceiling on these docs: guided must not be worse beyond chance.
    assert guided["guided_vs_bare"]["mrr@10"]["ci95"][1] >= 0, json.dumps(guided["guided_vs_bare"], indent=1)


@pytest.mark.slow
def test_misleading_expansions_keep_the_questions_page_in_the_top_ten(guided):
    assert guided["runs"]["control"]["hit@10"]["mean"] >= CONTROL_HIT_AT_10_FLOOR, json.dumps(
        guided, indent=1
    )


@pytest.mark.slow
def test_the_ranking_levers_script_starts_from_exactly_the_served_ranking(corpus_index, report, tmp_path):
    """Its figures are differences to search_docs' ranking: they mean something only if
    re-ranking the served candidates the served way gives the served result."""
    out = tmp_path / "levers.json"
    subprocess.run(
        [
            sys.executable,
            str(LEVERS_SCRIPT),
            str(QUESTIONS),
            "--db",
            corpus_index.uri,
            "--skip-slow",
            "--expansions",
            str(EXPANSIONS),
            "--json",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    measured = json.loads(Path(out).read_text(encoding="utf-8"))
    levers = measured["levers"]
    same = levers["re-ranked here as served (must be +0.000)"]
    assert same["metrics"]["mrr@10"] == report["mrr@10"]
    assert same["mrr_vs_served"]["mean"] == 0.0
    assert len(levers) >= 6
    guided_same = measured["guided"]["variants"]["served (must be +0.000)"]
    assert guided_same["real"]["mrr@10"] == measured["guided"]["served"]["mrr@10"]
    assert guided_same["mrr_vs_served"]["mean"] == 0.0 and len(measured["guided"]["variants"]) >= 10


OFF_TOPIC = bundled_corpus().parent / "tests" / "data" / "off-topic-questions.jsonl"
# Measured when written (scripts/offtopic_threshold.py): 45 of the 60 off-topic questions got the
# note on these docs, and none of the labelled ones.
OFF_TOPIC_CAUGHT_FLOOR = 36


@pytest.mark.slow
def test_nothing_matches_well_is_said_for_off_topic_questions_and_never_for_real_ones(corpus_index, embedder):
    service = DocsService(corpus_index, lambda: embedder, model=MODEL)
    labelled = [label.query for label in load_labels(QUESTIONS)]
    noted = [query for query in labelled if service.search(query).note]
    assert noted == []
    off_topic = [json.loads(line)["query"] for line in OFF_TOPIC.read_text(encoding="utf-8").splitlines()]
    results = [service.search(query) for query in off_topic]
    caught = [result for result in results if result.note == WEAK_MATCH_NOTE]
    assert len(off_topic) == 60 and len(caught) >= OFF_TOPIC_CAUGHT_FLOOR, len(caught)
    assert all(result.hits for result in caught)  # the nearest pages are still there, flagged


@pytest.mark.slow
def test_the_note_reaches_the_terminal_and_ask(corpus_index):
    searched = runner.invoke(app, ["search", "how long should I boil an egg", "--db", corpus_index.uri])
    assert searched.exit_code == 0 and "nothing in these docs matches this query well" in searched.output
    asked = runner.invoke(app, ["ask", "how long should I boil an egg?", "--db", corpus_index.uri, "--json"])
    assert "nothing in these docs matches this query well" in json.loads(asked.stdout)["note"]
    on_topic = runner.invoke(app, ["search", "connect Claude Desktop", "--db", corpus_index.uri])
    assert "matches this query well" not in on_topic.output
