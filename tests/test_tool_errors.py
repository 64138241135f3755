"""Tool errors in docs-mcp's own words, for every tool and every argument it has.

The invalid calls are generated from each tool's input schema as `tools/list` publishes it, so a
parameter added later is covered without touching this file: each argument gets a value of the
wrong type, one past each bound its schema sets, and each required one is left out. Every answer
must be a tool error (isError) that names the argument and says what to send, with no pydantic
dump in it. Runs over the SDK's in-memory client in both protocol eras.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from docs_mcp.arguments import explain
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.store import IndexStore
from tests.conftest import MODEL

ERAS = ("legacy", "auto")  # the initialize handshake, and 2026-07-28 where the SDK negotiates it
PYDANTIC_WORDS = (
    "validation error",
    "pydantic",
    "Arguments\n",
    "type=",
    "input_value",
    "For further information",
)


@pytest.fixture(scope="module")
def server(shared_db: str, embedder: Any) -> MCPServer:
    return build_server(DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL))


def listed_tools(server: MCPServer) -> list[Any]:
    async def listing() -> list[Any]:
        async with Client(server) as client:
            return list((await client.list_tools()).tools)

    return anyio.run(listing)


def valid_value(schema: dict[str, Any]) -> Any:
    schema = next((arm for arm in schema.get("anyOf", []) if arm.get("type") != "null"), schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "install"[: schema.get("maxLength", 7)]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "array":
        return [valid_value(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    if kind == "boolean":
        return True
    return {}


def invalid_values(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what is wrong, value) for every way the schema lets a value be wrong."""
    nullable = any(arm.get("type") == "null" for arm in schema.get("anyOf", []))
    arm = next((a for a in schema.get("anyOf", []) if a.get("type") != "null"), schema)
    kind = arm.get("type")
    accepted = {a.get("type") for a in schema.get("anyOf", [schema])}  # e.g. a list, or one string
    if not nullable:
        yield "null", None
    if "enum" in arm:
        yield "not one of the choices", "surely-not-a-choice"
        return
    if kind == "string":
        yield "a number instead of text", 12345
        if arm.get("minLength"):
            yield "empty", ""
        if "maxLength" in arm:
            yield "too long", "x" * (arm["maxLength"] + 1)
    elif kind in ("integer", "number"):
        yield "text instead of a number", "many"
        if kind == "integer":
            yield "a fraction", 2.5
        if "minimum" in arm:
            yield "below the minimum", arm["minimum"] - 1
        if "maximum" in arm:
            yield "above the maximum", arm["maximum"] + 1
    elif kind == "array":
        if "string" in accepted:
            yield "a number instead of a list or text", 12345
        else:
            yield "text instead of a list", "not a list"
        if "maxItems" in arm:
            yield "too many items", [valid_value(arm.get("items", {}))] * (arm["maxItems"] + 1)
        items = arm.get("items", {})
        if items.get("type") == "string" and "maxLength" in items:
            yield "an item too long", ["x" * (items["maxLength"] + 1)]
    elif kind == "boolean":
        yield "an object instead of true or false", {"yes": 1}


def bad_calls(server: MCPServer) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(tool, argument, arguments, what is wrong) for every argument of every tool."""
    for tool in listed_tools(server):
        schema = tool.input_schema
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        base = {name: valid_value(properties[name]) for name in required}
        for name in required:
            yield tool.name, name, {k: v for k, v in base.items() if k != name}, "missing"
        for name, property_schema in properties.items():
            for wrong, value in invalid_values(property_schema):
                yield tool.name, name, {**base, name: value}, wrong
        yield tool.name, "limt", {**base, "limt": 3}, "not an argument of the tool"


def test_every_argument_of_every_tool_has_invalid_values_to_try(server: MCPServer) -> None:
    calls = list(bad_calls(server))
    for tool in listed_tools(server):
        tried = {name for name_of_tool, name, _, _ in calls if name_of_tool == tool.name}
        assert set(tool.input_schema.get("properties", {})) <= tried, tool.name
    assert len(calls) > 60


@pytest.mark.parametrize("era", ERAS)
def test_every_invalid_argument_is_a_tool_error_that_names_it_and_says_what_to_send(
    server: MCPServer, era: str
) -> None:
    calls = list(bad_calls(server))

    async def call_all() -> list[tuple[str, str, str, Any]]:
        answers = []
        with anyio.fail_after(120):
            async with Client(server, mode=era) as client:
                for tool, name, arguments, wrong in calls:
                    answers.append((tool, name, wrong, await client.call_tool(tool, arguments)))
        return answers

    for tool, name, wrong, result in anyio.run(call_all):
        text = " ".join(getattr(block, "text", "") for block in result.content)
        case = f"{tool}({name}: {wrong}) -> {text!r}"
        assert result.is_error, case
        assert text.startswith(f"invalid arguments for {tool}: "), case
        assert f"`{name}`" in text, case
        assert "send" in text or "only the arguments it takes" in text, case
        assert not any(words in text for words in PYDANTIC_WORDS), case
        assert len(text) < 2000, case  # a long rejected value is never echoed back


def test_an_unknown_tool_is_a_tool_error_that_names_the_tools(server: MCPServer) -> None:
    async def call() -> Any:
        async with Client(server) as client:
            return await client.call_tool("search_doc", {"query": "x"})

    result = anyio.run(call)
    assert result.is_error
    text = result.content[0].text
    assert "no tool named 'search_doc'" in text and "search_docs" in text and "get_doc" in text


def test_explain_describes_a_list_argument_and_its_items_from_the_schema_alone() -> None:
    schema = {
        "properties": {
            "keywords": {
                "anyOf": [
                    {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2},
                    {"type": "null"},
                ],
                "default": None,
                "description": "Exact words to look for.",
            }
        }
    }
    too_long = explain(
        "search_docs", schema, [{"type": "string_too_long", "loc": ("keywords", 1), "input": "abcd"}]
    )
    assert "item 1 of `keywords` was 'abcd'; send text of at most 3 characters" in too_long
    too_many = explain(
        "search_docs", schema, [{"type": "too_long", "loc": ("keywords",), "input": ["a"] * 3}]
    )
    assert "`keywords` was a list of 3 items; send a list of at most 2 items of text" in too_many
    assert "or leave it out: exact words to look for." in too_many
