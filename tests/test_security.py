"""HTTP hardening as a network neighbour meets it: a real `docs-mcp serve --transport http`
bound to every interface, with a token and an allow-list, probed with raw requests and driven
by the SDK's own client. See corpus/guides/security.md for what these promise.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import initialize_request
from tests.test_transports import (
    CALL_SECONDS,
    DOCS_MCP,
    check_all_tools,
    mcp_proxy,  # noqa: F401  (a fixture)
    pick_free_port,
    run_all_tools,
    server_env,
    stop_process,
    tail,
)

pytestmark = pytest.mark.slow

TOKEN = "s3cret-token-for-tests"
ALLOWED_HOST = "docs.example.com"
ALLOWED_ORIGIN = "https://app.example.com"
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = initialize_request("test_security")


def wait_until_listening(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /health (open without a token) until it answers; fail early if the process dies."""
    for _ in range(150):  # 150 x 0.2 s = 30 s, the startup bound of test_transports
        if process.poll() is not None:
            pytest.fail(f"docs-mcp serve exited with {process.returncode}:\n{tail(log)}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # a bounded pause that also notices an early exit
    pytest.fail(f"{url}/health did not answer within 30 s:\n{tail(log)}")


@pytest.fixture(scope="module")
def exposed_server(
    shared_db: str, model_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Bound to 0.0.0.0 (where the SDK alone checks no Host), with a token and an allow-list
    from the environment. Yields the loopback base URL."""
    home = tmp_path_factory.mktemp("exposed-server")
    env = server_env(model_cache, home)
    env.update(
        DOCS_MCP_TOKEN=TOKEN,
        DOCS_MCP_ALLOWED_HOSTS=f"{ALLOWED_HOST}:*, {ALLOWED_HOST}",
        DOCS_MCP_ALLOWED_ORIGINS=ALLOWED_ORIGIN,
    )
    port = pick_free_port()
    log = home / "server.log"
    command = [str(DOCS_MCP), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(port)]
    command += ["--db", shared_db]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(base_url, process, log)
        yield base_url
    finally:
        stop_process(process)
    assert "Traceback" not in log.read_text(errors="replace"), tail(log)


def post(url: str, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{url}/mcp", content=content, headers={**MCP_HEADERS, **headers}, timeout=10)


def authorized(**headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **headers}


# -- Host and Origin ------------------------------------------------------------------------------


def test_a_server_bound_to_all_interfaces_answers_a_foreign_host_with_421(exposed_server: str) -> None:
    response = post(exposed_server, INITIALIZE, **authorized(Host="evil.example.net"))
    assert response.status_code == 421, response.text
    assert httpx.get(f"{exposed_server}/health", headers={"Host": "evil.example.net"}).status_code == 421


def test_a_server_bound_to_all_interfaces_answers_a_foreign_origin_with_403(exposed_server: str) -> None:
    response = post(exposed_server, INITIALIZE, **authorized(Origin="https://evil.example.net"))
    assert response.status_code == 403, response.text


def test_allowed_hosts_and_origins_from_the_environment_are_accepted(exposed_server: str) -> None:
    port = exposed_server.rsplit(":", 1)[1]
    headers = authorized(Host=f"{ALLOWED_HOST}:{port}", Origin=ALLOWED_ORIGIN)
    response = post(exposed_server, INITIALIZE, **headers)
    assert response.status_code == 200, response.text
    assert "docs-mcp" in response.text


# -- the token ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_a_missing_or_wrong_token_gets_401_with_a_bearer_challenge(
    exposed_server: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = post(exposed_server, INITIALIZE, **headers)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.text


def test_the_sdk_client_with_the_token_gets_all_three_tools(exposed_server: str) -> None:
    async def conversation() -> None:
        with anyio.fail_after(CALL_SECONDS):
            async with httpx2.AsyncClient(headers=authorized(), timeout=CALL_SECONDS) as http_client:
                transport = streamable_http_client(f"{exposed_server}/mcp", http_client=http_client)
                async with Client(transport, read_timeout_seconds=CALL_SECONDS) as client:
                    await check_all_tools(client)

    anyio.run(conversation)


def test_health_stays_open_without_a_token_and_does_not_reveal_the_index_path(
    exposed_server: str, shared_db: str
) -> None:
    response = httpx.get(f"{exposed_server}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert "db" not in response.json()
    assert shared_db not in response.text
    assert TOKEN not in response.text


# -- bodies ---------------------------------------------------------------------------------------


def test_a_body_over_one_megabyte_gets_413_and_the_server_keeps_serving(exposed_server: str) -> None:
    huge = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "x" * (1024 * 1024 + 1)}}  # type: ignore[dict-item]
    response = post(exposed_server, huge, **authorized())
    assert response.status_code == 413, response.text
    assert post(exposed_server, INITIALIZE, **authorized()).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b"null",
        b'{"jsonrpc": "1.0", "id": 1, "method": "initialize"}',
        b'{"jsonrpc": "2.0", "id": {"nested": true}, "method": 7}',
        b"\xff\xfe\x00garbage",
    ],
    ids=["truncated", "empty-batch", "null", "wrong-version", "wrong-types", "not-utf8"],
)
def test_malformed_json_rpc_gets_a_json_rpc_error_not_a_crash(exposed_server: str, body: bytes) -> None:
    response = post(exposed_server, body, **authorized())
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json(), response.text
    assert post(exposed_server, INITIALIZE, **authorized()).status_code == 200


# -- refusing to start ----------------------------------------------------------------------------


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOCS_MCP), "serve", "--transport", "http", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "DOCS_MCP_TOKEN"},
        stdin=subprocess.DEVNULL,
    )


def test_serving_on_a_non_loopback_address_without_a_token_refuses_to_start_in_one_line(
    tmp_path: Path,
) -> None:
    result = run_serve("--host", "0.0.0.0", "--port", str(pick_free_port()), "--db", str(tmp_path / "db"))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--token" in lines[0] and "--allow-unauthenticated" in lines[0]


def test_the_config_snippet_for_a_token_protected_server_works_through_mcp_proxy(
    exposed_server: str,
    mcp_proxy: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from docs_mcp.cli import app

    monkeypatch.setenv("PATH", f"{mcp_proxy.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    url = f"{exposed_server}/mcp"
    without = CliRunner().invoke(app, ["config", "claude-desktop", "--transport", "http", "--url", url])
    entry = json.loads(without.stdout)["mcpServers"]["docs"]
    assert "Authorization" not in entry["args"]

    result = CliRunner().invoke(
        app, ["config", "claude-desktop", "--transport", "http", "--url", url, "--token", TOKEN]
    )
    assert result.exit_code == 0, result.output
    assert "keep the file private" in result.stderr
    entry = json.loads(result.stdout)["mcpServers"]["docs"]
    run_all_tools(StdioServerParameters(command=entry["command"], args=entry["args"]))
    cursor = CliRunner().invoke(
        app, ["config", "cursor", "--transport", "http", "--url", url, "--token", TOKEN]
    )
    assert json.loads(cursor.stdout)["mcpServers"]["docs"]["headers"] == {"Authorization": f"Bearer {TOKEN}"}
