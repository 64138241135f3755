"""The server as assistants meet it: a real `docs-mcp serve` process on stdio, on streamable
HTTP, and behind mcp-proxy (stdio in front of HTTP), driven by the MCP SDK's own client.

Nothing is mocked: every test launches the installed `docs-mcp` command against the sample
docs indexed with the real model (the `shared_db` fixture), so these catch what unit tests
cannot: stray prints on the stdio wire, a server that does not exit, a route that is missing.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.conftest import initialize_request

# Every test here starts at least one real server process and loads the real model.
pytestmark = pytest.mark.slow

DOCS_MCP = Path(sys.executable).parent / "docs-mcp"
SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample-docs"
SAMPLE_DOC_IDS = {str(p.relative_to(SAMPLE_CORPUS).with_suffix("")) for p in SAMPLE_CORPUS.rglob("*.md")}
MODEL = "all-MiniLM-L6-v2-int8"
TOOLS = {"search_docs", "get_doc", "list_docs", "ask_docs", "list_collections"}

# Bounds, so a broken server fails a test instead of hanging the suite.
STARTUP_SECONDS = 30  # imports + model load take ~4 s on a 2-core machine
CALL_SECONDS = 60  # a whole client conversation, first-call warm-up included
STDIN_EXIT_SECONDS = 5  # the SDK exits ~0.3 s after stdin closes

# mcp-proxy pins mcp<2, so it lives in its own venv, kept between runs under .tools/.
MCP_PROXY_VERSION = "0.13.0"
MCP_PROXY_VENV = Path(__file__).resolve().parents[1] / ".tools" / "mcp-proxy-venv"


# -- helpers: processes ---------------------------------------------------------------------------


def pick_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate, then kill if it ignores that; never wait unbounded."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def wait_for_health(base_url: str, process: subprocess.Popen[Any], log: Path) -> httpx.Response:
    """Poll GET /health until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docs-mcp serve exited with {process.returncode} before answering:\n{tail(log)}")
        try:
            response = httpx.get(f"{base_url}/health", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(f"no 200 from {base_url}/health within {STARTUP_SECONDS} s:\n{tail(log)}")


def start_http_server(
    db: str, port: int, env: dict[str, str], log: Path, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[bytes]:
    """`docs-mcp serve --transport http` as a subprocess, its output (banner, logs) to `log`;
    `preexec_fn` runs in the child first (to set a resource limit, say)."""
    with log.open("wb") as log_file:
        return subprocess.Popen(
            [str(DOCS_MCP), "serve", "--transport", "http", "--port", str(port), "--db", db],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=preexec_fn,
        )


@contextmanager
def running_http_server(db: str, port: int, env: dict[str, str], log: Path) -> Iterator[str]:
    """An HTTP server for the duration of a `with`; yields its base URL once /health answers."""
    process = start_http_server(db, port, env, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base_url, process, log)
        yield base_url
    finally:
        stop_process(process)


def server_env(model_cache: Path, home: Path) -> dict[str, str]:
    """The isolated environment of conftest's `isolated_env`, built by hand for fixtures wider
    than one test (they are set up before that autouse fixture runs)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOCS_MCP_")}
    env.update(
        DOCS_MCP_CACHE_DIR=str(model_cache),
        XDG_DATA_HOME=str(home / "xdg-data"),
        XDG_CACHE_HOME=str(home / "xdg-cache"),
        HF_HUB_OFFLINE="1",
    )
    return env


class JsonRpcLines:
    """Reads a server's stdout line by line on a thread, so every read can have a timeout.

    Every line is kept, so a test can check afterwards that nothing but JSON-RPC was written.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", errors="replace")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)  # end of stream

    def response_to(self, request_id: int, timeout: float = CALL_SECONDS) -> dict[str, Any]:
        """The next message answering `request_id` (notifications in between are skipped)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"stdout closed before the response to request {request_id}")
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # reported by the wire-hygiene assertion, with the offending line
            if isinstance(message, dict) and message.get("id") == request_id:
                return message
        pytest.fail(f"no response to request {request_id} within {timeout} s")

    def wait_closed(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "stdout stayed open after the process exited"


def send(process: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write((json.dumps(message) + "\n").encode())
    process.stdin.flush()


# -- helpers: what every transport must deliver ---------------------------------------------------


def doc_ids_in(folder: dict[str, Any]) -> set[str]:
    """Every doc id in a list_docs tree, however deeply nested."""
    ids = {doc["id"] for doc in folder["docs"]}
    for child in folder["folders"]:
        ids |= doc_ids_in(child)
    return ids


async def check_all_tools(client: Client) -> None:
    """The three tools answer with real content from the sample docs, and a bad id comes back
    as a tool error the assistant can act on (not a protocol failure)."""
    tools = await client.list_tools()
    assert {tool.name for tool in tools.tools} == TOOLS

    found = await client.call_tool("search_docs", {"query": "install with pip"})
    assert not found.is_error, found.content
    assert found.structured_content is not None
    assert found.structured_content["hits"][0]["doc_id"] == "guides/installation"
    assert "guides/installation#install-with-pip" in found.content[0].text

    guided = await client.call_tool(
        "search_docs",
        {
            "query": "wait for the outcome of a job",
            "keywords": ["get_result"],
            "hypothetical_answer": "get_result(job_id) waits for the job's result.",
        },
    )
    assert not guided.is_error, guided.content
    assert guided.structured_content is not None
    assert guided.structured_content["hits"][0]["doc_id"] == "reference/api"
    assert "keywords" in guided.structured_content["hits"][0]["matched_by"]

    page = await client.call_tool("get_doc", {"id": "guides/installation#install-with-pip"})
    assert not page.is_error, page.content
    assert page.structured_content is not None
    assert page.structured_content["section_title"] == "Install with pip"
    assert "pip install skyline-queue" in page.structured_content["content"]
    assert "pip install skyline-queue" in page.content[0].text

    tree = await client.call_tool("list_docs", {})
    assert not tree.is_error, tree.content
    assert tree.structured_content is not None
    assert tree.structured_content["total_docs"] == len(SAMPLE_DOC_IDS)
    assert doc_ids_in(tree.structured_content["root"]) == SAMPLE_DOC_IDS

    missing = await client.call_tool("get_doc", {"id": "guides/instalation"})
    assert missing.is_error
    assert "guides/installation" in missing.content[0].text  # the "did you mean" hint


def run_all_tools(server: str | StdioServerParameters) -> None:
    async def conversation() -> None:
        with anyio.fail_after(CALL_SECONDS):
            async with Client(server, read_timeout_seconds=CALL_SECONDS) as client:
                await check_all_tools(client)

    anyio.run(conversation)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(shared_db: str, model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One HTTP server for the module: it is stateless, so tests sharing it is what production
    does, and it saves a model load per test. Yields the base URL."""
    home = tmp_path_factory.mktemp("http-server")
    env = server_env(model_cache, home)
    with running_http_server(shared_db, pick_free_port(), env, home / "server.log") as base_url:
        yield base_url


@pytest.fixture(scope="session")
def mcp_proxy() -> Path:
    return installed_mcp_proxy()


def installed_mcp_proxy() -> Path:
    """The mcp-proxy command, installed once into its own venv (it requires mcp<2, which must
    never reach the project's venv). Skips when the package registry cannot be reached."""
    command = MCP_PROXY_VENV / "bin" / "mcp-proxy"
    if command.exists():
        return command
    python = MCP_PROXY_VENV / "bin" / "python"
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(MCP_PROXY_VENV)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"mcp-proxy=={MCP_PROXY_VERSION}"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    except subprocess.CalledProcessError as error:
        shutil.rmtree(MCP_PROXY_VENV, ignore_errors=True)
        output = (error.stderr or b"").decode(errors="replace")[-1000:]
        pytest.skip(f"could not install mcp-proxy=={MCP_PROXY_VERSION} (no package registry?): {output}")
    except subprocess.TimeoutExpired:
        shutil.rmtree(MCP_PROXY_VENV, ignore_errors=True)
        pytest.skip(f"installing mcp-proxy=={MCP_PROXY_VERSION} took longer than 300 s")
    assert command.exists(), f"pip installed mcp-proxy but {command} is missing"
    return command


# -- stdio ----------------------------------------------------------------------------------------


def test_stdio_server_answers_all_three_tools_through_the_sdk_client(shared_db: str) -> None:
    # isolated_env has already pointed DOCS_MCP_CACHE_DIR and XDG_* at temp folders.
    run_all_tools(
        StdioServerParameters(command=str(DOCS_MCP), args=["serve", "--db", shared_db], env=dict(os.environ))
    )


def test_stdio_stdout_carries_only_json_rpc_and_the_server_exits_when_stdin_closes(
    shared_db: str, tmp_path: Path
) -> None:
    stderr_log = tmp_path / "stderr.log"
    with stderr_log.open("wb") as stderr:
        process = subprocess.Popen(
            [str(DOCS_MCP), "serve", "--db", shared_db],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=dict(os.environ),
        )
    try:
        assert process.stdout is not None and process.stdin is not None
        wire = JsonRpcLines(process.stdout)
        send(
            process,
            initialize_request("test_transports"),
        )
        initialized = wire.response_to(1)
        assert initialized["result"]["protocolVersion"] == "2025-06-18", initialized
        assert initialized["result"]["serverInfo"]["name"] == "docs-mcp"
        send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})

        send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        listed = wire.response_to(2)
        assert {tool["name"] for tool in listed["result"]["tools"]} == TOOLS

        search = {"name": "search_docs", "arguments": {"query": "install with pip"}}
        send(process, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": search})
        called = wire.response_to(3)
        assert not called["result"].get("isError"), called
        assert "guides/installation#install-with-pip" in called["result"]["content"][0]["text"]

        # Closing stdin is how a client says goodbye; the server must not linger.
        process.stdin.close()
        closed_at = time.monotonic()
        try:
            exit_code = process.wait(timeout=STDIN_EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STDIN_EXIT_SECONDS} s after stdin closed:\n{tail(stderr_log)}")
        exit_seconds = time.monotonic() - closed_at
        wire.wait_closed(timeout=STDIN_EXIT_SECONDS)
    finally:
        stop_process(process)

    assert exit_code == 0, (
        f"exit code {exit_code} ({exit_seconds:.1f} s after stdin closed):\n{tail(stderr_log)}"
    )
    # stdout is the wire: a single print() or log line there corrupts the client's stream.
    assert len(wire.lines) >= 3
    for line in wire.lines:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"non-JSON line on stdout: {line!r}")
        assert message.get("jsonrpc") == "2.0", line


# -- streamable HTTP ------------------------------------------------------------------------------


def test_http_health_reports_the_published_index(http_server: str) -> None:
    response = httpx.get(f"{http_server}/health", timeout=5)
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert health["index_version"] >= 1
    assert health["model"] == MODEL
    assert health["docs"] == len(SAMPLE_DOC_IDS)
    assert health["chunks"] >= health["docs"]  # every sample doc has text, so at least one chunk each


def test_http_server_answers_all_three_tools_through_the_sdk_client(http_server: str) -> None:
    run_all_tools(f"{http_server}/mcp")


def test_http_server_is_stateless_so_clients_one_after_another_each_work(http_server: str) -> None:
    # Each client opens and closes its own connection; none depends on an earlier session.
    for _ in range(2):
        run_all_tools(f"{http_server}/mcp")


def test_http_body_that_is_not_json_gets_a_parse_error_and_the_server_keeps_serving(http_server: str) -> None:
    response = httpx.post(
        f"{http_server}/mcp",
        content=b"this is not json {",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["code"] == -32700  # JSON-RPC "Parse error"

    assert httpx.get(f"{http_server}/health", timeout=5).status_code == 200
    run_all_tools(f"{http_server}/mcp")


def test_http_server_serves_on_the_given_port_and_exits_cleanly_on_sigterm(
    shared_db: str, free_port: int, tmp_path: Path
) -> None:
    # SIGTERM is how systemd, Docker and other supervisors stop a server: it must go promptly.
    log = tmp_path / "server.log"
    process = start_http_server(shared_db, free_port, dict(os.environ), log)
    try:
        base_url = f"http://127.0.0.1:{free_port}"
        wait_for_health(base_url, process, log)
        run_all_tools(f"{base_url}/mcp")
        process.terminate()
        try:
            exit_code = process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 10 s after SIGTERM:\n{tail(log)}")
    finally:
        stop_process(process)
    # uvicorn shuts down gracefully, then re-raises the signal, so "clean" is -SIGTERM (or 0).
    assert exit_code in (0, -signal.SIGTERM), f"exit code {exit_code} after SIGTERM:\n{tail(log)}"
    assert "Traceback" not in log.read_text(errors="replace"), tail(log)


# -- mcp-proxy: stdio-only clients in front of the HTTP server ------------------------------------


def test_stdio_client_reaches_the_http_server_through_mcp_proxy(mcp_proxy: Path, http_server: str) -> None:
    run_all_tools(
        StdioServerParameters(
            command=str(mcp_proxy),
            # WARNING: at INFO it logs every request's headers; streamablehttp: the default is SSE.
            args=["--log-level", "WARNING", "--transport", "streamablehttp", f"{http_server}/mcp"],
        )
    )


def test_the_config_snippet_for_a_remote_server_reaches_it_through_mcp_proxy(
    mcp_proxy: Path, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from docs_mcp.cli import app

    monkeypatch.setenv("PATH", f"{mcp_proxy.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = CliRunner().invoke(
        app, ["config", "claude-desktop", "--transport", "http", "--url", f"{http_server}/mcp"]
    )
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["mcpServers"]["docs"]
    assert entry["command"] == str(mcp_proxy)
    run_all_tools(StdioServerParameters(command=entry["command"], args=entry["args"]))
