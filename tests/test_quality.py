"""Retrieval quality on docs-mcp's own documentation, as users phrase their questions.

Measured when written (38 questions, hybrid): hit@5 1.00, MRR@10 0.84. The floors
sit below that by a margin, so that normal edits to the docs pass and a real
regression in parsing, chunking, embedding or ranking fails.
"""

import json

import pytest

from docs_mcp.config import bundled_corpus
from docs_mcp.evaluation import evaluate, load_labels
from docs_mcp.indexer import index_corpus
from docs_mcp.search import DocsService
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

QUESTIONS = bundled_corpus().parent / "tests" / "data" / "corpus-questions.jsonl"
HIT_AT_5_FLOOR = 0.90
MRR_AT_10_FLOOR = 0.70


@pytest.fixture(scope="module")
def report(tmp_path_factory, embedder):
    store = IndexStore(str(tmp_path_factory.mktemp("corpus-index") / "index"))
    index_corpus(bundled_corpus(), store, embedder)
    service = DocsService(store, lambda: embedder, model=MODEL)
    metrics, _ = evaluate(service, load_labels(QUESTIONS), ["hybrid"])
    return metrics["modes"]["hybrid"]


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
