"""Load test (not a test in `make test`): a real `docs-mcp serve --transport http` on loopback,
driven by the MCP SDK's own client. Bounded in calls and in time; prints one line per phase.

    .venv/bin/python scripts/loadtest.py            # the full run from issue 5
    .venv/bin/python scripts/loadtest.py --quick    # a smoke run in well under a minute
    .venv/bin/python scripts/loadtest.py --db DIR   # an existing index (default: index corpus/)

Phases: concurrency 8 x 5,000 mixed calls (60% search_docs, 30% get_doc, 10% list_docs) with
server RSS growth after warm-up; concurrency 32 x 3,000; the 8 x 5,000 run again while 300 idle
streaming GETs are held open and 50 uploads are aborted midway; 100 concurrent calls through
mcp-proxy over stdio (installed into .tools/mcp-proxy-venv by the test suite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
DOCS_MCP = Path(sys.executable).parent / "docs-mcp"
MCP_PROXY = ROOT / ".tools" / "mcp-proxy-venv" / "bin" / "mcp-proxy"
CALL_SECONDS = 30  # one call; more is an error ("timeout")
PHASE_SECONDS = 900  # one phase, whatever happens
QUERIES = [
    "install with pip",
    "how do I connect Claude Desktop",
    "hybrid search",
    "index versions and publishing",
    "environment variables",
    "bearer token",
    "rebuild the index",
    "HTTP 421",
    "list documents under a folder",
    "what does get_doc return",
]


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies) or [0.0]

        def pct(p: float) -> float:
            return ms[min(len(ms) - 1, int(p * len(ms)))]

        rate = len(self.latencies) / self.seconds if self.seconds else 0.0
        extra = " ".join(f"{k}={v}" for k, v in self.extra.items())
        return (
            f"{self.name}: calls={len(self.latencies)} "
            f"errors={sum(self.errors.values())} {self.errors or ''} "
            f"p50={statistics.median(ms):.1f}ms p95={pct(0.95):.1f}ms p99={pct(0.99):.1f}ms "
            f"max={ms[-1]:.1f}ms rate={rate:.0f}/s {extra}"
        ).replace("  ", " ")


def pick_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for_health(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"docs-mcp serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("docs-mcp serve did not answer /health within 60 s")


def pick_call(rng: random.Random, doc_ids: list[str]) -> tuple[str, dict[str, Any]]:
    roll = rng.random()
    if roll < 0.6:
        return "search_docs", {"query": rng.choice(QUERIES), "limit": 5}
    if roll < 0.9:
        return "get_doc", {"id": rng.choice(doc_ids)}
    return "list_docs", {}


async def one_call(client: Client, phase: Phase, tool: str, arguments: dict[str, Any]) -> None:
    started = time.perf_counter()
    try:
        with anyio.fail_after(CALL_SECONDS):
            result = await client.call_tool(tool, arguments)
    except TimeoutError:
        phase.error("timeout")
        return
    except Exception as error:  # a 5xx, a JSON-RPC error or a dropped connection: count it
        phase.error(type(error).__name__)
        return
    if result.is_error:
        phase.error("isError")
        return
    phase.latencies.append(time.perf_counter() - started)


async def mixed_calls(server: str | StdioServerParameters, name: str, concurrency: int, total: int,
                      doc_ids: list[str]) -> Phase:  # fmt: skip
    phase = Phase(name)
    remaining = total
    rng = random.Random(5)

    async def worker() -> None:
        nonlocal remaining
        async with Client(server, read_timeout_seconds=CALL_SECONDS) as client:
            while remaining > 0:
                remaining -= 1
                await one_call(client, phase, *pick_call(rng, doc_ids))

    started = time.perf_counter()
    with anyio.fail_after(PHASE_SECONDS):
        async with anyio.create_task_group() as tasks:
            for _ in range(concurrency):
                tasks.start_soon(worker)
    phase.seconds = time.perf_counter() - started
    return phase


async def through_proxy(url: str, calls: int, doc_ids: list[str]) -> Phase:
    """`calls` concurrent calls over one stdio session of mcp-proxy in front of the server."""
    phase = Phase(f"mcp-proxy stdio, {calls} concurrent")
    params = StdioServerParameters(
        command=str(MCP_PROXY), args=["--log-level", "WARNING", "--transport", "streamablehttp", url]
    )
    rng = random.Random(7)
    started = time.perf_counter()
    with anyio.fail_after(PHASE_SECONDS):
        async with Client(params, read_timeout_seconds=CALL_SECONDS) as client:
            started = time.perf_counter()
            async with anyio.create_task_group() as tasks:
                for _ in range(calls):
                    tasks.start_soon(one_call, client, phase, *pick_call(rng, doc_ids))
    phase.seconds = time.perf_counter() - started
    return phase


async def abort_upload(port: int) -> None:
    """Declare a 1 MB-ish body, send part of it, and hang up."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search_docs", "x": "'
    writer.write(
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: 900000\r\n\r\n" % port
    )
    writer.write(body + b"a" * 10_000)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def under_pressure(url: str, port: int, idle: int, aborted: int, concurrency: int, total: int,
                         doc_ids: list[str]) -> Phase:  # fmt: skip
    """The mixed run while `idle` streaming GETs are held open and `aborted` uploads hang up."""
    limits = httpx.Limits(max_connections=idle + 10, max_keepalive_connections=0)
    statuses: dict[int, int] = {}
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=CALL_SECONDS))
        for _ in range(idle):
            try:
                response = await stack.enter_async_context(
                    http.stream("GET", f"{url}/mcp", headers={"Accept": "text/event-stream"})
                )
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            except httpx.HTTPError:
                statuses[0] = statuses.get(0, 0) + 1
        async with anyio.create_task_group() as tasks:
            for _ in range(aborted):
                tasks.start_soon(abort_upload, port)
        phase = await mixed_calls(
            f"{url}/mcp", f"c{concurrency} x {total} with {idle} idle GETs, {aborted} aborted uploads",
            concurrency, total, doc_ids,
        )  # fmt: skip
    phase.extra["idle_get_statuses"] = json.dumps(statuses)
    return phase


async def main_async(args: argparse.Namespace, url: str, port: int, pid: int) -> list[Phase]:
    scale = 0.06 if args.quick else 1.0
    n = lambda count: max(10, int(count * scale))  # noqa: E731
    async with Client(f"{url}/mcp") as client:
        tree = (await client.call_tool("list_docs", {})).structured_content or {}
    doc_ids = sorted(_ids(tree["root"]))

    phases: list[Phase] = []
    warm = await mixed_calls(f"{url}/mcp", "warm-up", 8, n(500), doc_ids)
    rss_before = rss_mb(pid)
    first = await mixed_calls(f"{url}/mcp", f"c8 x {n(5000)}", 8, n(5000), doc_ids)
    rss_after = rss_mb(pid)
    first.extra["rss_mb"] = f"{rss_before:.0f}->{rss_after:.0f} ({(rss_after / rss_before - 1) * 100:+.1f}%)"
    phases += [warm, first, await mixed_calls(f"{url}/mcp", f"c32 x {n(3000)}", 32, n(3000), doc_ids)]
    phases.append(await under_pressure(url, port, n(300), n(50), 8, n(5000), doc_ids))
    phases[-1].extra["rss_mb_end"] = f"{rss_mb(pid):.0f}"
    if MCP_PROXY.exists():
        phases.append(await through_proxy(f"{url}/mcp", n(100), doc_ids))
    else:
        print(f"skipped mcp-proxy: {MCP_PROXY} missing (run the test suite once to install it)")
    return phases


def _ids(folder: dict[str, Any]) -> list[str]:
    ids = [doc["id"] for doc in folder["docs"]]
    for child in folder["folders"]:
        ids += _ids(child)
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 6%% of the calls, for a smoke run")
    parser.add_argument("--db", help="an existing index; default: index corpus/ into a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="docs-mcp-load-") as tmp:
        db = args.db or str(Path(tmp) / "index")
        if not args.db:
            subprocess.run([str(DOCS_MCP), "index", str(ROOT / "corpus"), "--db", db], check=True,
                           stdout=subprocess.DEVNULL, timeout=600)  # fmt: skip
        port = pick_port()
        log = (Path(tmp) / "server.log").open("wb")
        server = subprocess.Popen(
            [str(DOCS_MCP), "serve", "--transport", "http", "--port", str(port), "--db", db],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, server)
            phases = anyio.run(main_async, args, url, port, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            log.close()
        server_log = (Path(tmp) / "server.log").read_text(errors="replace")
        crashed = "Traceback" in server_log
        if crashed:
            print("server log (tail):\n" + server_log[-3000:])
    for phase in phases:
        print(phase.line())
    errors = sum(sum(p.errors.values()) for p in phases)
    print(f"total errors: {errors}; server traceback in log: {crashed}")
    return 1 if errors or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
