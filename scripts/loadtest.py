#!/usr/bin/env python
"""docs-mcp load test: real MCP clients against a real server on loopback. Not a test suite.

Every phase is bounded in calls and in time, and counts every failure: an exception, a
timeout, a JSON-RPC error or a tool result with isError. Phases:

  mixed       concurrency 8, 5,000 calls (60% search_docs, 30% get_doc, 10% list_docs),
              with the server's memory after warm-up and at the end
  burst       concurrency 32, 3,000 calls
  hostile     the mixed phase again while 300 idle connections are held open and 50
              uploads are abandoned halfway through their body
  idle        a server under the common 1,024 open-file limit (soft and hard): real searches
              from fresh clients before, and while, 1,100 half-open connections are held
              (more than the server has file descriptors), and what its log received
  proxy       100 concurrent calls through `mcp-proxy` (stdio to streamable HTTP)
  stdio       a stdio server: every stdout line is JSON-RPC, and it exits within 1 s of
              stdin closing

Usage (from the repo root, in the project venv; the index defaults to docs-mcp's own docs,
built first with `docs-mcp index`):

    .venv/bin/python scripts/loadtest.py                  # everything, a few minutes
    .venv/bin/python scripts/loadtest.py --quick          # a tenth of the calls
    .venv/bin/python scripts/loadtest.py --db DIR --json out.json --skip proxy
    .venv/bin/python scripts/loadtest.py --only idle --docs-mcp OTHER/docs-mcp   # another build
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from _bench_util import child_env, docs_mcp_command, process_memory_mb, running_http_server
from bench import CallLog, mixed_call_plan, new_client, open_with_ids, timed_call
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
MCP_PROXY = REPO_ROOT / ".tools" / "mcp-proxy-venv" / "bin" / "mcp-proxy"
PHASES = ("mixed", "burst", "hostile", "idle", "proxy", "stdio")
QUERIES = [
    "how do I connect Cursor",
    "index a folder of markdown",
    "what does search_docs return",
    "server refuses to start: index was built with another model",
    "read the next part of a long page",
    "which environment variables configure docs-mcp",
    "run the server over HTTP",
    "how is a search ranked",
    "DOCS_MCP_CACHE_DIR",
    "measure search quality",
]
PHASE_TIMEOUT_S = 600.0
IDLE_CONNECTIONS = 300
ABORTED_UPLOADS = 50
# The `idle` phase: the incident's numbers, a 1,024 open-file limit and 1,100 half-open connections.
SERVER_OPEN_FILES = 1024
HALF_OPEN_CONNECTIONS = 1100
REAL_SEARCHES = 20  # each from a fresh client: a new connection, as a new assistant session makes
SEARCH_TIMEOUT_S = 15.0  # a search of the idle phase that takes longer has failed


@dataclass
class Run:
    calls: int
    concurrency: int
    log: CallLog
    seconds: float

    def summary(self) -> dict[str, Any]:
        completed = len(self.log.seconds)
        return {
            "calls": self.calls,
            "concurrency": self.concurrency,
            "completed": completed,
            "calls_per_s": round(completed / self.seconds, 1) if self.seconds else None,
            **self.log.summary(),
        }


async def run_mixed(url: str, calls: int, concurrency: int, on_warm: Any = None) -> Run:
    """`concurrency` clients share `calls` mixed calls; `on_warm()` runs once a tenth are done."""
    plan = list(mixed_call_plan(calls))
    log = CallLog()
    ids: list[str] = ["index"]
    cursor = iter(range(calls))
    warm_at = max(1, calls // 10)
    warmed = anyio.Event()

    async def worker(client: Client) -> None:
        for number in cursor:
            tool = plan[number]
            if tool == "search_docs":
                result = await timed_call(client, tool, {"query": QUERIES[number % len(QUERIES)]}, log)
                ids.extend(open_with_ids(result) if result else [])
            elif tool == "get_doc":
                await timed_call(client, tool, {"id": ids[(number * 7) % len(ids)]}, log)
            else:
                await timed_call(client, tool, {}, log)
            if number >= warm_at and not warmed.is_set():
                warmed.set()
                if on_warm is not None:
                    on_warm()

    with anyio.fail_after(PHASE_TIMEOUT_S):
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(new_client(url)) for _ in range(concurrency)]
            started = time.perf_counter()
            async with anyio.create_task_group() as workers:
                for client in clients:
                    workers.start_soon(worker, client)
            elapsed = time.perf_counter() - started
    return Run(calls, concurrency, log, elapsed)


def hold_idle_connections(port: int, count: int) -> list[socket.socket]:
    """Connections that send half a request and then say nothing more."""
    held = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
        held.append(connection)
    return held


def abandon_uploads(port: int, count: int) -> int:
    """Uploads that announce 64 KB, send half of it, and hang up. Returns how many were sent."""
    sent = 0
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                b"Accept: application/json, text/event-stream\r\nContent-Length: 65536\r\n\r\n"
                % port
                + b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"query": "'
                + b"x" * 32_000
            )
            sent += 1
    return sent


def hold_half_open(port: int, count: int) -> list[socket.socket]:
    """`count` connections that send part of a request head and then nothing; a connection the
    server refuses or closes is still counted as tried, and kept until the phase ends."""
    held = []
    for _ in range(count):
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=2)
            connection.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            continue
        held.append(connection)
    return held


def still_open(connections: list[socket.socket]) -> int:
    """How many the server has not closed (a closed one reads as end-of-stream at once)."""
    open_now = 0
    for connection in connections:
        connection.setblocking(False)
        try:
            connection.recv(1)  # end-of-stream, or a 408 before it: the server let go
        except BlockingIOError:
            open_now += 1  # nothing to read and not closed: the server still holds it
        except OSError:
            pass
    return open_now


async def fresh_client_searches(url: str, count: int) -> CallLog:
    """`count` searches, each from a new client (a new connection and session), one at a time."""
    log = CallLog()
    for number in range(count):
        try:
            with anyio.fail_after(SEARCH_TIMEOUT_S):
                async with new_client(url) as client:
                    await timed_call(client, "search_docs", {"query": QUERIES[number % len(QUERIES)]}, log)
        except Exception as error:  # a client that cannot connect is a failed search, not a crash
            log.failed(f"connect: {type(error).__name__}: {error}")
    return log


def idle_phase(command: str, db: Path, env: dict[str, str], work: Path) -> dict[str, Any]:
    """Real searches before and while HALF_OPEN_CONNECTIONS are held against a server that has
    SERVER_OPEN_FILES file descriptors, and what the server logged meanwhile."""
    log_path = work / "idle-server.log"
    with running_http_server(command, db, env, log_path, open_files=SERVER_OPEN_FILES) as server:
        before = anyio.run(fresh_client_searches, server.mcp_url, REAL_SEARCHES)
        held = hold_half_open(server.port, HALF_OPEN_CONNECTIONS)
        try:
            during = anyio.run(fresh_client_searches, server.mcp_url, REAL_SEARCHES)
            holding = still_open(held)
        finally:
            for connection in held:
                connection.close()
        after = anyio.run(fresh_client_searches, server.mcp_url, 10)
        rss = process_memory_mb(server.pid).get("VmRSS")
    lines = emfile = 0
    with log_path.open("rb") as server_log:  # read as a stream: a flooded log runs to gigabytes
        for line in server_log:
            lines += 1
            emfile += b"Too many open files" in line
    return {
        "server_open_files": SERVER_OPEN_FILES,
        "half_open_tried": HALF_OPEN_CONNECTIONS,
        "half_open_connected": len(held),
        "half_open_still_held_by_server": holding,
        "before": {"ok": len(before.seconds), **before.summary()},
        "during": {"ok": len(during.seconds), **during.summary()},
        "after": {"ok": len(after.seconds), **after.summary()},
        "log_lines": lines,
        "log_bytes": log_path.stat().st_size,
        "log_too_many_open_files": emfile,
        "rss_mb": rss,
    }


async def proxy_calls(url: str, calls: int) -> Run:
    """`calls` concurrent search_docs calls through one mcp-proxy process over stdio."""
    params = StdioServerParameters(
        command=str(MCP_PROXY), args=["--log-level", "WARNING", "--transport", "streamablehttp", url]
    )
    log = CallLog()
    with anyio.fail_after(PHASE_TIMEOUT_S):
        async with new_client(params) as client:
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for number in range(calls):
                    group.start_soon(timed_call, client, "search_docs", {"query": QUERIES[number % 10]}, log)
            elapsed = time.perf_counter() - started
    return Run(calls, calls, log, elapsed)


def stdio_check(command: str, db: str, env: dict[str, str]) -> dict[str, Any]:
    """Raw JSON-RPC over a stdio server: every stdout line parses, and closing stdin ends it."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "loadtest", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "search_docs", "arguments": {"query": "connect a client"}},
        },
    ]
    process = subprocess.Popen(
        [command, "serve", "--transport", "stdio", "--db", db],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None
    for request in requests:
        process.stdin.write((json.dumps(request) + "\n").encode())
    process.stdin.flush()
    lines, answered = [], set()
    deadline = time.monotonic() + 60
    while answered != {1, 2, 3} and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        message = json.loads(line)  # a line that is not JSON-RPC fails the phase here
        answered.add(message.get("id"))
    closed_at = time.perf_counter()
    process.stdin.close()
    try:
        process.wait(timeout=10)
        exit_s = round(time.perf_counter() - closed_at, 3)
    except subprocess.TimeoutExpired:
        process.kill()
        exit_s = None
    rest = process.stdout.read()
    stray = [line for line in rest.splitlines() if line.strip()]
    for line in stray:
        json.loads(line)
    return {
        "stdout_lines": len(lines) + len(stray),
        "all_json_rpc": True,
        "answered": sorted(answered),
        "exit_after_stdin_closed_s": exit_s,
    }


def raise_own_open_file_limit(wanted: int) -> None:
    """This script holds over a thousand sockets in the idle phase."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="index to serve [default: docs-mcp's own docs, indexed first]")
    parser.add_argument("--quick", action="store_true", help="a tenth of the calls")
    parser.add_argument("--skip", action="append", default=[], choices=PHASES)
    parser.add_argument("--only", action="append", default=[], choices=PHASES, help="run only these phases")
    parser.add_argument("--docs-mcp", help="the docs-mcp command to serve with [default: this venv's]")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    console = Console()
    scale = 10 if args.quick else 1
    cache_dir = Path(os.environ.get("DOCS_MCP_CACHE_DIR") or Path.home() / ".cache" / "docs-mcp")
    env = child_env(cache_dir)
    command = args.docs_mcp or docs_mcp_command()
    if args.only:
        args.skip = [phase for phase in PHASES if phase not in args.only]
    raise_own_open_file_limit(HALF_OPEN_CONNECTIONS + 200)
    work = Path(tempfile.mkdtemp(prefix="docs-mcp-load-"))
    db = args.db
    if db is None:
        db = str(work / "db")
        console.print("indexing docs-mcp's own docs…")
        subprocess.run([command, "index", "--db", db, "--json"], env=env, check=True, capture_output=True)
    results: dict[str, Any] = {"db": db, "quick": args.quick}

    with running_http_server(command, Path(db), env, work / "server.log") as server:
        url = server.mcp_url
        if "mixed" not in args.skip:
            console.print(f"mixed: {5000 // scale} calls at concurrency 8…")
            memory: dict[str, Any] = {}
            run = anyio.run(
                run_mixed, url, 5000 // scale, 8, lambda: memory.update(warm=process_memory_mb(server.pid))
            )
            end = process_memory_mb(server.pid)
            warm_rss, end_rss = memory.get("warm", {}).get("VmRSS"), end.get("VmRSS")
            results["mixed"] = {
                **run.summary(),
                "rss_after_warmup_mb": warm_rss,
                "rss_end_mb": end_rss,
                "rss_growth_pct": round(100 * (end_rss - warm_rss) / warm_rss, 1) if warm_rss else None,
            }
        if "burst" not in args.skip:
            console.print(f"burst: {3000 // scale} calls at concurrency 32…")
            results["burst"] = anyio.run(run_mixed, url, 3000 // scale, 32).summary()
        if "hostile" not in args.skip:
            console.print(
                f"hostile: {IDLE_CONNECTIONS} idle connections, {ABORTED_UPLOADS} abandoned uploads…"
            )
            held = hold_idle_connections(server.port, IDLE_CONNECTIONS)
            try:
                abandoned = abandon_uploads(server.port, ABORTED_UPLOADS)
                run = anyio.run(run_mixed, url, 5000 // scale, 8)
                results["hostile"] = {
                    **run.summary(),
                    "idle_connections": len(held),
                    "abandoned_uploads": abandoned,
                }
            finally:
                for connection in held:
                    connection.close()
        if "idle" not in args.skip:
            console.print(
                f"idle: {HALF_OPEN_CONNECTIONS} half-open connections against a server limited to "
                f"{SERVER_OPEN_FILES} open files…"
            )
            results["idle"] = idle_phase(command, Path(db), env, work)
        if "proxy" not in args.skip:
            if MCP_PROXY.exists():
                console.print("proxy: 100 concurrent calls through mcp-proxy…")
                results["proxy"] = anyio.run(proxy_calls, url, 100).summary()
            else:
                results["proxy"] = {
                    "skipped": f"{MCP_PROXY} not found: run the test suite once to install it"
                }
    if "stdio" not in args.skip:
        console.print("stdio: JSON-RPC on stdout, exit when stdin closes…")
        results["stdio"] = stdio_check(command, db, env)

    table = Table(title="docs-mcp load test")
    for column in ("phase", "calls", "conc.", "calls/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"):
        table.add_column(column, justify="right" if column != "phase" else "left")
    for phase in ("mixed", "burst", "hostile", "proxy"):
        row = results.get(phase)
        if not row or "skipped" in row:
            continue
        table.add_row(
            phase,
            *(str(row.get(key, "")) for key in ("calls", "concurrency", "calls_per_s")),
            *(str(row.get(key, "")) for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "errors")),
        )
    console.print(table)
    if "mixed" in results:
        mixed = results["mixed"]
        console.print(
            f"server memory: {mixed['rss_after_warmup_mb']} MB after warm-up, {mixed['rss_end_mb']} MB at "
            f"the end ({mixed['rss_growth_pct']}%)"
        )
    if "idle" in results:
        idle = results["idle"]
        for moment in ("before", "during", "after"):
            row = idle[moment]
            console.print(
                f"idle, {moment}: {row['ok']}/{row['ok'] + row['errors']} searches answered, "
                f"p50 {row.get('p50_ms')} ms, p95 {row.get('p95_ms')} ms"
            )
        console.print(
            f"idle: {idle['half_open_connected']} half-open connections made, "
            f"{idle['half_open_still_held_by_server']} still held by the server; its log: "
            f"{idle['log_lines']} lines, {idle['log_too_many_open_files']} 'Too many open files'"
        )
    if "stdio" in results:
        console.print(f"stdio: {results['stdio']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    errors = sum(results[p].get("errors", 0) for p in ("mixed", "burst", "hostile", "proxy") if p in results)
    if "idle" in results:
        errors += sum(results["idle"][moment]["errors"] for moment in ("before", "during", "after"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
