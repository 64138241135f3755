import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docs_mcp.chunking import SPECIAL_TOKENS, chunk_document
from docs_mcp.markdown import parse_markdown


def words(texts):
    return [len(re.findall(r"\S+", t)) for t in texts]


def chunk(source, max_tokens=64, counter=words):
    return chunk_document(parse_markdown(source, "doc", "doc.md"), counter, max_tokens)


def test_chunks_never_cross_a_heading():
    chunks = chunk("# T\n\nintro\n\n## A\n\nalpha text\n\n## B\n\nbeta text\n", max_tokens=200)
    assert [(c.anchor, c.text) for c in chunks] == [("t", "intro"), ("a", "alpha text"), ("b", "beta text")]


def test_text_before_the_first_heading_is_its_own_chunk_with_an_empty_anchor():
    chunks = chunk("Preface words.\n\n# T\n\nBody.\n", max_tokens=200)
    assert [(c.anchor, c.text) for c in chunks] == [("", "Preface words."), ("t", "Body.")]


def test_small_blocks_in_one_section_are_packed_together():
    chunks = chunk("# T\n\none\n\ntwo\n\n- three\n- four\n", max_tokens=200)
    assert len(chunks) == 1 and chunks[0].text == "one\n\ntwo\n\n- three\n- four"


def test_a_fence_that_fits_is_never_cut():
    fence = "```python\n" + "x = 1\n" * 10 + "```"
    source = "# T\n\n" + "word " * 30 + "\n\n" + fence + "\n"
    chunks = chunk(source, max_tokens=60)
    assert any(c.text == fence for c in chunks)
    assert all(c.text.count("```") in (0, 2) for c in chunks)


def test_an_oversized_fence_is_cut_at_line_boundaries():
    lines = [f"value_{i} = compute({i})" for i in range(120)]
    source = "# T\n\n```python\n" + "\n".join(lines) + "\n```\n"
    chunks = chunk(source, max_tokens=64)
    assert len(chunks) > 1
    for c in chunks:
        assert all(line in ("```python", "```") or line in lines for line in c.text.split("\n"))


def test_an_oversized_paragraph_is_cut_at_sentences():
    sentences = [f"Sentence number {i} says something." for i in range(60)]
    chunks = chunk("# T\n\n" + " ".join(sentences) + "\n", max_tokens=64)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.endswith(".") and c.text.startswith("Sentence")


def test_a_run_without_any_boundary_is_still_cut_to_fit():
    chunks = chunk("# T\n\n" + "x" * 5000 + "\n", max_tokens=64, counter=lambda ts: [len(t) // 4 for t in ts])
    assert len(chunks) > 1 and all(c.token_count <= 64 for c in chunks)


def test_chunk_spans_point_at_their_text_in_the_source():
    source = "---\ntitle: X\n---\n# T\n\nalpha\n\n## B\n\nbeta gamma\n"
    doc = parse_markdown(source, "doc", "doc.md")
    for c in chunk_document(doc, words, 200):
        assert source[c.start : c.end] == c.text


def test_each_chunk_carries_title_and_heading_path_in_its_embedding_text():
    chunks = chunk("---\ntitle: Guide\n---\n# Guide\n\n## Setup\n\n### Linux\n\nRun it.\n", max_tokens=200)
    linux = chunks[-1]
    assert linux.heading_path == ("Guide", "Setup", "Linux")
    assert linux.embedding_text == "Guide\nSetup > Linux\n\nRun it."


def test_chunk_ids_are_unique_and_stable():
    source = "# T\n\n" + "\n\n".join(f"para {i} " * 20 for i in range(10)) + "\n"
    first, second = chunk(source), chunk(source)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


@pytest.mark.slow
def test_every_real_chunk_fits_the_model_window_with_its_prefix(embedder):
    """Counted with the model's own tokenizer, special tokens included: nothing is silently truncated."""
    prose = " ".join(
        f"The scheduler's retry policy number {i} applies exponential backoff." for i in range(200)
    )
    code = "\n".join(f"result_{i} = client.submit(job_{i}, retries={i % 5})" for i in range(300))
    source = f"# A long title for this page\n\n## Section\n\n{prose}\n\n```python\n{code}\n```\n"
    chunks = chunk_document(parse_markdown(source, "d", "d.md"), embedder.count_tokens, embedder.max_tokens)
    assert len(chunks) > 5
    for c in chunks:
        assert embedder.count_tokens([c.embedding_text])[0] + SPECIAL_TOKENS <= embedder.max_tokens


markdown_text = st.lists(
    st.one_of(
        st.sampled_from(
            ["# H1", "## H2", "### H3", "```", "```py", "- item", "> quote", "| a | b |", "---", ""]
        ),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=80),
    ),
    max_size=40,
).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(markdown_text)
def test_any_markdown_chunks_within_budget_and_spans_match(source):
    doc = parse_markdown(source, "doc", "doc.md")
    for c in chunk_document(doc, words, 40):
        assert source[c.start : c.end] == c.text
        assert c.text.strip() == c.text and c.text


title_or_heading = st.lists(
    st.sampled_from(
        [*"abcxyz XYZ>-_:#*`[](){}.,;!?é日本語🙂\u200b", "résumé", "naïve", "C#", "max_attempts"]
    ),
    min_size=1,
    max_size=60,
).map("".join)
headed_markdown = st.lists(
    st.tuples(st.integers(1, 6), title_or_heading, st.text(max_size=400)),
    min_size=1,
    max_size=30,
).map(lambda sections: "".join(f"{'#' * level} {head}\n\n{body}\n\n" for level, head, body in sections))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=title_or_heading, source=headed_markdown, filler=st.sampled_from(["", "x" * 5000 + "日本語" * 200])
)
def test_any_chunk_with_its_title_and_heading_path_fits_the_window(embedder, title, source, filler):
    """The prefix is counted from the title's and each heading's own counts, and long blocks in
    windows: the real tokenizer over the whole embedding text must agree that every chunk fits."""
    doc = parse_markdown(f"---\ntitle: {json.dumps(title)}\n---\n{source}\n{filler}\n", "d", "d.md")
    for c in chunk_document(doc, embedder.count_tokens, embedder.max_tokens):
        assert embedder.count_tokens([c.embedding_text])[0] + SPECIAL_TOKENS <= embedder.max_tokens, c
