"""Clients docs-mcp did not write: the MCP Inspector's CLI (Node), and mcp-proxy in server mode.

The Inspector is installed with npm into .tools/ (kept between runs, gitignored); the test is
skipped only where npm is absent. mcp-proxy comes from test_transports' fixture (its own venv).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import initialize_request
from tests.test_transports import (
    DOCS_MCP,
    STARTUP_SECONDS,
    http_server,  # noqa: F401  (a fixture: one HTTP docs-mcp for this module)
    mcp_proxy,  # noqa: F401  (a fixture: mcp-proxy installed in its own venv)
    pick_free_port,
    run_all_tools,
    stop_process,
    tail,
)

pytestmark = pytest.mark.slow

INSPECTOR_VERSION = "0.15.0"
INSPECTOR_DIR = Path(__file__).resolve().parents[1] / ".tools" / f"inspector-{INSPECTOR_VERSION}"
INSPECTOR_SECONDS = 60  # one Inspector run: node start-up, server start-up (model load), one call


@pytest.fixture(scope="session")
def inspector() -> Path:
    """The Inspector's CLI, installed once with npm."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so the MCP Inspector (a Node package) cannot be run")
    command = INSPECTOR_DIR / "node_modules" / ".bin" / "mcp-inspector"
    if command.exists():
        return command
    INSPECTOR_DIR.mkdir(parents=True, exist_ok=True)
    installed = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(INSPECTOR_DIR),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if installed.returncode != 0 or not command.exists():
        shutil.rmtree(INSPECTOR_DIR, ignore_errors=True)
        pytest.fail(f"npm could not install the MCP Inspector:\n{installed.stderr[-2000:]}")
    return command


def inspect(inspector: Path, target: list[str], *method: str) -> dict[str, Any]:
    """One `mcp-inspector --cli` call; its stdout is the JSON result."""
    result = subprocess.run(
        [str(inspector), "--cli", *target, "--method", *method],
        capture_output=True,
        text=True,
        timeout=INSPECTOR_SECONDS,
        env=dict(os.environ),
    )
    assert result.returncode == 0, f"{method}: {result.stderr[-2000:]}"
    return json.loads(result.stdout)


def check_with_inspector(inspector: Path, target: list[str]) -> None:
    tools = inspect(inspector, target, "tools/list")
    assert {tool["name"] for tool in tools["tools"]} == {
        "search_docs",
        "get_doc",
        "list_docs",
        "ask_docs",
        "list_collections",
    }

    found = inspect(
        inspector, target, "tools/call", "--tool-name", "search_docs", "--tool-arg", "query=install with pip"
    )
    assert not found.get("isError"), found
    top = found["structuredContent"]["hits"][0]
    assert top["open_with"] == "guides/installation#install-with-pip"

    page = inspect(
        inspector, target, "tools/call", "--tool-name", "get_doc", "--tool-arg", f"id={top['open_with']}"
    )
    assert not page.get("isError"), page
    assert "pip install skyline-queue" in page["content"][0]["text"]


def test_the_mcp_inspector_cli_lists_tools_searches_and_reads_over_stdio(
    inspector: Path, shared_db: str
) -> None:
    target = [str(DOCS_MCP), "serve", "--db", shared_db]
    check_with_inspector(inspector, target)
    resource = inspect(inspector, target, "resources/read", "--uri", "docs://guides/installation")
    assert "pip install skyline-queue" in resource["contents"][0]["text"]


def test_the_mcp_inspector_cli_lists_tools_searches_and_reads_over_http(
    inspector: Path,
    http_server: str,  # noqa: F811
) -> None:
    check_with_inspector(inspector, [f"{http_server}/mcp", "--transport", "http"])


# -- mcp-proxy's server mode: a stdio docs-mcp exposed over HTTP ------------------------------------


@pytest.fixture
def proxied_stdio_server(
    mcp_proxy: Path,  # noqa: F811
    shared_db: str,
    tmp_path: Path,
) -> Iterator[str]:
    """`mcp-proxy --port P -- docs-mcp serve --db ...`; yields the proxy's streamable HTTP URL."""
    port = pick_free_port()
    log = tmp_path / "proxy.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                str(mcp_proxy),
                *("--log-level", "WARNING", "--pass-environment", "--port", str(port)),
                *("--", str(DOCS_MCP), "serve", "--db", shared_db),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"mcp-proxy exited with {process.returncode}:\n{tail(log)}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/status", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mcp-proxy did not listen within {STARTUP_SECONDS} s:\n{tail(log)}")
                time.sleep(0.2)  # polling a bounded wait for the port to open
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(process)


def test_mcp_proxy_in_server_mode_exposes_a_stdio_docs_mcp_over_http(proxied_stdio_server: str) -> None:
    run_all_tools(proxied_stdio_server)


def test_mcp_proxy_in_server_mode_does_no_host_check_unlike_docs_mcp_itself(
    proxied_stdio_server: str,
    http_server: str,  # noqa: F811
) -> None:
    # The documented caveat: a page on another origin (DNS rebinding) can reach a proxied server.
    initialize = initialize_request("test_real_clients")
    headers = {"Host": "attacker.example", "Accept": "application/json, text/event-stream"}
    proxied = httpx.post(proxied_stdio_server, json=initialize, headers=headers, timeout=30)
    direct = httpx.post(f"{http_server}/mcp", json=initialize, headers=headers, timeout=30)
    assert proxied.status_code == 200, proxied.text
    assert direct.status_code == 421, direct.text
