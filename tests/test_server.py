"""The MCP surface, through the SDK's in-memory client against the real index and model."""

import json

import pytest
from mcp import Client

from docs_mcp.search import DocsService
from docs_mcp.server import INSTRUCTIONS, build_server
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def server(shared_db, embedder):
    return build_server(DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL))


async def test_three_read_only_tools_with_input_and_output_schemas(server):
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"search_docs", "get_doc", "list_docs"}
    for tool in tools.values():
        assert tool.annotations.read_only_hint and tool.annotations.idempotent_hint
        assert tool.output_schema and tool.description
    search = tools["search_docs"].input_schema["properties"]
    assert search["limit"]["maximum"] == 20 and search["query"]["maxLength"] == 2000
    assert tools["get_doc"].input_schema["required"] == ["id"]


async def test_server_instructions_teach_search_then_get_doc(server):
    async with Client(server) as client:
        assert client.instructions == INSTRUCTIONS
    assert (
        "search_docs" in INSTRUCTIONS and "open_with" in INSTRUCTIONS and "next_start_index" in INSTRUCTIONS
    )


async def test_search_then_open_the_hit(server):
    async with Client(server) as client:
        found = await client.call_tool("search_docs", {"query": "install with pip", "limit": 3})
        assert not found.is_error
        top = found.structured_content["hits"][0]
        assert top["doc_id"] == "guides/installation"
        assert f"id: {top['open_with']}" in found.content[0].text
        opened = await client.call_tool("get_doc", {"id": top["open_with"]})
    assert not opened.is_error
    assert "pip install skyline-queue" in opened.structured_content["content"]
    assert opened.content[0].text.startswith(f"<doc id='{top['open_with']}'")


async def test_text_content_is_a_readable_rendering_not_a_json_dump(server):
    async with Client(server) as client:
        listed = await client.call_tool("list_docs", {})
    text = listed.content[0].text
    assert "- Installation [guides/installation]" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert listed.structured_content["total_docs"] == 9


async def test_paging_hint_names_the_next_call(server):
    async with Client(server) as client:
        page = await client.call_tool("get_doc", {"id": "concepts/changelog", "max_chars": 2000})
    next_start = page.structured_content["next_start_index"]
    assert next_start and f"start_index={next_start}" in page.content[0].text


async def test_an_unknown_doc_is_a_tool_error_with_suggestions(server):
    async with Client(server) as client:
        result = await client.call_tool("get_doc", {"id": "guides/deploy"})
    assert result.is_error
    assert "guides/deploying" in result.content[0].text and "list_docs" in result.content[0].text


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("search_docs", {"query": ""}),
        ("search_docs", {"query": "x", "limit": 0}),
        ("search_docs", {"query": "x" * 2001}),
        ("get_doc", {"id": "index", "max_chars": 10}),
        ("get_doc", {"id": "index", "start_index": -1}),
        ("list_docs", {"limit": 100_000}),
    ],
)
async def test_out_of_bounds_arguments_are_rejected_as_tool_errors(server, tool, arguments):
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error


async def test_concurrent_calls_each_get_a_complete_answer(server):
    import anyio

    results = []

    async def one(query):
        async with Client(server) as client:
            results.append(await client.call_tool("search_docs", {"query": query}))

    async with anyio.create_task_group() as group:
        for query in ["pip", "helm", "retries", "broker", "api", "changelog"] * 3:
            group.start_soon(one, query)
    assert len(results) == 18 and not any(r.is_error for r in results)
