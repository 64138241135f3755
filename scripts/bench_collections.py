"""What collections cost: opening a collection's version, choosing the scope per call, reading
the catalogue, and the tail latency of searches when the catalogue is re-read inside requests
or by serve's background follower, on the bundled docs (corpus/) indexed as N versions of one
collection.

    .venv/bin/python scripts/bench_collections.py [--versions 20] [--repeat 200] [--db DIR]
        [--tail-seconds 20]

With --db, an index this script built before is measured again without re-indexing.

Not a test: it prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _bench_util import latency_summary, process_memory_mb

from docs_mcp.collection import index_scope
from docs_mcp.config import bundled_corpus
from docs_mcp.embed import FastEmbedder
from docs_mcp.indexer import index_corpus
from docs_mcp.search import DocsService
from docs_mcp.store import IndexStore

MODEL = "all-MiniLM-L6-v2-int8"


def median_ms(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--db", help="an index built by an earlier run: measure it, index nothing")
    parser.add_argument("--tail-seconds", type=float, default=20, help="per mode, for the tail latency")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="bench-collections-cache-"))
    embedder = FastEmbedder(MODEL, cache)
    if args.db:
        db = args.db
    else:
        db = str(Path(tempfile.mkdtemp(prefix="bench-collections-")) / "index")
        corpus = bundled_corpus()
        index_corpus(corpus, IndexStore(db), embedder)
        for number in range(1, args.versions + 1):
            index_corpus(corpus, IndexStore(db).scoped(index_scope("docs", f"1.{number}")), embedder)
        print(f"indexed {corpus} as default + {args.versions} versions", flush=True)

    store = IndexStore(db)
    args.versions = len(store.catalogue()) - 1
    chunks = store.latest_publication().chunks  # type: ignore[union-attr]
    print(f"catalogue of {args.versions + 1} scopes: {median_ms(store.catalogue, 20):.2f} ms")

    service = DocsService(IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=3600)
    opens = []
    for number in range(1, args.versions + 1):
        start = time.perf_counter()
        service.snapshot("docs", f"1.{number}")
        opens.append((time.perf_counter() - start) * 1000)
    print(f"first open of a version ({chunks} chunks): median {statistics.median(opens):.1f} ms")

    print(
        f"scope resolution (cached catalogue): {median_ms(lambda: service.scope('docs', None), 2000):.4f} ms"
    )
    print(f"snapshot lookup, default: {median_ms(lambda: service.snapshot(), 2000):.4f} ms")
    print(f"snapshot lookup, named: {median_ms(lambda: service.snapshot('docs', '1.3'), 2000):.4f} ms")
    service.embedder.embed_query("warm up")
    query = "how do I change the HTTP port"
    default = median_ms(lambda: service.search(query), args.repeat)
    named = median_ms(lambda: service.search(query, collection="docs"), args.repeat)
    print(f"search_docs, default collection: {default:.2f} ms; named, version omitted: {named:.2f} ms")

    # The catalogue and the publications log are read again every refresh_seconds: either by the
    # request that finds them due, or by serve's background follower. 0.5 s makes that frequent.
    for following in (False, True):
        service = DocsService(IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=0.5)
        if following:
            service.follow_in_background()
        service.search(query, collection="docs")
        seconds = []
        stop = time.monotonic() + args.tail_seconds
        while time.monotonic() < stop:
            start = time.perf_counter()
            service.search(query, collection="docs")
            seconds.append(time.perf_counter() - start)
        service.stop_following()
        tail = latency_summary(seconds)
        mode = "background follower" if following else "checks inside requests"
        print(
            f"named search for {args.tail_seconds:g} s, refresh 0.5 s, {mode}: {tail['n']} calls, "
            f"p50 {tail['p50_ms']:.2f} ms, p99 {tail['p99_ms']:.2f} ms, max {tail['max_ms']:.1f} ms"
        )

    # Every opened version keeps its vectors and rows; the follower closes the idle ones.
    service = DocsService(
        IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=0.2, idle_version_seconds=1
    )
    before = resident_mb()
    for number in range(1, args.versions + 1):
        service.search(query, collection="docs", version=f"1.{number}")
    opened = resident_mb()
    service.follow_in_background()
    time.sleep(3)
    service.stop_following()
    print(
        f"resident memory: {before:.0f} MB, {opened:.0f} MB with {args.versions} versions open, "
        f"{resident_mb():.0f} MB once they idled out"
    )


def resident_mb() -> float:
    return process_memory_mb(os.getpid())["VmRSS"]


if __name__ == "__main__":
    main()
