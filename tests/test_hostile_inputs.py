"""What a prompt-injected page or a curious neighbour might send the tools, through the SDK's
in-memory client against the real index and model: nothing crashes, nothing outside the index is
read, and no answer carries another doc's data. Also holds `tools/list` to a snapshot, so the
text assistants read as tool descriptions cannot change without a reviewed diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.server.mcpserver import MCPServer

from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

TOOLS_SNAPSHOT = Path(__file__).parent / "data" / "tools-list.json"
SECRET = Path("/etc/passwd")

HOSTILE_IDS = [
    "../etc/passwd",
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "guides/../../etc/passwd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "..\\..\\windows\\win.ini",
    "C:\\Windows\\win.ini",
    "file:///etc/passwd",
    "guides/installation\x00.md",
    "\x00",
    "x" * 10_000,
    "x' OR '1'='1",
    "guides/installation' OR '1'='1",
    "'; DROP TABLE docs; --",
    'id = "x" OR 1=1',
    "*",
    "%",
    "guides/%",
    "#",
    "guides/installation#../../etc/passwd",
    "\u202egnp.exe",
    "ｇｕｉｄｅｓ/installation",
]
HOSTILE_PREFIXES = [
    "x' OR '1'='1",
    "' OR 1=1 --",
    "%",
    "_",
    "../",
    "/etc/",
    "\x00",
    "guides/' OR doc_id LIKE '%",
    "x" * 500,
]


@pytest.fixture(scope="module")
def server(shared_db: str, embedder: Any) -> MCPServer:
    return build_server(DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL))


def call(server: MCPServer, tool: str, arguments: dict[str, Any]) -> Any:
    async def conversation() -> Any:
        with anyio.fail_after(30):
            async with Client(server) as client:
                return await client.call_tool(tool, arguments)

    return anyio.run(conversation)


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


def normalised_doc_id(requested: str) -> str:
    """How get_doc reads an id: the part before '#', without surrounding slashes or '.md'."""
    doc_id = requested.strip().partition("#")[0].strip().strip("/")
    return doc_id.removesuffix(".md").removesuffix(".markdown")


def assert_leaks_nothing(text: str) -> None:
    assert "root:x:0:0" not in text  # a line of /etc/passwd
    assert "Traceback" not in text and "lance" not in text.lower()


@pytest.mark.parametrize("doc_id", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_get_doc_answers_a_hostile_id_with_unknown_doc_and_leaks_nothing(
    server: MCPServer, doc_id: str
) -> None:
    result = call(server, "get_doc", {"id": doc_id[:1000]})
    assert result.is_error, text_of(result)
    text = text_of(result)
    assert "unknown doc" in text or "has no section" in text or "invalid arguments for get_doc" in text, text
    assert_leaks_nothing(text)
    assert len(text) < 2000  # a 10 KB id is not echoed back whole


def test_get_doc_rejects_an_id_longer_than_its_schema_allows(server: MCPServer) -> None:
    result = call(server, "get_doc", {"id": "x" * 10_000})
    assert result.is_error
    assert len(text_of(result)) < 2000


@pytest.mark.parametrize("prefix", HOSTILE_PREFIXES, ids=range(len(HOSTILE_PREFIXES)))
def test_a_hostile_prefix_matches_no_doc_instead_of_widening_the_filter(
    server: MCPServer, prefix: str
) -> None:
    listed = call(server, "list_docs", {"prefix": prefix})
    assert not listed.is_error, text_of(listed)
    assert listed.structured_content["total_docs"] == 0, listed.structured_content
    found = call(server, "search_docs", {"query": "install with pip", "prefix": prefix})
    assert not found.is_error, text_of(found)
    assert found.structured_content["hits"] == []
    assert_leaks_nothing(text_of(found) + text_of(listed))


# -- property-based: every argument of every tool -------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
any_text = (
    st.text(max_size=300)
    | st.sampled_from([i[:1000] for i in HOSTILE_IDS] + HOSTILE_PREFIXES)
    | st.sampled_from(["guides/installation", "guides/installation#install-with-pip", "guides/"])
)
# Mostly in range, so calls get past schema validation and reach the service; sometimes far out.
any_int = st.integers(min_value=-2, max_value=60) | st.integers(min_value=-(2**40), max_value=2**40)
doc_like = st.sampled_from(["guides/installation", "index", "guides/"]).flatmap(
    lambda base: st.builds(lambda tail: base + tail, st.text(max_size=20))
)


@PROPERTY_SETTINGS
@given(doc_id=any_text | doc_like, start_index=any_int, max_chars=any_int)
def test_get_doc_with_any_arguments_returns_that_doc_or_a_tool_error(
    server: MCPServer, doc_id: str, start_index: int, max_chars: int
) -> None:
    result = call(server, "get_doc", {"id": doc_id, "start_index": start_index, "max_chars": max_chars})
    assert_leaks_nothing(text_of(result))
    if not result.is_error:
        assert result.structured_content["doc_id"] == normalised_doc_id(doc_id)


@PROPERTY_SETTINGS
@given(query=any_text, limit=any_int, prefix=st.none() | any_text)
def test_search_docs_with_any_arguments_stays_inside_the_prefix(
    server: MCPServer, query: str, limit: int, prefix: str | None
) -> None:
    result = call(server, "search_docs", {"query": query, "limit": limit, "prefix": prefix})
    assert_leaks_nothing(text_of(result))
    if not result.is_error and prefix and prefix.strip().strip("/"):
        wanted = prefix.strip().lstrip("/")
        assert all(hit["doc_id"].startswith(wanted) for hit in result.structured_content["hits"])


@PROPERTY_SETTINGS
@given(prefix=st.none() | any_text, limit=any_int)
def test_list_docs_with_any_arguments_lists_only_docs_under_the_prefix(
    server: MCPServer, prefix: str | None, limit: int
) -> None:
    result = call(server, "list_docs", {"prefix": prefix, "limit": limit})
    assert_leaks_nothing(text_of(result))
    if not result.is_error and prefix and prefix.strip().strip("/"):
        wanted = prefix.strip().lstrip("/")
        listed = json.dumps(result.structured_content)
        ids = [doc["id"] for doc in _all_docs(result.structured_content["root"])]
        assert all(doc_id.startswith(wanted) for doc_id in ids), listed


def _all_docs(folder: dict[str, Any]) -> list[dict[str, Any]]:
    docs = list(folder["docs"])
    for child in folder["folders"]:
        docs += _all_docs(child)
    return docs


# -- tools/list snapshot --------------------------------------------------------------------------


def test_tools_list_matches_the_reviewed_snapshot(server: MCPServer) -> None:
    """Names, descriptions and input schemas are what an assistant reads as instructions. To
    accept a deliberate change: UPDATE_SNAPSHOTS=1 pytest tests/test_hostile_inputs.py."""

    async def listed() -> list[dict[str, Any]]:
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
        return [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in sorted(tools, key=lambda t: t.name)
        ]

    current = anyio.run(listed)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        TOOLS_SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert current == json.loads(TOOLS_SNAPSHOT.read_text(encoding="utf-8"))
