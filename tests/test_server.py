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


async def test_four_read_only_tools_with_input_and_output_schemas(server):
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"search_docs", "get_doc", "list_docs", "ask_docs", "list_collections"}
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


async def test_the_result_count_reads_as_english(server):
    async with Client(server) as client:
        one = await client.call_tool("search_docs", {"query": "install", "limit": 1})
        two = await client.call_tool("search_docs", {"query": "install", "limit": 2})
        code = await client.call_tool("search_docs", {"query": "install", "limit": 1, "kind": "code"})
    assert one.content[0].text.startswith("1 result for 'install'")
    assert two.content[0].text.startswith("2 results for 'install'")
    assert code.content[0].text.startswith("1 code example for 'install'")


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


# -- resources and prompts ----------------------------------------------------------------------


async def test_every_doc_is_listed_as_a_docs_resource_with_its_title(server):
    async with Client(server) as client:
        resources = (await client.list_resources()).resources
    by_uri = {str(r.uri): r for r in resources}
    assert len(by_uri) == 9 and "docs://guides/installation" in by_uri
    assert by_uri["docs://guides/installation"].title == "Installation"
    assert by_uri["docs://guides/installation"].mime_type == "text/markdown"


async def test_a_resource_template_lets_clients_open_any_doc_by_id(server):
    async with Client(server) as client:
        templates = (await client.list_resource_templates()).resource_templates
        page = await client.read_resource("docs://guides/installation")
    assert [t.uri_template for t in templates] == ["docs://{+id}"]
    assert page.contents[0].text.startswith("<doc id='guides/installation'")
    assert "pip install skyline-queue" in page.contents[0].text
    assert page.contents[0].mime_type == "text/markdown"


async def test_reading_an_unknown_doc_resource_is_an_error_that_suggests_the_right_id(server):
    from mcp.shared.exceptions import MCPError

    async with Client(server) as client:
        with pytest.raises(MCPError, match="guides/installation"):
            await client.read_resource("docs://guides/instalation")


async def test_the_answer_from_docs_prompt_says_search_then_read_then_cite(server):
    async with Client(server) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        prompt = await client.get_prompt("answer_from_docs", {"question": "How do retries work?"})
    assert [a.name for a in prompts["answer_from_docs"].arguments if a.required] == ["question"]
    text = prompt.messages[0].content.text
    assert "How do retries work?" in text
    assert text.index("search_docs") < text.index("get_doc") < text.index("Cite")


# -- budgets ------------------------------------------------------------------------------------


async def test_every_tool_reports_the_size_of_its_text_and_its_budget(server):
    async with Client(server) as client:
        results = [
            await client.call_tool("search_docs", {"query": "retries"}),
            await client.call_tool("get_doc", {"id": "guides/retries"}),
            await client.call_tool("list_docs", {}),
        ]
    for result in results:
        size = result.structured_content["size"]
        assert size["chars"] == len(result.content[0].text)
        assert size["approx_tokens"] >= size["chars"] / 4 and size["max_tokens"] == 20_000


async def test_a_small_budget_drops_the_lowest_ranked_hits_and_says_so(server):
    async with Client(server) as client:
        full = await client.call_tool("search_docs", {"query": "queue", "limit": 20})
        cut = await client.call_tool("search_docs", {"query": "queue", "limit": 20, "max_tokens": 500})
    assert full.structured_content["size"]["approx_tokens"] > 500  # the budget had to bite
    assert cut.structured_content["size"]["approx_tokens"] <= 500
    kept = [h["doc_id"] for h in cut.structured_content["hits"]]
    assert kept == [h["doc_id"] for h in full.structured_content["hits"]][: len(kept)]
    assert "max_tokens=500" in cut.content[0].text


async def test_a_small_budget_makes_get_doc_page_sooner(server):
    async with Client(server) as client:
        page = await client.call_tool("get_doc", {"id": "concepts/changelog", "max_tokens": 500})
    assert page.structured_content["size"]["approx_tokens"] <= 500
    assert page.structured_content["next_start_index"] is not None


@pytest.fixture(scope="module")
def many_docs_server(tmp_path_factory, embedder):
    from docs_mcp.indexer import index_corpus

    corpus = tmp_path_factory.mktemp("many-docs")
    for number in range(60):
        description = f"Page {number} describes a feature at length. " * 5
        (corpus / f"page-{number:02d}.md").write_text(
            f"---\ntitle: Page {number}\ndescription: {description}\n---\n\nBody {number}.\n",
            encoding="utf-8",
        )
    db = str(tmp_path_factory.mktemp("many-docs-index") / "index")
    index_corpus(corpus, IndexStore(db), embedder)
    return build_server(DocsService(IndexStore(db), lambda: embedder, model=MODEL))


async def test_a_small_budget_lists_fewer_docs_and_says_how_to_see_the_rest(many_docs_server):
    async with Client(many_docs_server) as client:
        full = await client.call_tool("list_docs", {})
        cut = await client.call_tool("list_docs", {"max_tokens": 1000})
    assert (
        full.structured_content["listed_docs"] == 60
        and full.structured_content["size"]["approx_tokens"] > 1000
    )
    tree = cut.structured_content
    assert tree["size"]["approx_tokens"] <= 1000 and 0 < tree["listed_docs"] < 60 and tree["truncated"]
    assert "max_tokens=1000" in cut.content[0].text and "prefix" in cut.content[0].text
