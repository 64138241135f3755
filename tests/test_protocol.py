"""The wire as clients of both protocol eras meet it, against real `docs-mcp serve` processes:
the 2026-07-28 era (the SDK's `Client(..., mode="auto")` negotiates it) and the legacy era (the
`initialize` handshake: `mode="legacy"`, and the real mcp-proxy), over HTTP and over stdio;
what `/mcp` answers to methods it does not take; media types and host names compared as the
RFCs say; cache hints on list results; and a busy port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import initialize_request
from tests.test_transports import (
    CALL_SECONDS,
    DOCS_MCP,
    installed_mcp_proxy,
    pick_free_port,
    running_http_server,
    server_env,
)

pytestmark = pytest.mark.slow

MODERN = "2026-07-28"
TOOL_ORDER = ["search_docs", "get_doc", "list_docs", "ask_docs", "list_collections"]
# A valid call of each tool, and a text its answer must hold (the sample docs' installation page).
VALID_CALLS: dict[str, tuple[dict[str, Any], str]] = {
    "search_docs": ({"query": "install with pip"}, "guides/installation"),
    "get_doc": ({"id": "guides/installation#install-with-pip"}, "pip install skyline-queue"),
    "list_docs": ({}, "guides/installation"),
    "ask_docs": ({"question": "How do I install it with pip?"}, "guides/installation"),
    "list_collections": ({}, "default"),
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def every_tool(client: Client) -> list[str]:
    """List the tools, call each one validly and once with an argument out of its range; return
    the order the tools were listed in."""
    tools = (await client.list_tools()).tools
    names = [tool.name for tool in tools]
    assert set(names) == set(VALID_CALLS), names  # a new tool must be added to VALID_CALLS
    for tool in tools:
        arguments, expected = VALID_CALLS[tool.name]
        result = await client.call_tool(tool.name, arguments)
        assert not result.is_error, (tool.name, text_of(result))
        assert result.structured_content is not None, tool.name
        assert expected in text_of(result) + json.dumps(result.structured_content), tool.name
        bad = await client.call_tool(tool.name, {**arguments, "max_tokens": 1})
        assert bad.is_error and text_of(bad).startswith(f"invalid arguments for {tool.name}: "), text_of(bad)
        assert "`max_tokens` was 1; send a whole number from" in text_of(bad)
    return names


def converse(target: str | StdioServerParameters, mode: str) -> tuple[str, list[str]]:
    async def conversation() -> tuple[str, list[str]]:
        with anyio.fail_after(CALL_SECONDS):
            async with Client(target, mode=mode, read_timeout_seconds=CALL_SECONDS) as client:
                names = await every_tool(client)
                return str(client.session.protocol_version), names

    return anyio.run(conversation)


def stdio_server(db: str) -> StdioServerParameters:
    return StdioServerParameters(command=str(DOCS_MCP), args=["serve", "--db", db], env=dict(os.environ))


@pytest.fixture(scope="module")
def server_url(shared_db: str, model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One HTTP server for the module (it is stateless, as in production). Its base URL."""
    home = tmp_path_factory.mktemp("protocol-server")
    with running_http_server(shared_db, pick_free_port(), server_env(model_cache, home), home / "log") as url:
        yield url


@pytest.fixture(scope="module")
def proxy() -> Path:
    return installed_mcp_proxy()


# -- both eras, both transports -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_both_protocol_eras_list_and_call_every_tool_over_http(server_url: str, mode: str) -> None:
    version, names = converse(f"{server_url}/mcp", mode)
    assert (version == MODERN) == (mode == "auto"), version
    assert names == TOOL_ORDER


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_both_protocol_eras_list_and_call_every_tool_over_stdio(shared_db: str, mode: str) -> None:
    version, names = converse(stdio_server(shared_db), mode)
    assert (version == MODERN) == (mode == "auto"), version
    assert names == TOOL_ORDER


def test_mcp_proxy_a_legacy_era_client_lists_and_calls_every_tool(proxy: Path, server_url: str) -> None:
    proxy = StdioServerParameters(
        command=str(proxy),
        args=["--log-level", "WARNING", "--transport", "streamablehttp", f"{server_url}/mcp"],
    )
    version, names = converse(proxy, "legacy")
    assert version != MODERN and names == TOOL_ORDER


def test_mcp_proxy_without_streamablehttp_fails_at_once_and_its_log_says_405(
    proxy: Path,
    server_url: str,
) -> None:
    """Its default (SSE) transport GETs /mcp: that is now a 405 at once, so mcp-proxy exits and
    the client is told the connection closed, instead of both waiting forever."""
    command = [str(proxy), "--log-level", "WARNING", f"{server_url}/mcp"]
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, stderr = process.communicate((json.dumps(initialize_request("sse")) + "\n").encode(), timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=10)
        pytest.fail("mcp-proxy in SSE mode was still waiting 20 s later")
    assert time.monotonic() - started < 20
    assert process.returncode != 0
    assert "405 Method Not Allowed" in stderr.decode(errors="replace"), stderr[-2000:]

    async def connect() -> str:
        proxy = StdioServerParameters(command=command[0], args=command[1:])
        with anyio.fail_after(20):
            try:
                async with Client(proxy, mode="legacy") as client:
                    await client.list_tools()
            except Exception as error:  # what an MCP client meets when the proxy exits
                return repr(error)
        return "connected"

    assert "Connection closed" in anyio.run(connect)


def test_tools_are_listed_in_one_fixed_order_by_every_process(
    shared_db: str, model_cache: Path, tmp_path: Path
) -> None:
    orders = []
    for run in range(2):
        env = server_env(model_cache, tmp_path / f"run-{run}")
        log = tmp_path / f"server-{run}.log"
        with running_http_server(shared_db, pick_free_port(), env, log) as base_url:
            for mode in ("auto", "legacy"):

                async def listing(url: str = f"{base_url}/mcp", mode: str = mode) -> list[str]:
                    async with Client(url, mode=mode) as client:
                        return [tool.name for tool in (await client.list_tools()).tools]

                orders.append(anyio.run(listing))
    assert orders == [TOOL_ORDER] * 4


# -- cache hints ----------------------------------------------------------------------------------


def test_list_results_carry_cache_hints_that_say_what_changes_and_how_often(server_url: str) -> None:
    async def hints() -> dict[str, tuple[int, str]]:
        async with Client(f"{server_url}/mcp", mode="auto", cache=None) as client:
            found = {
                "tools/list": await client.list_tools(),
                "prompts/list": await client.list_prompts(),
                "resources/templates/list": await client.list_resource_templates(),
                "resources/list": await client.list_resources(),
                "resources/read": await client.read_resource("docs://guides/installation"),
            }
            return {method: (result.ttl_ms, result.cache_scope) for method, result in found.items()}

    found = anyio.run(hints)
    for constant in ("tools/list", "prompts/list", "resources/templates/list"):
        assert found[constant] == (600_000, "public"), found  # the same for the process's life
    # The docs change with each published version; the server looks every 2 s (refresh_seconds).
    assert found["resources/list"] == (2000, "public")
    assert found["resources/read"] == (2000, "public")


# -- what /mcp answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE", "PUT", "PATCH", "OPTIONS"])
def test_the_mcp_endpoint_answers_anything_but_post_with_405_allow_post_at_once(
    server_url: str,
    method: str,
) -> None:
    # A pasted URL, curl, or mcp-proxy in SSE mode: an event stream would hang them (it did).
    started = time.monotonic()
    response = httpx.request(method, f"{server_url}/mcp", headers={"Accept": "text/event-stream"}, timeout=5)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == "POST"
    assert time.monotonic() - started < 5
    if method != "HEAD":
        described = response.json()["error_description"]
        assert "POST" in described and "--transport streamablehttp" in described


@pytest.mark.parametrize(
    "content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/JSON;charset=utf-8"]
)
def test_media_types_are_compared_case_insensitively_in_both_eras(
    server_url: str,
    content_type: str,
) -> None:
    headers = {**MCP_HEADERS, "Content-Type": content_type}
    legacy = httpx.post(f"{server_url}/mcp", json=initialize_request("case"), headers=headers, timeout=10)
    assert legacy.status_code == 200, (legacy.status_code, legacy.text)
    assert '"serverInfo"' in legacy.text
    modern = httpx.post(
        f"{server_url}/mcp",
        content=json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": _meta()}}),
        headers={**headers, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"},
        timeout=10,
    )
    assert modern.status_code == 200, (modern.status_code, modern.text)
    assert '"search_docs"' in modern.text


@pytest.mark.parametrize("accept", ["application/json, text/event-stream", "application/json"])
def test_a_tool_call_is_answered_with_one_json_body_in_both_eras(server_url: str, accept: str) -> None:
    call = {"name": "search_docs", "arguments": {"query": "install", "limit": 1}}
    headers = {**MCP_HEADERS, "Accept": accept}
    legacy = httpx.post(
        f"{server_url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call},
        headers=headers,
        timeout=30,
    )
    modern = httpx.post(
        f"{server_url}/mcp",
        json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {**call, "_meta": _meta()}},
        headers={
            **headers,
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/call",
            "Mcp-Name": "search_docs",
        },
        timeout=30,
    )
    for response in (legacy, modern):
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["result"]["structuredContent"]["hits"]


def _meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "test_protocol", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://127.0.0.1",
        "http://[::1]",
        "http://localhost:3000",
        "https://localhost",
        "HTTP://LOCALHOST:8080",
        "http://localhost.:5173",
    ],
)
def test_loopback_origins_are_accepted_with_any_port_or_none(server_url: str, origin: str) -> None:
    response = httpx.get(f"{server_url}/health", headers={"Origin": origin}, timeout=5)
    assert response.status_code == 200, (origin, response.status_code)


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "http://localhost.evil.example", "http://127.0.0.1.nip.io", "file://"],
)
def test_foreign_origins_are_refused_with_403(server_url: str, origin: str) -> None:
    assert httpx.get(f"{server_url}/health", headers={"Origin": origin}, timeout=5).status_code == 403


@pytest.mark.parametrize("host", ["LOCALHOST", "localhost.", "LocalHost.:8000", "127.0.0.1", "[::1]:1234"])
def test_host_names_compare_case_insensitively_and_a_trailing_dot_is_the_same_name(
    server_url: str,
    host: str,
) -> None:
    assert httpx.get(f"{server_url}/health", headers={"Host": host}, timeout=5).status_code == 200


@pytest.mark.parametrize(
    "host",
    ["evil.example", "localhost.evil.example", "localhost..", "127.0.0.2.nip.io", "[::1", "evil@localhost"],
)
def test_foreign_hosts_are_refused_with_421(server_url: str, host: str) -> None:
    assert httpx.get(f"{server_url}/health", headers={"Host": host}, timeout=5).status_code == 421


# -- a busy port ----------------------------------------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def serve_http_on(port: int, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOCS_MCP), "serve", "--transport", "http", "--port", str(port), "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


def test_a_busy_port_is_one_line_naming_it_and_a_free_one_before_any_banner_exit_1(
    shared_db: str, busy_port: int
) -> None:
    started = time.monotonic()
    result = serve_http_on(busy_port, shared_db)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stdout == "", result.stdout  # no serving banner
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in lines[0]
    assert f"in use by process {os.getpid()} (" in lines[0]  # this test holds it
    assert "--port " in lines[0] and "DOCS_MCP_PORT" in lines[0]
    suggested = int(lines[0].split("--port ")[1].split()[0])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", suggested))  # the port it suggests is free
    assert time.monotonic() - started < 30  # found before the model loads


def test_a_port_held_by_another_docs_mcp_server_says_so(shared_db: str, server_url: str) -> None:
    result = serve_http_on(int(server_url.rsplit(":", 1)[1]), shared_db)
    assert result.returncode == 1
    assert "another docs-mcp server (serving index version 1)" in result.stderr, result.stderr
