#!/usr/bin/env python
"""Object storage and replicas: a measurement, not a test (nothing here asserts on timing).

A local S3-compatible server (moto's `moto_server`, from the dev extra) stands in for S3.
docs-mcp's own docs (corpus/) are indexed into a local folder and into `s3://...`, then:

  latency     in-process search and get_doc p50/p99, local disk vs object store, with the
              replica body cache on and off (DocsService directly: storage cost, no HTTP)
  converge    3 `docs-mcp serve --transport http` replicas on the object store; a re-index is
              published and every replica's /health is polled until all serve the new version
  throughput  search_docs calls/s over HTTP: 1 replica at concurrency 8, then 3 replicas
              (clients spread round-robin) at concurrency 24

Usage (repo root, project venv):

    .venv/bin/python scripts/bench_replicas.py --quick      # ~3 min on a shared 2-core machine
    .venv/bin/python scripts/bench_replicas.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
from _bench_util import child_env, docs_mcp_command, free_port, latency_summary, tail

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUERIES = [
    "configure the port",
    "bearer token on http",
    "how are index versions published",
    "hybrid search ranking",
    "connect claude desktop",
    "grace period for old versions",
]
PAGES = ["reference/cli", "reference/configuration", "concepts/index-versions", "guides/security"]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
STARTUP_S = 240.0


@contextmanager
def moto_server(scratch: Path) -> Iterator[str]:
    port = free_port()
    log = scratch / "moto.log"
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"moto_server did not start:\n{tail(log)}") from None
                time.sleep(0.1)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket="docs")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure_latency(uris: dict[str, str], embedder: Any, rounds: int) -> dict[str, Any]:
    """Every configuration answers the same query in turn, round after round, so load from
    other processes on a shared machine falls on all of them alike."""
    from docs_mcp.search import DocsService
    from docs_mcp.store import IndexStore

    services: dict[str, Any] = {}
    for where, uri in uris.items():
        for cache_mb in (0, 32):
            store = IndexStore(uri, body_cache_bytes=cache_mb * 1024 * 1024)
            service = DocsService(store, lambda: embedder, model=embedder.name, refresh_seconds=3600)
            service.search("warm up")
            services[f"{where}, cache {'on' if cache_mb else 'off'}"] = service
    searches: dict[str, list[float]] = {label: [] for label in services}
    reads: dict[str, list[float]] = {label: [] for label in services}
    for n in range(rounds):
        for label, service in services.items():
            started = time.perf_counter()
            service.search(QUERIES[n % len(QUERIES)])
            searches[label].append(time.perf_counter() - started)
            started = time.perf_counter()
            service.get_doc(PAGES[n % len(PAGES)])
            reads[label].append(time.perf_counter() - started)
    results: dict[str, Any] = {}
    for label in services:
        timing = {"search": latency_summary(searches[label]), "get_doc": latency_summary(reads[label])}
        results[label] = timing
        print(f"  {label:28} search {_p(timing['search'])}   get_doc {_p(timing['get_doc'])}")
    return results


def _p(summary: dict[str, Any]) -> str:
    return f"p50 {summary['p50_ms']:6.1f} ms  p99 {summary['p99_ms']:6.1f} ms"


def start_replica(
    uri: str, env: dict[str, str], scratch: Path, n: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with (scratch / f"replica-{n}.log").open("wb") as out:
        process = subprocess.Popen(
            [docs_mcp_command(), "serve", "--transport", "http", "--port", str(port), "--db", uri],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    return process, f"http://127.0.0.1:{port}"


def health_version(url: str) -> int | None:
    try:
        response = httpx.get(f"{url}/health", timeout=5)
    except httpx.TransportError:
        return None
    return int(response.json()["index_version"]) if response.status_code == 200 else None


class ConvergenceWatch(threading.Thread):
    """Polls the publication log and every replica's /health every 50 ms: when `version` was
    committed, and when each replica (and the last of them) first served it."""

    def __init__(self, store: Any, urls: list[str], version: int) -> None:
        super().__init__(daemon=True)
        self.store, self.urls, self.version = store, urls, version
        self.published = 0.0
        self.switched: list[float] = [0.0] * len(urls)
        self.all_serving = 0.0

    def run(self) -> None:
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline and not self.all_serving:
            now = time.perf_counter()
            if not self.published:
                latest = self.store.latest_publication()
                if latest is not None and latest.seq == self.version:
                    self.published = now
            for n, url in enumerate(self.urls):
                if not self.switched[n] and health_version(url) == self.version:
                    self.switched[n] = time.perf_counter()
            if self.published and all(self.switched):
                self.all_serving = max(self.switched)
            time.sleep(0.05)


def wait_all(urls: list[str], version: int, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if all(health_version(url) == version for url in urls):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit(f"replicas did not all reach version {version} within {timeout} s")


async def throughput(urls: list[str], concurrency: int, calls: int) -> dict[str, Any]:
    from mcp import Client

    failures = 0
    seconds: list[float] = []
    cursor = iter(range(calls))

    async def worker(client: Any) -> None:
        nonlocal failures
        for n in cursor:
            started = time.perf_counter()
            try:
                result = await client.call_tool("search_docs", {"query": QUERIES[n % len(QUERIES)]})
                failures += bool(result.is_error)
            except Exception:
                failures += 1
            seconds.append(time.perf_counter() - started)

    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(Client(f"{urls[i % len(urls)]}/mcp", read_timeout_seconds=120))
            for i in range(concurrency)
        ]
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for client in clients:
                group.start_soon(worker, client)
        elapsed = time.perf_counter() - started
    return {
        "replicas": len(urls),
        "concurrency": concurrency,
        "calls": calls,
        "failures": failures,
        "calls_per_s": round(calls / elapsed, 1),
        **latency_summary(seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a shared machine")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    rounds, calls = (100, 240) if args.quick else (300, 1200)

    from docs_mcp.config import default_cache_dir
    from docs_mcp.embed import FastEmbedder
    from docs_mcp.indexer import index_corpus
    from docs_mcp.store import IndexStore

    figures: dict[str, Any] = {"machine": f"{os.cpu_count()} cores (shared)", "quick": args.quick}
    scratch = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    try:
        with moto_server(scratch) as endpoint:
            os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_EC2_METADATA_DISABLED="true")
            corpus = scratch / "corpus"
            shutil.copytree(ROOT / "corpus", corpus)
            embedder = FastEmbedder("all-MiniLM-L6-v2-int8", default_cache_dir())
            uris = {"local disk": str(scratch / "index"), "object store": "s3://docs/index"}
            for uri in uris.values():
                index_corpus(corpus, IndexStore(uri), embedder)
            print("latency (in-process, docs-mcp's own docs):")
            figures["latency"] = measure_latency(uris, embedder, rounds)

            env = {**child_env(default_cache_dir()), **CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
            replicas = [start_replica(uris["object store"], env, scratch, n) for n in range(3)]
            try:
                urls = [url for _, url in replicas]
                wait_all(urls, 1, STARTUP_S)
                page = corpus / "guides" / "connecting-clients.md"
                page.write_text(page.read_text(encoding="utf-8") + "\n\nOne more line.\n", encoding="utf-8")
                watcher = ConvergenceWatch(IndexStore(uris["object store"]), urls, version=2)
                watcher.start()
                started = time.perf_counter()
                index_corpus(corpus, IndexStore(uris["object store"]), embedder)
                run_s = time.perf_counter() - started
                watcher.join(timeout=120)
                converge_s = watcher.all_serving - watcher.published
                figures["converge"] = {
                    "reindex_one_page_s": round(run_s, 2),
                    "publish_to_all_replicas_s": round(converge_s, 2),
                    "per_replica_s": [round(at - watcher.published, 2) for at in watcher.switched],
                    "refresh_seconds": 2.0,
                }
                print(f"publish -> all 3 replicas serving it: {converge_s:.2f} s (refresh every 2 s)")
                one = anyio.run(throughput, urls[:1], 8, calls)
                three = anyio.run(throughput, urls, 24, calls)
                figures["throughput"] = [one, three]
                for run in (one, three):
                    print(
                        f"{run['replicas']} replica(s), concurrency {run['concurrency']}: "
                        f"{run['calls_per_s']} calls/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms, "
                        f"{run['failures']} failures"
                    )
            finally:
                for process, _ in replicas:
                    process.terminate()
                for process, _ in replicas:
                    process.wait(timeout=15)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
