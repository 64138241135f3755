"""The service, through its public methods, on the sample docs indexed with the real model."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docs_mcp.errors import DocsMcpError, NotFoundError
from docs_mcp.search import DocsService
from docs_mcp.store import IndexStore
from tests.conftest import MODEL


@pytest.fixture(scope="module")
def docs(shared_db, embedder):
    return DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("how do I install it with pip", "guides/installation#install-with-pip"),
        ("what happens when a job keeps failing", "guides/retries"),
        ("SKYLINE_BROKER_URL", "reference/configuration"),
        ("run workers on kubernetes with helm", "guides/deploying"),
        ("enqueue a job from python code", "reference/api"),
    ],
)
def test_search_puts_the_answering_page_first(docs, query, expected):
    assert docs.search(query).hits[0].open_with.startswith(expected)


def test_hits_are_grouped_one_per_document(docs):
    hits = docs.search("release fixed issue in the scheduler", limit=10).hits
    assert len({h.doc_id for h in hits}) == len(hits)
    assert hits[0].doc_id == "concepts/changelog"


def test_a_hit_opens_with_get_doc_exactly_as_returned(docs):
    for hit in docs.search("graceful shutdown timeout", limit=5).hits:
        page = docs.get_doc(hit.open_with)
        assert page.doc_id == hit.doc_id and page.title == hit.title
        if hit.section:
            assert page.section_title == hit.heading_path[-1]


def test_hits_carry_title_heading_path_snippet_and_descending_scores(docs):
    hits = docs.search("dead-letter queue max attempts", limit=5).hits
    assert all(h.title and h.snippet and h.heading_path for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_prefix_limits_results_to_a_folder(docs):
    hits = docs.search("configuration", limit=10, prefix="guides/").hits
    assert hits and all(h.doc_id.startswith("guides/") for h in hits)


def test_a_prefix_that_matches_nothing_says_so(docs):
    result = docs.search("anything", prefix="nowhere/")
    assert result.hits == [] and "list_docs" in result.note


@pytest.mark.parametrize(
    "query",
    [
        '"pip install"',
        "x' OR '1'='1",
        "(((",
        "a AND OR NOT b",
        "max_attempts:5",
        "*",
        "ça arrive",
        "日本語",
        "🙂",
        "\\",
        "--help",
        "SELECT * FROM docs; --",
        "\x00",
    ],
)
def test_any_query_text_is_answered_without_error(docs, query):
    result = docs.search(query)
    assert result.index_version >= 1 and len(result.hits) <= 5


def test_an_empty_query_is_a_clear_error(docs):
    with pytest.raises(DocsMcpError, match="query is empty"):
        docs.search("   ")


def test_get_doc_returns_the_page_markdown_with_provenance(docs):
    page = docs.get_doc("guides/installation")
    assert page.content.startswith("---\ntitle: Installation") and "pip install skyline-queue" in page.content
    assert (page.source_path, page.next_start_index) == ("guides/installation.md", None)
    assert "guides/installation#install-from-source" in page.sections


def test_get_doc_with_an_anchor_returns_only_that_section(docs):
    page = docs.get_doc("reference/configuration#broker_url")
    assert page.content.startswith("## `broker_url`") and "max_attempts`\n" not in page.content
    assert page.section_title == "broker_url"


def test_get_doc_pages_through_a_long_document_without_losing_a_character(docs):
    whole = docs.get_doc("concepts/changelog", max_chars=50_000).content
    parts, start = [], 0
    while start is not None:
        page = docs.get_doc("concepts/changelog", start_index=start, max_chars=3000)
        assert len(page.content) <= 3000
        parts.append(page.content)
        start = page.next_start_index
    assert len(parts) > 5 and "".join(parts) == whole
    assert all(p.endswith("\n") for p in parts[:-1]), "pages end at line breaks"


def test_default_get_doc_response_is_bounded(docs):
    page = docs.get_doc("concepts/changelog")
    assert (
        len(page.content) <= 20_000 and page.total_chars > 20_000 and page.next_start_index == page.end_index
    )


def test_an_unknown_doc_names_the_closest_ids(docs):
    with pytest.raises(NotFoundError, match="guides/installation") as caught:
        docs.get_doc("guides/instalation")
    assert "list_docs" in str(caught.value) and caught.value.suggestions[0] == "guides/installation"


def test_an_unknown_anchor_lists_the_page_sections(docs):
    with pytest.raises(NotFoundError, match="reference/configuration#max_attempts"):
        docs.get_doc("reference/configuration#nope")


def test_a_doc_id_with_extension_or_slashes_is_accepted(docs):
    assert docs.get_doc("/guides/installation.md").doc_id == "guides/installation"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_get_doc_with_arbitrary_ids_never_leaks_another_doc_or_crashes(docs, doc_id):
    try:
        page = docs.get_doc(doc_id)
    except NotFoundError:
        return
    assert page.doc_id == doc_id.strip().partition("#")[0].strip().strip("/").removesuffix(".md")


@pytest.mark.parametrize(
    "doc_id",
    [
        "../etc/passwd",
        "/etc/passwd",
        "%2e%2e/%2e%2e",
        "a\x00b",
        "x" * 10_000,
        "x' OR '1'='1",
        "guides/../index",
    ],
)
def test_hostile_doc_ids_are_unknown_docs(docs, doc_id):
    with pytest.raises(NotFoundError, match="unknown doc"):
        docs.get_doc(doc_id)


def test_list_docs_is_a_tree_ordered_by_front_matter_then_title(docs):
    tree = docs.list_docs()
    assert tree.total_docs == tree.listed_docs == 9 and not tree.truncated
    assert [d.id for d in tree.root.docs] == ["index"]
    guides = next(f for f in tree.root.folders if f.path == "guides")
    assert [d.id for d in guides.docs] == ["guides/installation", "guides/deploying", "guides/retries"]
    configuration = next(f for f in tree.root.folders if f.path == "reference").docs[0]
    assert configuration.description == "Every setting, its environment variable and its default."


def test_list_docs_is_bounded_and_says_how_to_narrow(docs):
    tree = docs.list_docs(limit=3)
    assert tree.truncated and tree.listed_docs == 3 and "prefix" in tree.note
    narrowed = docs.list_docs(prefix="reference/")
    assert narrowed.total_docs == 2 and not narrowed.truncated


@pytest.mark.parametrize("prefix", [None, "guides/"])
def test_in_memory_vector_search_returns_what_lancedb_flat_search_returns(
    shared_db, embedder, monkeypatch, prefix
):
    import docs_mcp.store as store_module

    in_memory = IndexStore(shared_db).open_snapshot()
    monkeypatch.setattr(store_module, "IN_MEMORY_VECTOR_BYTES", 0)
    on_disk = IndexStore(shared_db).open_snapshot()
    assert in_memory._matrix is not None and on_disk._matrix is None
    doc_ids = [d for d in in_memory.docs if d.startswith(prefix)] if prefix else None
    # Prove the in-memory snapshot never reaches LanceDB for vector search.
    monkeypatch.setattr(in_memory, "_chunks", None)
    for query in ["install with pip", "retry backoff", "kubernetes helm chart", "visibility timeout"]:
        vector = embedder.embed_query(query)
        expected = on_disk.vector_search(vector, 10, doc_ids)
        got = in_memory.vector_search(vector, 10, doc_ids)
        assert [r["id"] for r in got] == [r["id"] for r in expected]
        assert [r["_distance"] for r in got] == pytest.approx([r["_distance"] for r in expected], abs=1e-4)
        details = in_memory.chunk_details(got)
        assert details == on_disk.chunk_details(expected)
        assert set(details[got[0]["id"]]) >= {"text", "anchor", "heading_path"}


@pytest.mark.parametrize("in_memory", [True, False])
@pytest.mark.parametrize("prefix", [None, "guides/"])
def test_keyword_searches_sent_together_return_what_lancedb_returns_for_each(
    shared_db, monkeypatch, in_memory, prefix
):
    import docs_mcp.store as store_module
    from docs_mcp.store import _match

    if not in_memory:
        monkeypatch.setattr(store_module, "IN_MEMORY_VECTOR_BYTES", 0)
    snapshot = IndexStore(shared_db).open_snapshot()
    assert (snapshot._matrix is not None) == in_memory
    doc_ids = [d for d in snapshot.docs if d.startswith(prefix)] if prefix else None
    texts = ["install with pip", "retry backoff", "kubernetes helm chart", "visibility timeout", "zzqx"]
    together = snapshot.keyword_search_each(texts, 10, doc_ids)
    assert len(together) == len(texts) and any(together) and not together[-1]
    for text, got in zip(texts, together, strict=True):
        query = snapshot._chunks.search(_match(text), query_type="fts")
        if doc_ids is not None:
            query = query.where(snapshot._where_docs(doc_ids), prefilter=True)
        expected = query.select(["id", "doc_id", "_score"]).limit(10).to_list()
        assert [(r["id"], r["_score"]) for r in got] == [(r["id"], r["_score"]) for r in expected]
        assert snapshot.keyword_search(text, 10, doc_ids) == got


def test_code_keyword_searches_sent_together_return_what_lancedb_returns_for_each(shared_db):
    from docs_mcp.store import _match

    snapshot = IndexStore(shared_db).open_snapshot()
    assert snapshot.publication.code
    texts = ["pip install", "retry", "helm install"]
    together = snapshot.code_keyword_search_each(texts, 10, None)
    assert any(together)
    for text, got in zip(texts, together, strict=True):
        expected = (
            snapshot._code.search(_match(text), query_type="fts").select(["id", "_score"]).limit(10).to_list()
        )
        assert [(r["id"], r["_score"]) for r in got] == [(r["id"], r["_score"]) for r in expected]


def test_an_index_too_big_for_memory_gives_the_same_hits_from_lancedb(shared_db, embedder, monkeypatch):
    import docs_mcp.store as store_module

    in_memory = DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL)
    monkeypatch.setattr(store_module, "IN_MEMORY_VECTOR_BYTES", 0)
    on_disk = DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL)
    for query in ["install with pip", "retry backoff", "what's the visibility timeout?"]:
        expected = on_disk.search(query, limit=5)
        got = in_memory.search(query, limit=5)
        assert [(h.open_with, h.snippet, h.heading_path) for h in got.hits] == [
            (h.open_with, h.snippet, h.heading_path) for h in expected.hits
        ]


def test_a_preloaded_model_serves_searches_and_reports_its_errors_when_first_needed(shared_db, tmp_path):
    from docs_mcp.config import Settings
    from docs_mcp.errors import ModelError

    settings = Settings.from_env().with_overrides(db=shared_db)
    service = DocsService.from_settings(settings, preload_model=True)
    assert service.search("install with pip").hits

    not_a_folder = tmp_path / "cache-is-a-file"
    not_a_folder.write_text("", encoding="utf-8")
    broken = DocsService.from_settings(settings.with_overrides(cache_dir=not_a_folder), preload_model=True)
    assert broken.list_docs().total_docs > 0  # reading never needed the model
    with pytest.raises(ModelError, match="DOCS_MCP_CACHE_DIR"):
        broken.embedder  # noqa: B018


def test_a_large_index_is_searched_through_an_approximate_vector_index(
    corpus, embedder, tmp_path, monkeypatch
):
    import docs_mcp.store as store_module
    from docs_mcp.indexer import index_corpus

    monkeypatch.setattr(store_module, "ANN_MIN_CHUNKS", 1)  # the sample docs count as "large"
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), embedder)
    snapshot = IndexStore(db).open_snapshot()
    assert snapshot.approximate and snapshot._matrix is None
    service = DocsService(IndexStore(db), lambda: embedder, model=MODEL)
    assert (
        service.search("how do I install it with pip").hits[0].open_with
        == "guides/installation#install-with-pip"
    )

    # A re-index folds new text into the approximate index, which keeps serving.
    (corpus / "guides" / "sharding.md").write_text(
        "# Sharding\n\nSplit a queue into shards with `--shards N` to spread the load.\n", encoding="utf-8"
    )
    index_corpus(corpus, IndexStore(db), embedder)
    service.refresh()
    assert service.snapshot().approximate
    assert service.search("split a queue into shards").hits[0].doc_id == "guides/sharding"


def _rows(*pages, distance=None):
    return [
        {"id": f"{page}#@{n}", "doc_id": page, **({"_distance": distance} if distance is not None else {})}
        for n, page in enumerate(pages)
    ]


@pytest.mark.parametrize(
    ("vector", "keyword", "weak"),
    [
        # far in meaning, and the two searches agree on no page: nothing matches well
        (_rows("a", "b", "c", "d", distance=0.8), _rows("w", "x", "y", "z", "a"), True),
        # far in meaning, but keyword search puts the same page first (a short identifier query)
        (_rows("a", "b", "c", distance=0.85), _rows("b", "a", "x"), False),
        # close in meaning: the searches may disagree
        (_rows("a", "b", distance=0.4), _rows("x", "y"), False),
        # nothing found by keywords at all, and far in meaning
        (_rows("a", "b", distance=0.9), [], True),
    ],
)
def test_nothing_matches_well_needs_a_far_nearest_chunk_and_two_searches_that_disagree(vector, keyword, weak):
    from docs_mcp.ranking import RankedList
    from docs_mcp.search import match_evidence

    evidence = match_evidence([RankedList("vector", vector), RankedList("keyword", keyword)])
    assert evidence is not None and evidence.weak is weak


def test_no_evidence_without_vector_candidates():
    from docs_mcp.ranking import RankedList
    from docs_mcp.search import match_evidence

    assert match_evidence([RankedList("keyword", _rows("a"))]) is None
