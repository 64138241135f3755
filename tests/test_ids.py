"""Doc ids round-trip for every file name the indexer accepts.

A search hit's `open_with`, its `doc_id`, its `source_path` and the `docs://` URI that
resources/list gives all open the page, through the SDK's in-memory client against a real
index of files with odd names (spaces, unicode, `#`, `%`, `?`, a drive-letter look-alike,
white space at the ends, a control character); and the id and URI escaping is exact for
any name (property-based).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.uri_template import UriTemplate

from docs_mcp.ids import doc_id_from_uri_value, doc_uri, escape_doc_id, unescape_doc_id
from docs_mcp.indexer import index_corpus
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.sources.folder import walk_corpus
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

# file name -> a word found in that page only, so a search for it returns that page.
ODD_NAMES = {
    "getting started.md": "quillbrook",
    "été/naïve guide.md": "marzipelt",
    "c#-guide.md": "snorkelvane",
    "100% coverage.md": "plumbatine",
    "what?.md": "grivelnot",
    "a%23b.md": "tarnquist",  # must not be taken for a#b.md
    "a#b.md": "velmorrow",
    "C:notes.md": "ostrilade",
    " leading space.md": "bramblequay",
    "tab\there.md": "fenwickle",
    "api/[id]/route (v2).mdx": "zantheril",
}


def page(word: str) -> str:
    return (
        f"# The {word} page\n\nAll about {word}.\n\n## Using {word}\n\nCall {word} with care; {word} works.\n"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Any:
    root = tmp_path_factory.mktemp("odd-names")
    for name, word in ODD_NAMES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(page(word), encoding="utf-8")
    db = str(tmp_path_factory.mktemp("odd-index") / "index")
    report = index_corpus(root, IndexStore(db), embedder)
    assert not report.skipped and len(report.added) == len(ODD_NAMES), report
    return build_server(DocsService(IndexStore(db), lambda: embedder, model=MODEL))


def talk(server: Any, conversation: Any) -> Any:
    async def run() -> Any:
        with anyio.fail_after(60):
            async with Client(server) as client:
                return await conversation(client)

    return anyio.run(run)


@pytest.mark.parametrize("name", list(ODD_NAMES), ids=range(len(ODD_NAMES)))
def test_a_search_hit_opens_by_open_with_doc_id_source_path_and_resource_uri(server, name):
    word = ODD_NAMES[name]

    async def conversation(client: Client) -> dict[str, Any]:
        found = await client.call_tool("search_docs", {"query": f"using {word}", "limit": 10})
        hits = [h for h in found.structured_content["hits"] if h["source_path"] == name]
        assert hits, found.structured_content
        hit = hits[0]
        opened = {}
        for key in ("open_with", "doc_id", "source_path"):
            result = await client.call_tool("get_doc", {"id": hit[key]})
            assert not result.is_error, (key, hit[key], result.content)
            opened[key] = result.structured_content
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        uri = doc_uri(hit["doc_id"])
        assert uri in listed and listed[uri].name == hit["doc_id"]
        read = await client.read_resource(uri)
        return {"hit": hit, "opened": opened, "resource": read.contents[0].text}

    outcome = talk(server, conversation)
    hit, opened = outcome["hit"], outcome["opened"]
    assert hit["doc_id"] == escape_doc_id(name.rsplit(".", 1)[0])
    assert opened["open_with"]["id"] == hit["open_with"] and opened["open_with"]["section_title"]
    assert f"Call {word} with care" in opened["open_with"]["content"]
    assert opened["doc_id"]["doc_id"] == opened["source_path"]["doc_id"] == hit["doc_id"]
    assert f"All about {word}" in opened["doc_id"]["content"]
    assert f"All about {word}" in outcome["resource"]


def test_ids_that_differ_only_by_an_escape_open_different_pages(server):
    async def conversation(client: Client) -> tuple[str, str]:
        literal = await client.call_tool("get_doc", {"id": "a%2523b"})
        hashed = await client.call_tool("get_doc", {"id": "a%23b"})
        return literal.structured_content["content"], hashed.structured_content["content"]

    literal, hashed = talk(server, conversation)
    assert "tarnquist" in literal and "velmorrow" in hashed


def test_a_resource_uri_that_walks_out_of_the_tree_finds_no_doc(server):
    async def conversation(client: Client) -> None:
        for uri in ("docs://../../etc/passwd", "docs://%2e%2e/%2e%2e/etc/passwd", "docs:///etc/passwd"):
            with pytest.raises(MCPError, match="unknown doc"):
                await client.read_resource(uri)

    talk(server, conversation)


def test_the_corpus_walk_gives_each_odd_name_the_escaped_id(tmp_path: Path):
    for name in ODD_NAMES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("# x\n", encoding="utf-8")
    ids = {item.path: item.doc_id for item in walk_corpus(tmp_path)}
    assert ids["c#-guide.md"] == "c%23-guide" and ids["100% coverage.md"] == "100%25 coverage"
    assert ids["a%23b.md"] == "a%2523b" and ids["a#b.md"] == "a%23b"
    assert ids[" leading space.md"] == "%20leading space" and ids["tab\there.md"] == "tab%09here"
    assert (
        ids["getting started.md"] == "getting started"
        and ids["api/[id]/route (v2).mdx"] == "api/[id]/route (v2)"
    )


# -- any name, property-based ---------------------------------------------------------------------

TEMPLATE = UriTemplate.parse("docs://{+id}")
names = st.lists(
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="/\x00"), min_size=1, max_size=12
    ),
    min_size=1,
    max_size=4,
).map("/".join)


@given(name=names)
def test_an_id_holds_no_raw_hash_nor_edge_space_and_unescapes_to_its_name(name: str):
    doc_id = escape_doc_id(name)
    assert "#" not in doc_id and doc_id == doc_id.strip()
    assert not any(ord(c) < 32 or ord(c) == 127 for c in doc_id)
    assert unescape_doc_id(doc_id) == name


@given(name=names)
def test_a_resource_uri_is_matched_by_the_template_back_to_the_same_id(name: str):
    doc_id = escape_doc_id(name)
    uri = doc_uri(doc_id)
    assert not any(c in uri[len("docs://") :] for c in "#? ")
    params = TEMPLATE.match(uri)
    assert params is not None, uri
    assert doc_id_from_uri_value(str(params["id"])) == doc_id
