#!/usr/bin/env python
"""docs-mcp performance benchmark. A measurement, not a test: nothing here asserts on timing.

It unpacks the Ray docs (../shared/bench/ray-docs.tar.gz, 2,562 Markdown pages) into a
scratch folder and measures, against the real `docs-mcp` command:

  index       full index from scratch (wall, chunks/s, peak RSS, size on disk)
  reindex     re-index with nothing changed, one page changed, one page deleted
  latency     search_docs p50/p95/p99 in-process, over stdio and over HTTP, bare and guided (with the
              assistant-written keywords and hypothetical answers of ray-docs.dev.expansions.jsonl,
              bare and guided calls alternating so both meet the same load); get_doc, list_docs
  throughput  search_docs calls/s over HTTP at concurrency 1, 8 and 32
  coldstart   process start to first search answer, stdio and HTTP (median of 3)
  rss         HTTP server memory after 1,000 mixed calls
  scale       in-process query p50 and index size at 1x, 4x, 16x the corpus

Usage (from the repo root, in the project venv):

    .venv/bin/python scripts/bench.py                      # everything, ~10 min on 2 cores
    .venv/bin/python scripts/bench.py --quick --scale 1    # smoke run, ~300 pages
    .venv/bin/python scripts/bench.py --work /tmp/b --skip scale --json out.json

Results go to bench-results/bench.json (gitignored) and a table on stdout.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from _bench_util import (
    HttpServer,
    child_env,
    docs_mcp_command,
    folder_bytes,
    latency_summary,
    median_of,
    megabytes,
    process_memory_mb,
    replace_folder,
    run_measured,
    running_http_server,
    start_http_server,
    stop_server,
    wait_for_health,
)
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import CallToolResult
from rich.console import Console
from rich.table import Table

# Before anything imports lancedb: otherwise Rust-side notices ("No existing dataset ... will be
# created") reach the table on stderr when the scale step builds its indexes.
os.environ.setdefault("LANCEDB_LOG", "error")

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATA = REPO_ROOT.parent / "shared" / "bench"
CORPUS_ARCHIVE = BENCH_DATA / "ray-docs.tar.gz"
QUERIES_FILE = BENCH_DATA / "ray-docs.dev.jsonl"
EXPANSIONS_FILE = BENCH_DATA / "ray-docs.dev.expansions.jsonl"
DEFAULT_JSON = REPO_ROOT / "bench-results" / "bench.json"

STEPS = ("index", "reindex", "latency", "throughput", "coldstart", "rss", "scale")
WARMUP_CALLS = 10  # first calls of every series: model, caches and connections warming up
CALL_TIMEOUT_S = 30.0  # one tool call; a slower answer counts as an error
COLD_START_TIMEOUT_S = 90.0
THROUGHPUT_LEVELS = (1, 8, 32)
SCALE_NOTE = (
    "scaled indexes reuse the 1x rows and vectors (copies under copy1/, copy2/, ...), "
    "so they measure storage and search cost, not embedding"
)


@dataclass(frozen=True)
class Workload:
    """How much work each step does. --quick shrinks everything for smoke runs."""

    pages: int | None  # None: the whole corpus
    queries: int  # distinct dev-set queries used
    query_passes: int  # passes over them for the latency series
    list_docs_calls: int
    throughput_calls: int  # per concurrency level
    throughput_timeout_s: float
    mixed_calls: int
    cold_start_runs: int
    reindex_runs: int
    index_timeout_s: float


FULL = Workload(
    pages=None,
    queries=194,
    query_passes=2,
    list_docs_calls=110,
    throughput_calls=400,
    throughput_timeout_s=300,
    mixed_calls=1000,
    cold_start_runs=3,
    reindex_runs=3,
    index_timeout_s=3600,
)
QUICK = Workload(
    pages=300,
    queries=60,
    query_passes=1,
    list_docs_calls=30,
    throughput_calls=100,
    throughput_timeout_s=120,
    mixed_calls=200,
    cold_start_runs=3,
    reindex_runs=3,
    index_timeout_s=900,
)


@dataclass
class Bench:
    """Everything a step needs: where things are and how much to do."""

    work: Path
    corpus: Path
    db: Path
    cache_dir: Path
    env: dict[str, str]
    command: str
    workload: Workload
    queries: list[str]
    guided: list[dict[str, Any]]  # search_docs arguments with keywords and hypothetical_answer
    logs: Path
    console: Console
    quick: bool


# -- MCP calls ------------------------------------------------------------------------------------


@dataclass
class CallLog:
    """Durations of successful calls, and how many failed (exception, timeout or is_error)."""

    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def failed(self, message: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or message[:500]

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {**latency_summary(self.seconds), "errors": self.errors}
        if self.first_error:
            summary["first_error"] = self.first_error
        return summary


async def timed_call(
    client: Client, tool: str, arguments: dict[str, Any], log: CallLog, record: bool = True
) -> CallToolResult | None:
    """One tool call, timed; the result when it succeeded, None (and an error logged) otherwise."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(CALL_TIMEOUT_S):
            result = await client.call_tool(tool, arguments)
    except Exception as error:  # the benchmark counts failures; it must not stop at the first
        log.failed(f"{tool}: {type(error).__name__}: {error}")
        return None
    elapsed = time.perf_counter() - started
    if result.is_error:
        log.failed(f"{tool} returned is_error: {result.content}")
        return None
    if record:
        log.seconds.append(elapsed)
    return result


def open_with_ids(result: CallToolResult) -> list[str]:
    hits = (result.structured_content or {}).get("hits", [])
    return [hit["open_with"] for hit in hits]


def new_client(server: str | StdioServerParameters) -> Client:
    # cache=None: the SDK's response cache must never answer in place of the server.
    return Client(server, cache=None, read_timeout_seconds=CALL_TIMEOUT_S)


async def search_series(client: Client, queries: list[str]) -> tuple[CallLog, list[str]]:
    """search_docs for every query in order, the first WARMUP_CALLS untimed; the hits' ids."""
    log = CallLog()
    ids: list[str] = []
    for number, query in enumerate(queries):
        result = await timed_call(client, "search_docs", {"query": query}, log, number >= WARMUP_CALLS)
        if result is not None:
            ids.extend(open_with_ids(result))
    return log, ids


async def paired_guided_series(
    client: Client, queries: list[str], guided: list[dict[str, Any]]
) -> tuple[CallLog, CallLog]:
    """search_docs bare and guided, alternating call by call, so both meet the same load."""
    bare, with_expansions = CallLog(), CallLog()
    for number, query in enumerate(queries):
        record = number >= WARMUP_CALLS
        await timed_call(client, "search_docs", {"query": query}, bare, record)
        await timed_call(client, "search_docs", guided[number % len(guided)], with_expansions, record)
    return bare, with_expansions


async def tool_series(client: Client, tool: str, argument_list: list[dict[str, Any]]) -> CallLog:
    log = CallLog()
    for number, arguments in enumerate(argument_list):
        await timed_call(client, tool, arguments, log, number >= WARMUP_CALLS)
    return log


def unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def series_timeout(calls: int) -> float:
    """A bound for a whole sequential series: generous, but finite."""
    return 120.0 + calls * 5.0


# -- in-process search ----------------------------------------------------------------------------


def inprocess_search_log(bench: Bench, db: Path, queries: list[str], kind: str = "prose") -> CallLog:
    """DocsService.search timed directly: what the server adds on top is measured elsewhere.
    kind="code" times code-example search (its own table, read from LanceDB) on the same queries."""
    log = CallLog()
    timed_inprocess(bench, db, [(log, {"query": query, "kind": kind}) for query in queries])
    return log


def inprocess_guided_logs(
    bench: Bench, db: Path, queries: list[str], guided: list[dict[str, Any]]
) -> tuple[CallLog, CallLog]:
    """Bare and guided searches, alternating, so that both meet the same load."""
    bare, with_expansions = CallLog(), CallLog()
    calls = []
    for number, query in enumerate(queries):
        calls += [(bare, {"query": query}), (with_expansions, guided[number % len(guided)])]
    timed_inprocess(bench, db, calls)
    return bare, with_expansions


def timed_inprocess(bench: Bench, db: Path, calls: list[tuple[CallLog, dict[str, Any]]]) -> None:
    """Each DocsService.search(**arguments) timed into its log, the first WARMUP_CALLS untimed."""
    from docs_mcp.config import Settings
    from docs_mcp.search import DocsService

    settings = Settings.from_env(bench.env).with_overrides(db=str(db))
    service = DocsService.from_settings(settings)
    service.embedder  # load the model before timing, as `docs-mcp serve` does  # noqa: B018
    for number, (log, arguments) in enumerate(calls):
        started = time.perf_counter()
        try:
            service.search(**arguments)
        except Exception as error:
            log.failed(f"search: {type(error).__name__}: {error}")
            continue
        if number >= WARMUP_CALLS:
            log.seconds.append(time.perf_counter() - started)


# -- step: corpus and full index ------------------------------------------------------------------


def unpack_corpus(work: Path) -> Path:
    """The whole Ray corpus under work/corpus-full/ray-docs (unpacked once per work folder)."""
    root = work / "corpus-full"
    marker = root / ".unpacked"
    if not marker.exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["tar", "xzf", str(CORPUS_ARCHIVE), "-C", str(root)], check=True, timeout=300)
        marker.touch()
    return root / "ray-docs"


def sample_corpus(full: Path, work: Path, pages: int) -> Path:
    """Every n-th page of the sorted corpus, so a quick run keeps the mix of guides and API pages."""
    target = work / "corpus-quick" / "ray-docs"
    if target.exists():
        shutil.rmtree(target)
    all_pages = sorted(full.rglob("*.md"))
    stride = max(1, len(all_pages) // pages)
    for page in all_pages[::stride][:pages]:
        destination = target / page.relative_to(full)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(page, destination)
    return target


def load_queries(count: int) -> list[str]:
    with QUERIES_FILE.open(encoding="utf-8") as lines:
        queries = [json.loads(line)["query"] for line in lines if line.strip()]
    return queries[:count]


def load_guided(queries: list[str]) -> list[dict[str, Any]]:
    """search_docs arguments for `queries`, each with its assistant-written expansions."""
    with EXPANSIONS_FILE.open(encoding="utf-8") as lines:
        expansions = {record["query"]: record for record in map(json.loads, lines) if record}
    return [
        {
            "query": query,
            "keywords": expansions[query]["keywords"],
            "hypothetical_answer": expansions[query]["hypothetical_answer"],
        }
        for query in queries
    ]


def run_index(bench: Bench, corpus: Path, db: Path) -> tuple[float, float | None, dict[str, Any]]:
    """`docs-mcp index CORPUS --db DB --json` in a child: wall seconds, peak RSS MB, its report."""
    command = [bench.command, "index", str(corpus), "--db", str(db), "--json"]
    run = run_measured(command, bench.env, bench.workload.index_timeout_s, bench.work)
    if run.returncode != 0:
        raise RuntimeError(f"docs-mcp index exited with {run.returncode}:\n{run.stderr[-2000:]}")
    return run.wall_s, run.peak_rss_mb, run.json_output()


def step_index(bench: Bench) -> dict[str, Any]:
    if bench.db.exists():
        shutil.rmtree(bench.db)  # from scratch: no previous publication to reuse
    pages = sum(1 for _ in bench.corpus.rglob("*.md"))
    bench.console.print(f"  indexing {pages:,} pages (embedding runs at about 20 chunks/s per core)…")
    wall, peak_rss, report = run_index(bench, bench.corpus, bench.db)
    chunks = int(report["chunks_embedded"])
    return {
        "pages": pages,
        "docs": report["added"],
        "chunks": chunks,
        "wall_s": wall,
        "report_seconds": report["seconds"],
        "chunks_per_s_wall": round(chunks / wall, 1) if wall else None,
        "peak_rss_mb": peak_rss,
        "db_mb": megabytes(folder_bytes(bench.db)),
        "live_data_mb": live_data_mb(bench.db),
        "skipped": len(report["skipped"]),
        "warnings": len(report["warnings"]),
    }


# -- step: incremental re-index -------------------------------------------------------------------


def step_reindex(bench: Bench) -> dict[str, Any]:
    """Re-index runs on copies of the corpus and index, so later steps serve the pristine 1x index."""
    corpus = bench.work / "corpus-reindex"
    db = bench.work / "db-reindex"
    replace_folder(bench.corpus, corpus)
    replace_folder(bench.db, db)
    pages = sorted(corpus.rglob("*.md"))
    runs = bench.workload.reindex_runs
    changed_page = pages[len(pages) // 2]
    # Distinct pages, none of them the changed one, one deleted per run.
    doomed = [page for page in pages[len(pages) // 3 :] if page != changed_page][:runs]

    def append_paragraph(run: int) -> None:
        with changed_page.open("a", encoding="utf-8") as handle:
            handle.write(f"\n\nBenchmark edit {run}: a paragraph appended to measure incremental indexing.\n")

    def delete_page(run: int) -> None:
        doomed[run].unlink()

    scenarios: dict[str, Callable[[int], None]] = {
        "no_change": lambda run: None,
        "one_changed": append_paragraph,
        "one_deleted": delete_page,
    }
    results: dict[str, Any] = {"runs": runs}
    for name, mutate in scenarios.items():
        bench.console.print(f"  {name}: {runs} runs…")
        results[name] = reindex_scenario(bench, corpus, db, mutate, runs)
    return results


def reindex_scenario(
    bench: Bench, corpus: Path, db: Path, mutate: Callable[[int], None], runs: int
) -> dict[str, Any]:
    walls: list[float] = []
    report_seconds: list[float] = []
    peaks: list[float] = []
    report: dict[str, Any] = {}
    for run in range(runs):
        mutate(run)
        wall, peak, report = run_index(bench, corpus, db)
        walls.append(wall)
        report_seconds.append(float(report["seconds"]))
        if peak is not None:
            peaks.append(peak)
    return {
        "wall_s": median_of(walls),
        "report_seconds": median_of(report_seconds),
        "wall_s_runs": walls,
        "report_seconds_runs": report_seconds,
        "peak_rss_mb": max(peaks) if peaks else None,
        # What the last run did, so a reader can check it re-embedded only what it should.
        "last_report": {key: report.get(key) for key in ("added", "changed", "removed", "chunks_embedded")},
    }


# -- step: latency --------------------------------------------------------------------------------


def step_latency(bench: Bench) -> dict[str, Any]:
    queries = bench.queries * bench.workload.query_passes
    bench.console.print(f"  in-process: {len(queries)} searches…")
    results: dict[str, Any] = {"search_inprocess": inprocess_search_log(bench, bench.db, queries).summary()}
    bench.console.print(f"  in-process: {len(queries)} searches, bare and guided alternating…")
    bare, guided = inprocess_guided_logs(bench, bench.db, queries, bench.guided)
    results["search_inprocess_beside_guided"] = bare.summary()
    results["guided_search_inprocess"] = guided.summary()
    bench.console.print(f"  in-process: {len(queries)} code-example searches…")
    results["code_search_inprocess"] = inprocess_search_log(bench, bench.db, queries, kind="code").summary()
    bench.console.print(f"  stdio: {len(queries)} searches…")
    results["search_stdio"] = anyio.run(stdio_latency, bench, queries)
    bench.console.print("  http: searches, get_doc, list_docs…")
    with running_http_server(bench.command, bench.db, bench.env, bench.logs / "latency-http.log") as server:
        results.update(anyio.run(http_latency, bench, server, queries))
    results["warmup_calls_excluded"] = WARMUP_CALLS
    return results


async def stdio_latency(bench: Bench, queries: list[str]) -> dict[str, Any]:
    params = StdioServerParameters(
        command=bench.command, args=["serve", "--db", str(bench.db)], env=bench.env
    )
    with anyio.fail_after(series_timeout(len(queries))):
        async with new_client(params) as client:
            log, _ids = await search_series(client, queries)
    return log.summary()


async def http_latency(bench: Bench, server: HttpServer, queries: list[str]) -> dict[str, Any]:
    get_calls = len(queries)
    list_calls = bench.workload.list_docs_calls
    with anyio.fail_after(series_timeout(2 * len(queries) + get_calls + list_calls)):
        async with new_client(server.mcp_url) as client:
            search_log, ids = await search_series(client, queries)
            bare_log, guided_log = await paired_guided_series(client, queries, bench.guided)
            doc_ids = unique(ids) or ["index"]  # get_doc reads what search pointed at
            get_arguments = [{"id": doc_ids[n % len(doc_ids)]} for n in range(get_calls)]
            get_log = await tool_series(client, "get_doc", get_arguments)
            list_log = await tool_series(client, "list_docs", [{}] * list_calls)
    return {
        "search_http": search_log.summary(),
        "search_http_beside_guided": bare_log.summary(),
        "guided_search_http": guided_log.summary(),
        "get_doc_http": get_log.summary(),
        "list_docs_http": list_log.summary(),
    }


# -- step: throughput -----------------------------------------------------------------------------


def step_throughput(bench: Bench) -> dict[str, Any]:
    results: dict[str, Any] = {"calls_per_level": bench.workload.throughput_calls}
    with running_http_server(bench.command, bench.db, bench.env, bench.logs / "throughput.log") as server:
        for concurrency in THROUGHPUT_LEVELS:
            bench.console.print(f"  concurrency {concurrency}…")
            results[f"c{concurrency}"] = anyio.run(throughput_level, bench, server.mcp_url, concurrency)
    return results


async def throughput_level(bench: Bench, url: str, concurrency: int) -> dict[str, Any]:
    """`concurrency` clients, each its own session, share a fixed number of search_docs calls."""
    total = bench.workload.throughput_calls
    numbers = itertools.count()  # shared: each worker takes the next call number
    log = CallLog()

    async def worker(client: Client) -> None:
        while (number := next(numbers)) < total:
            query = bench.queries[number % len(bench.queries)]
            await timed_call(client, "search_docs", {"query": query}, log)

    # One bound around everything, sessions included: a cancel scope must enclose the clients'
    # own task groups entirely, so it cannot cover only their opening.
    setup_bound = COLD_START_TIMEOUT_S + concurrency * 2
    with anyio.fail_after(setup_bound + bench.workload.throughput_timeout_s + setup_bound):
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(new_client(url)) for _ in range(concurrency)]
            for client in clients:  # one untimed call each: sessions and threads are warm
                await timed_call(client, "search_docs", {"query": bench.queries[0]}, CallLog(), record=False)
            started = time.perf_counter()
            with anyio.move_on_after(bench.workload.throughput_timeout_s) as deadline:
                async with anyio.create_task_group() as group:
                    for client in clients:
                        group.start_soon(worker, client)
            elapsed = time.perf_counter() - started
    completed = len(log.seconds)
    summary = log.summary()
    return {
        "concurrency": concurrency,
        "calls_per_s": round(completed / elapsed, 1) if elapsed else None,
        "completed": completed,
        "errors": log.errors,
        "timed_out": deadline.cancelled_caught,
        "elapsed_s": round(elapsed, 2),
        "p50_ms": summary.get("p50_ms"),
        "p99_ms": summary.get("p99_ms"),
        **({"first_error": log.first_error} if log.first_error else {}),
    }


# -- step: cold start -----------------------------------------------------------------------------


def step_coldstart(bench: Bench) -> dict[str, Any]:
    runs = bench.workload.cold_start_runs
    query = bench.queries[0]
    stdio_runs = []
    http_runs = []
    for run in range(runs):
        bench.console.print(f"  run {run + 1}/{runs}…")
        stdio_runs.append(anyio.run(stdio_cold_start, bench, query))
        http_runs.append(http_cold_start(bench, query, run))
    return {
        "stdio": {"median_s": median_of(stdio_runs), "runs_s": stdio_runs},
        "http": {"median_s": median_of(http_runs), "runs_s": http_runs},
    }


async def stdio_cold_start(bench: Bench, query: str) -> float:
    """Spawn + initialize + first search_docs answer (closing the session is not counted)."""
    params = StdioServerParameters(
        command=bench.command, args=["serve", "--db", str(bench.db)], env=bench.env
    )
    started = time.perf_counter()
    with anyio.fail_after(COLD_START_TIMEOUT_S):
        async with new_client(params) as client:
            result = await client.call_tool("search_docs", {"query": query})
            elapsed = time.perf_counter() - started
    if result.is_error:
        raise RuntimeError(f"first stdio search failed: {result.content}")
    return round(elapsed, 3)


def http_cold_start(bench: Bench, query: str, run: int) -> float:
    """Spawn, poll /health, then a new client's first search_docs answer."""
    started = time.perf_counter()
    server = start_http_server(bench.command, bench.db, bench.env, bench.logs / f"coldstart-{run}.log")
    try:
        wait_for_health(server, COLD_START_TIMEOUT_S)
        anyio.run(first_http_search, server.mcp_url, query)
        return round(time.perf_counter() - started, 3)
    finally:
        stop_server(server)


async def first_http_search(url: str, query: str) -> None:
    with anyio.fail_after(COLD_START_TIMEOUT_S):
        async with new_client(url) as client:
            result = await client.call_tool("search_docs", {"query": query})
    if result.is_error:
        raise RuntimeError(f"first HTTP search failed: {result.content}")


# -- step: serving memory -------------------------------------------------------------------------


def step_rss(bench: Bench) -> dict[str, Any]:
    calls = bench.workload.mixed_calls
    with running_http_server(bench.command, bench.db, bench.env, bench.logs / "rss.log") as server:
        idle = process_memory_mb(server.pid)
        bench.console.print(f"  {calls} mixed calls (60% search, 30% get_doc, 10% list_docs)…")
        log = anyio.run(mixed_calls, bench, server.mcp_url, calls)
        after = process_memory_mb(server.pid)
    return {
        "calls": calls,
        "errors": log.errors,
        "idle_rss_mb": idle.get("VmRSS"),
        "after_rss_mb": after.get("VmRSS"),
        "peak_rss_mb": after.get("VmHWM"),
        **({"first_error": log.first_error} if log.first_error else {}),
    }


def mixed_call_plan(calls: int) -> Iterator[str]:
    """A fixed, interleaved 6:3:1 pattern, so every run makes the same calls."""
    pattern = ["search_docs"] * 6 + ["get_doc"] * 3 + ["list_docs"]
    for number in range(calls):
        yield pattern[number % len(pattern)]


async def mixed_calls(bench: Bench, url: str, calls: int) -> CallLog:
    log = CallLog()
    ids: list[str] = []
    searches = 0
    with anyio.fail_after(series_timeout(calls)):
        async with new_client(url) as client:
            for number, tool in enumerate(mixed_call_plan(calls)):
                if tool == "search_docs":
                    query = bench.queries[searches % len(bench.queries)]
                    searches += 1
                    result = await timed_call(client, tool, {"query": query}, log)
                    ids.extend(open_with_ids(result) if result else [])
                elif tool == "get_doc":
                    # A spread of ids (the pattern searches first, so `ids` is never empty
                    # unless every search failed, which the error count shows).
                    doc_id = ids[(number * 7) % len(ids)] if ids else "index"
                    await timed_call(client, tool, {"id": doc_id}, log)
                else:
                    await timed_call(client, tool, {}, log)
    return log


# -- step: scaling --------------------------------------------------------------------------------


@dataclass
class PublishedRows:
    model: str
    dim: int
    docs: Any  # pyarrow.Table
    chunks: Any  # pyarrow.Table


def read_published_rows(db: Path) -> PublishedRows:
    """Every row (vectors included) of the published 1x index, read straight from LanceDB."""
    import lancedb

    from docs_mcp.store import CHUNKS, DOCS, IndexStore

    publication = IndexStore(str(db)).latest_publication()
    if publication is None:
        raise RuntimeError(f"no published index at {db}")
    connection = lancedb.connect(str(db))
    docs = connection.open_table(DOCS)
    docs.checkout(publication.docs_version)
    chunks = connection.open_table(CHUNKS)
    chunks.checkout(publication.chunks_version)
    return PublishedRows(publication.model, publication.dim, docs.to_arrow(), chunks.to_arrow())


def live_data_mb(db: Path) -> float:
    """Bytes of the current table versions' data and index files (LanceDB's own stats). The
    folder also holds versions the store's retention keeps for a while, e.g. pre-compaction ones."""
    import lancedb

    from docs_mcp.store import CHUNKS, DOCS

    connection = lancedb.connect(str(db))
    total = 0
    for name in (DOCS, CHUNKS):
        stats: Any = connection.open_table(name).stats()
        # Typed as a dataclass, returned as a dict by lancedb 0.40: accept both.
        total += stats["total_bytes"] if isinstance(stats, dict) else stats.total_bytes
    return megabytes(total)


def row_batches(table: Any, size: int) -> Iterator[list[dict[str, Any]]]:
    """Rows as dicts, a slice at a time: 16 copies' worth of Python floats would not fit."""
    for offset in range(0, table.num_rows, size):
        yield table.slice(offset, size).to_pylist()


def prefixed_doc(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {**row, "id": prefix + row["id"], "path": prefix + row["path"]}


def prefixed_chunk(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {**row, "id": prefix + row["id"], "doc_id": prefix + row["doc_id"]}


def build_scaled_index(rows: PublishedRows, copies: int, target: Path) -> None:
    """The 1x rows `copies` times (copy0 is the original, then copy1/, copy2/, ...), written and
    published through the project's own IndexWriter, so layout and indexes match a real run."""
    from docs_mcp.store import IndexStore

    if target.exists():
        shutil.rmtree(target)
    with IndexStore(str(target)).writer(rows.model, rows.dim) as writer:
        for copy in range(copies):
            prefix = f"copy{copy}/" if copy else ""
            # Large batches: every add is a commit, and many small fragments would make the
            # scaled index unlike one a single indexing run writes.
            for batch in row_batches(rows.docs, 5000):
                writer.add_docs([prefixed_doc(row, prefix) for row in batch])
            for batch in row_batches(rows.chunks, 20_000):
                writer.add_chunks([prefixed_chunk(row, prefix) for row in batch])
        writer.publish()


def step_scale(bench: Bench, levels: list[int]) -> dict[str, Any]:
    bench.console.print(f"  note: {SCALE_NOTE}")
    rows = read_published_rows(bench.db)
    queries = bench.queries  # one pass: the 16x searches are slow
    results: dict[str, Any] = {"note": SCALE_NOTE, "levels": {}}
    for copies in levels:
        target = bench.work / f"scale-{copies}x"
        bench.console.print(f"  {copies}x: building ({rows.chunks.num_rows * copies:,} chunks)…")
        started = time.perf_counter()
        build_scaled_index(rows, copies, target)
        build_s = round(time.perf_counter() - started, 1)
        bench.console.print(f"  {copies}x: {len(queries)} in-process searches…")
        log = inprocess_search_log(bench, target, queries)
        results["levels"][f"{copies}x"] = {
            "docs": rows.docs.num_rows * copies,
            "chunks": rows.chunks.num_rows * copies,
            "build_s": build_s,
            "db_mb": megabytes(folder_bytes(target)),
            "live_data_mb": live_data_mb(target),
            "search": log.summary(),
            "vector_recall_at_10": approximate_recall(bench, target, queries),
        }
        if copies > 1:
            shutil.rmtree(target, ignore_errors=True)  # a 16x index is gigabytes; its size is recorded
    results["p50_ratio_largest_to_1x"] = scale_ratio(results["levels"])
    return results


def approximate_recall(bench: Bench, db: Path, queries: list[str], k: int = 10) -> float | None:
    """recall@k of the published index's approximate vector search against exact search.

    None when the index is searched exactly. Scaled copies hold identical vectors, so a
    returned chunk counts as a true neighbour when its exact similarity ties or beats the
    k-th best, whichever copy it is.
    """
    from docs_mcp.embed import FastEmbedder
    from docs_mcp.store import IndexStore

    snapshot = IndexStore(str(db)).open_snapshot()
    if not snapshot.approximate:
        return None
    table = snapshot._chunks.search().select(["id", "vector"]).limit(None).to_arrow()
    matrix = np.stack(table.column("vector").to_numpy(zero_copy_only=False)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    row_of = {chunk_id: n for n, chunk_id in enumerate(table.column("id").to_pylist())}
    embedder = FastEmbedder(snapshot.publication.model, bench.cache_dir)
    recalls = []
    for query in queries:
        vector = embedder.embed_query(query)
        similarity = matrix @ (vector / np.linalg.norm(vector))
        kth_best = np.partition(similarity, -k)[-k]
        found = snapshot.vector_search(vector, k)
        recalls.append(sum(similarity[row_of[hit["id"]]] >= kth_best - 1e-5 for hit in found) / k)
    return round(float(np.mean(recalls)), 4)


def scale_ratio(levels: dict[str, Any]) -> float | None:
    if "1x" not in levels or len(levels) < 2:
        return None
    largest = max(levels, key=lambda name: int(name.removesuffix("x")))
    base = levels["1x"]["search"].get("p50_ms")
    top = levels[largest]["search"].get("p50_ms")
    return round(top / base, 2) if base and top else None


# -- summary --------------------------------------------------------------------------------------


@dataclass
class Target:
    text: str
    met: Callable[[float], bool]


def at_most(limit: float, unit: str) -> Target:
    return Target(f"<= {limit:g} {unit}", lambda value: value <= limit)


def at_least(limit: float, unit: str) -> Target:
    return Target(f">= {limit:g} {unit}", lambda value: value >= limit)


ZERO_ERRORS = Target("0", lambda value: value == 0)

# (metric label, path into the results, unit, target or None)
SUMMARY_ROWS: list[tuple[str, tuple[str, ...], str, Target | None]] = [
    ("full index: wall", ("index", "wall_s"), "s", at_most(180, "s")),
    ("full index: chunks", ("index", "chunks"), "", None),
    ("full index: chunks/s (wall)", ("index", "chunks_per_s_wall"), "/s", None),
    ("full index: peak RSS", ("index", "peak_rss_mb"), "MB", None),
    ("full index: size on disk", ("index", "db_mb"), "MB", None),
    ("full index: live table data", ("index", "live_data_mb"), "MB", None),
    ("re-index, no change: wall", ("reindex", "no_change", "wall_s"), "s", at_most(5, "s")),
    ("re-index, no change: report", ("reindex", "no_change", "report_seconds"), "s", None),
    ("re-index, 1 changed: wall", ("reindex", "one_changed", "wall_s"), "s", at_most(3, "s")),
    ("re-index, 1 changed: report", ("reindex", "one_changed", "report_seconds"), "s", None),
    ("re-index, 1 deleted: wall", ("reindex", "one_deleted", "wall_s"), "s", None),
    ("re-index, 1 deleted: report", ("reindex", "one_deleted", "report_seconds"), "s", None),
    ("search in-process p50", ("latency", "search_inprocess", "p50_ms"), "ms", at_most(12, "ms")),
    ("search in-process p95", ("latency", "search_inprocess", "p95_ms"), "ms", None),
    ("search in-process p99", ("latency", "search_inprocess", "p99_ms"), "ms", None),
    ("code search in-process p50", ("latency", "code_search_inprocess", "p50_ms"), "ms", None),
    ("code search in-process p99", ("latency", "code_search_inprocess", "p99_ms"), "ms", None),
    ("search stdio p50", ("latency", "search_stdio", "p50_ms"), "ms", None),
    ("search stdio p95", ("latency", "search_stdio", "p95_ms"), "ms", None),
    ("search stdio p99", ("latency", "search_stdio", "p99_ms"), "ms", None),
    ("search stdio errors", ("latency", "search_stdio", "errors"), "", ZERO_ERRORS),
    ("search HTTP p50", ("latency", "search_http", "p50_ms"), "ms", at_most(20, "ms")),
    ("search HTTP p95", ("latency", "search_http", "p95_ms"), "ms", None),
    ("search HTTP p99", ("latency", "search_http", "p99_ms"), "ms", at_most(60, "ms")),
    ("search HTTP errors", ("latency", "search_http", "errors"), "", ZERO_ERRORS),
    (
        "search in-process beside guided p50",
        ("latency", "search_inprocess_beside_guided", "p50_ms"),
        "ms",
        None,
    ),
    (
        "search in-process beside guided p99",
        ("latency", "search_inprocess_beside_guided", "p99_ms"),
        "ms",
        None,
    ),
    ("guided search in-process p50", ("latency", "guided_search_inprocess", "p50_ms"), "ms", None),
    ("guided search in-process p99", ("latency", "guided_search_inprocess", "p99_ms"), "ms", None),
    ("search HTTP beside guided p50", ("latency", "search_http_beside_guided", "p50_ms"), "ms", None),
    ("search HTTP beside guided p99", ("latency", "search_http_beside_guided", "p99_ms"), "ms", None),
    ("guided search HTTP p50", ("latency", "guided_search_http", "p50_ms"), "ms", at_most(25, "ms")),
    ("guided search HTTP p99", ("latency", "guided_search_http", "p99_ms"), "ms", at_most(60, "ms")),
    ("guided search HTTP errors", ("latency", "guided_search_http", "errors"), "", ZERO_ERRORS),
    ("get_doc HTTP p50", ("latency", "get_doc_http", "p50_ms"), "ms", None),
    ("get_doc HTTP p95", ("latency", "get_doc_http", "p95_ms"), "ms", None),
    ("get_doc HTTP p99", ("latency", "get_doc_http", "p99_ms"), "ms", None),
    ("list_docs HTTP p50", ("latency", "list_docs_http", "p50_ms"), "ms", None),
    ("list_docs HTTP p95", ("latency", "list_docs_http", "p95_ms"), "ms", None),
    ("list_docs HTTP p99", ("latency", "list_docs_http", "p99_ms"), "ms", None),
    ("throughput c=1", ("throughput", "c1", "calls_per_s"), "calls/s", None),
    ("throughput c=1 p50", ("throughput", "c1", "p50_ms"), "ms", None),
    ("throughput c=1 p99", ("throughput", "c1", "p99_ms"), "ms", None),
    ("throughput c=1 errors", ("throughput", "c1", "errors"), "", None),
    ("throughput c=8", ("throughput", "c8", "calls_per_s"), "calls/s", at_least(100, "calls/s")),
    ("throughput c=8 errors", ("throughput", "c8", "errors"), "", ZERO_ERRORS),
    ("throughput c=8 p50", ("throughput", "c8", "p50_ms"), "ms", None),
    ("throughput c=8 p99", ("throughput", "c8", "p99_ms"), "ms", None),
    ("throughput c=32", ("throughput", "c32", "calls_per_s"), "calls/s", None),
    ("throughput c=32 errors", ("throughput", "c32", "errors"), "", ZERO_ERRORS),
    ("throughput c=32 p50", ("throughput", "c32", "p50_ms"), "ms", None),
    ("throughput c=32 p99", ("throughput", "c32", "p99_ms"), "ms", None),
    ("cold start stdio (median)", ("coldstart", "stdio", "median_s"), "s", at_most(2.5, "s")),
    ("cold start HTTP (median)", ("coldstart", "http", "median_s"), "s", at_most(2.5, "s")),
    ("serving RSS after mixed calls", ("rss", "after_rss_mb"), "MB", at_most(500, "MB")),
    ("serving RSS idle", ("rss", "idle_rss_mb"), "MB", None),
    ("serving RSS peak (VmHWM)", ("rss", "peak_rss_mb"), "MB", None),
    ("mixed calls errors", ("rss", "errors"), "", ZERO_ERRORS),
]


def dig(results: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def scale_summary_rows(results: dict[str, Any]) -> list[tuple[str, Any, str, Target | None]]:
    levels = dig(results, ("scale", "levels")) or {}
    rows: list[tuple[str, Any, str, Target | None]] = []
    for name, level in levels.items():
        rows.append((f"scale {name}: search p50 (in-process)", level["search"].get("p50_ms"), "ms", None))
        rows.append((f"scale {name}: index size on disk", level["db_mb"], "MB", None))
        rows.append((f"scale {name}: live table data", level.get("live_data_mb"), "MB", None))
        if level.get("vector_recall_at_10") is not None:
            recall = level["vector_recall_at_10"]
            rows.append((f"scale {name}: ANN recall@10 vs exact", recall, "", at_least(0.98, "")))
    ratio = dig(results, ("scale", "p50_ratio_largest_to_1x"))
    if ratio is not None:
        largest = max(levels, key=lambda name: int(name.removesuffix("x")))
        rows.append((f"scale: p50 {largest} / 1x", ratio, "x", at_most(2, "x")))
    return rows


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [(label, dig(results, path), unit, target) for label, path, unit, target in SUMMARY_ROWS]
    rows += scale_summary_rows(results)
    table = []
    for label, value, unit, target in rows:
        if value is None:
            continue  # step skipped or failed; its error is in the JSON
        met = target.met(value) if target and isinstance(value, int | float) else None
        table.append(
            {
                "metric": label,
                "value": value,
                "unit": unit,
                "target": target.text if target else None,
                "met": met,
            }
        )
    return table


def print_summary(console: Console, rows: list[dict[str, Any]], results: dict[str, Any], quick: bool) -> None:
    title = "docs-mcp benchmark"
    if quick:
        title += " — QUICK run (~300 pages, fewer calls): noisy, not comparable to the targets"
    table = Table(title=title, show_lines=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target")
    table.add_column("met", justify="center")
    for row in rows:
        met = {True: "[green]yes[/]", False: "[red]no[/]", None: ""}[row["met"]]
        value = f"{row['value']:,}" if isinstance(row["value"], int | float) else str(row["value"])
        table.add_row(row["metric"], f"{value} {row['unit']}".strip(), row["target"] or "", met)
    console.print(table)
    if "scale" in results and "levels" in results["scale"]:
        console.print(f"[dim]scale: {SCALE_NOTE}[/]")
    for step, result in results.items():
        if isinstance(result, dict) and "error" in result:
            console.print(f"[red]step {step} failed:[/] {result['error'].splitlines()[0]}")


# -- driver ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="~300 pages and fewer calls: a smoke run")
    parser.add_argument("--skip", action="append", default=[], choices=STEPS, help="skip a step (repeatable)")
    parser.add_argument("--work", type=Path, help="scratch folder, kept afterwards [default: a temp dir]")
    parser.add_argument("--keep", action="store_true", help="keep the default temp scratch folder")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"results file [default: {DEFAULT_JSON}]"
    )
    parser.add_argument(
        "--scale", default="1,4,16", help="corpus multiples for the scale step [default: 1,4,16]"
    )
    args = parser.parse_args(argv)
    try:
        args.scale_levels = sorted({int(part) for part in args.scale.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--scale {args.scale!r}: expected comma-separated integers, e.g. 1,4,16")
    if not args.scale_levels or min(args.scale_levels) < 1:
        parser.error("--scale needs positive integers")
    return args


def environment_info(bench: Bench) -> dict[str, Any]:
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": bench.quick,
        "work": str(bench.work),
        "corpus": str(bench.corpus),
        "queries": len(bench.queries),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {
            name: version(name) for name in ("docs-mcp", "mcp", "lancedb", "fastembed", "onnxruntime")
        },
    }


def prepare(args: argparse.Namespace, console: Console) -> Bench:
    work = (args.work or Path(tempfile.mkdtemp(prefix="docs-mcp-bench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    workload = QUICK if args.quick else FULL
    full_corpus = unpack_corpus(work)
    corpus = sample_corpus(full_corpus, work, workload.pages) if workload.pages else full_corpus
    cache_dir = Path(os.environ.get("DOCS_MCP_CACHE_DIR") or work / "model-cache")
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    return Bench(
        work=work,
        corpus=corpus,
        db=work / ("db-quick" if args.quick else "db-full"),
        cache_dir=cache_dir,
        env=child_env(cache_dir),
        command=docs_mcp_command(),
        workload=workload,
        queries=load_queries(workload.queries),
        guided=load_guided(load_queries(workload.queries)),
        logs=logs,
        console=console,
        quick=args.quick,
    )


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def describe(error: BaseException) -> str:
    """The innermost cause: anyio wraps a task's failure in (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"


def run_steps(bench: Bench, args: argparse.Namespace, results: dict[str, Any]) -> bool:
    """Each step in order; a failed step is recorded and the next one runs. False if any failed."""
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "index": lambda: step_index(bench),
        "reindex": lambda: step_reindex(bench),
        "latency": lambda: step_latency(bench),
        "throughput": lambda: step_throughput(bench),
        "coldstart": lambda: step_coldstart(bench),
        "rss": lambda: step_rss(bench),
        "scale": lambda: step_scale(bench, args.scale_levels),
    }
    ok = True
    for name, step in steps.items():
        if name in args.skip:
            continue
        if name != "index" and not (bench.db / "publications.lance").exists():
            results[name] = {"error": f"no index at {bench.db}: run without --skip index first"}
            ok = False
            continue
        bench.console.rule(f"[bold]{name}")
        started = time.perf_counter()
        try:
            results[name] = step()
        except Exception as error:
            ok = False
            results[name] = {"error": describe(error), "traceback": traceback.format_exc()}
            bench.console.print(f"[red]{name} failed:[/] {describe(error)}")
        results[name]["step_seconds"] = round(time.perf_counter() - started, 1)
        bench.console.print(f"  done in {results[name]['step_seconds']} s")
        write_json(args.json, results)  # after every step, so a long run that dies keeps its figures
        if name == "index" and "error" in results[name]:
            break  # nothing else can run without an index
    return ok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    bench = prepare(args, console)
    results: dict[str, Any] = {"meta": environment_info(bench)}
    console.print(f"work folder: {bench.work}\ncorpus: {bench.corpus}\nresults: {args.json}")
    ok = False
    try:
        ok = run_steps(bench, args, results)
    finally:
        results["summary"] = summary(results)
        write_json(args.json, results)
        print_summary(console, results["summary"], results, bench.quick)
        if args.work is None and not args.keep:
            shutil.rmtree(bench.work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
