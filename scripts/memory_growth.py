#!/usr/bin/env python
"""Does a long-running server's memory grow with what it is asked? A measurement, not a test.

A real `docs-mcp serve --transport http` answers, through the MCP SDK's client:

  warm-up   WARMUP ordinary searches (the questions of scripts/loadtest.py)
  hostile   SEARCHES searches, each a different random 2,000-character query (random words
            from the index's own vocabulary and random letters: every query new to every cache)

and its resident memory (VmRSS, from /proc) is read after the warm-up and every STEP searches.
Reported: the growth from after the warm-up to the end, and over the second half alone (a
one-time warm-up is flat there; a leak is not).

Usage (from the repo root, in the project venv; the index defaults to docs-mcp's own docs):

    .venv/bin/python scripts/memory_growth.py
    .venv/bin/python scripts/memory_growth.py --db /work/scratch/ray-index --searches 2000
    .venv/bin/python scripts/memory_growth.py --docs-mcp OTHER/docs-mcp    # another build, same run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio
from _bench_util import child_env, docs_mcp_command, process_memory_mb, running_http_server
from bench import CallLog, new_client, timed_call
from loadtest import QUERIES

QUERY_CHARS = 2000
STEP = 200


def random_queries(count: int, vocabulary: list[str], seed: int = 7) -> list[str]:
    generator = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    queries = []
    for _ in range(count):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < QUERY_CHARS:
            if vocabulary and generator.random() < 0.7:
                words.append(generator.choice(vocabulary))
            else:
                words.append("".join(generator.choice(letters) for _ in range(generator.randint(3, 12))))
        queries.append(" ".join(words)[:QUERY_CHARS])
    return queries


def vocabulary_of(corpus: Path) -> list[str]:
    words: set[str] = set()
    for page in sorted(corpus.rglob("*.md"))[:500]:
        words.update(
            w.strip(".,:;()[]`*#") for w in page.read_text(encoding="utf-8", errors="replace").split()
        )
    return sorted(w for w in words if w.isalpha() and 2 < len(w) < 20)


async def search_all(url: str, queries: list[str], pid: int, every: int) -> tuple[CallLog, list[float]]:
    log, rss = CallLog(), []
    async with new_client(url) as client:
        for number, query in enumerate(queries, start=1):
            await timed_call(client, "search_docs", {"query": query, "limit": 5}, log)
            if number % every == 0:
                rss.append(process_memory_mb(pid)["VmRSS"])
    return log, rss


def measure(
    command: str, db: Path, env: dict[str, str], work: Path, warmup: int, searches: int
) -> dict[str, Any]:
    corpus = Path(os.environ.get("MEMORY_CORPUS", Path(__file__).resolve().parents[1] / "corpus"))
    hostile = random_queries(searches, vocabulary_of(corpus))
    ordinary = [QUERIES[i % len(QUERIES)] for i in range(warmup)]
    with running_http_server(command, db, env, work / "server.log") as server:
        started = process_memory_mb(server.pid)["VmRSS"]
        warm_log, _ = anyio.run(search_all, server.mcp_url, ordinary, server.pid, warmup)
        warm = process_memory_mb(server.pid)["VmRSS"]
        log, series = anyio.run(search_all, server.mcp_url, hostile, server.pid, STEP)
        end = process_memory_mb(server.pid)
    half = series[len(series) // 2 - 1] if len(series) >= 2 else warm
    return {
        "command": command,
        "rss_ready_mb": started,
        "rss_after_warmup_mb": warm,
        "rss_every_200_mb": series,
        "rss_end_mb": end["VmRSS"],
        "peak_mb": end["VmHWM"],
        "growth_after_warmup_pct": round(100 * (end["VmRSS"] - warm) / warm, 1),
        "growth_second_half_pct": round(100 * (end["VmRSS"] - half) / half, 1),
        "errors": warm_log.errors + log.errors,
        "search": log.summary(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="index to serve [default: docs-mcp's own docs, indexed first]")
    parser.add_argument("--searches", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--docs-mcp", action="append", help="a docs-mcp command (repeat to compare)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cache_dir = Path(os.environ.get("DOCS_MCP_CACHE_DIR") or Path.home() / ".cache" / "docs-mcp")
    env = child_env(cache_dir)
    work = Path(tempfile.mkdtemp(prefix="docs-mcp-memory-"))
    commands = args.docs_mcp or [docs_mcp_command()]
    db = Path(args.db) if args.db else work / "db"
    if args.db is None:
        subprocess.run(
            [commands[0], "index", "--db", str(db), "--json"], env=env, check=True, capture_output=True
        )
    results = [measure(command, db, env, work, args.warmup, args.searches) for command in commands]
    for result in results:
        print(
            f"{result['command']}: ready {result['rss_ready_mb']} MB, after warm-up "
            f"{result['rss_after_warmup_mb']} MB, end {result['rss_end_mb']} MB: "
            f"{result['growth_after_warmup_pct']}% after warm-up, {result['growth_second_half_pct']}% over "
            f"the second half; every {STEP}: {result['rss_every_200_mb']}; errors {result['errors']}; "
            f"search p50 {result['search'].get('p50_ms')} ms"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 1 if any(result["errors"] for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
