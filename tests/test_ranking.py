import pytest

from docs_mcp.ranking import (
    RankedList,
    RankingConfig,
    collapse_to_documents,
    is_reference_title,
    names_identifier,
    rank_documents,
)


def chunks(*doc_ids):
    return [
        {"id": f"{d}@{i}", "doc_id": d, "anchor": "", "heading_path": d, "text": d}
        for i, d in enumerate(doc_ids)
    ]


def order(query, lists, titles=None, **config):
    return [d.doc_id for d in rank_documents(query, lists, titles or {}, RankingConfig(**config))]


def test_a_page_with_many_matching_chunks_cannot_flood_a_list():
    keyword = RankedList("keyword", chunks("flood", "flood", "flood", "flood", "other"))
    assert collapse_to_documents(keyword.rows) == ["flood", "other"]
    vector = RankedList("vector", chunks("vec-a", "other"))
    # "other" is 2nd in both lists once collapsed, so it beats pages found by one list only.
    assert order("q", [keyword, vector])[0] == "other"


def test_documents_found_by_both_retrievers_outrank_those_found_by_one():
    vector = RankedList("vector", chunks("a", "both"))
    keyword = RankedList("keyword", chunks("b", "both"))
    assert order("q", [vector, keyword])[0] == "both"


def test_a_zero_weight_list_is_ignored():
    vector = RankedList("vector", chunks("a"))
    keyword = RankedList("keyword", chunks("b", "c"))
    assert order("q", [vector, keyword], weights={"vector": 0.0, "keyword": 1.0}) == ["b", "c"]


def test_the_hit_opens_at_the_chunk_both_retrievers_agree_on():
    vector = RankedList("vector", [{"id": "p@1", "doc_id": "p"}, {"id": "p@2", "doc_id": "p"}])
    keyword = RankedList("keyword", [{"id": "p@2", "doc_id": "p"}])
    ranked = rank_documents("q", [vector, keyword], {}, RankingConfig())
    assert ranked[0].best_chunk["id"] == "p@2"


def test_a_page_found_only_by_title_search_has_no_chunk_to_open_at():
    ranked = rank_documents("q", [RankedList("title", [{"doc_id": "t"}])], {}, RankingConfig())
    assert ranked[0].doc_id == "t" and ranked[0].best_chunk is None


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ray.data.Dataset.map_batches", True),
        ("ray.remote", True),
        ("`torch.nn.Module`", True),
        ("ray.tune.Tuner.fit()", True),
        ("Getting started with Ray Data", False),
        ("tar", False),
        ("Configure logging", False),
        ("v1.2 release notes", False),
    ],
)
def test_reference_titles_are_code_identifiers(title, expected):
    assert is_reference_title(title) is expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("how do I use map_batches", True),
        ("what does ray.init do", True),
        ("configure ScalingConfig for a Tuner", True),
        ("call `fit` twice", True),
        ("why does init() hang", True),
        ("how do I scale my cluster", False),
        ("When should I use Ray Client?", False),
    ],
)
def test_queries_that_name_an_identifier_are_recognised(query, expected):
    assert names_identifier(query) is expected


def test_reference_pages_are_demoted_only_when_the_query_names_no_identifier():
    titles = {"api": "ray.data.Dataset.map_batches", "guide": "Transforming data"}
    lists = [RankedList("vector", chunks("api", "guide"))]
    assert order("how do I transform data", lists, titles, reference_prior=0.5) == ["guide", "api"]
    assert order("how do I use map_batches", lists, titles, reference_prior=0.5) == ["api", "guide"]
    assert order("how do I transform data", lists, titles, reference_prior=1.0) == ["api", "guide"]
