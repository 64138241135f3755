from docs_mcp.ranking import RankedList, RankingConfig, collapse_to_documents, rank_documents


def chunks(*doc_ids):
    return [
        {"id": f"{d}@{i}", "doc_id": d, "anchor": "", "heading_path": d, "text": d}
        for i, d in enumerate(doc_ids)
    ]


def order(lists, **config):
    return [d.doc_id for d in rank_documents(lists, RankingConfig(**config))]


def test_a_page_with_many_matching_chunks_cannot_flood_a_list():
    keyword = RankedList("keyword", chunks("flood", "flood", "flood", "flood", "other"))
    assert collapse_to_documents(keyword.rows) == ["flood", "other"]
    vector = RankedList("vector", chunks("vec-a", "other"))
    # "other" is 2nd in both lists once collapsed, so it beats pages found by one list only.
    assert order([keyword, vector])[0] == "other"


def test_documents_found_by_both_retrievers_outrank_those_found_by_one():
    vector = RankedList("vector", chunks("a", "both"))
    keyword = RankedList("keyword", chunks("b", "both"))
    assert order([vector, keyword])[0] == "both"


def test_a_zero_weight_list_is_ignored():
    vector = RankedList("vector", chunks("a"))
    keyword = RankedList("keyword", chunks("b", "c"))
    assert order([vector, keyword], weights={"vector": 0.0, "keyword": 1.0}) == ["b", "c"]


def test_the_hit_opens_at_the_chunk_both_retrievers_agree_on():
    vector = RankedList("vector", [{"id": "p@1", "doc_id": "p"}, {"id": "p@2", "doc_id": "p"}])
    keyword = RankedList("keyword", [{"id": "p@2", "doc_id": "p"}])
    ranked = rank_documents([vector, keyword], RankingConfig())
    assert ranked[0].best_chunk["id"] == "p@2"
