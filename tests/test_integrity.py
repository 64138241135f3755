"""The index under change and under damage, as users meet it: a real HTTP server keeps answering
while the index is rebuilt (one rebuild killed with SIGKILL), and `docs-mcp serve` refuses to
start on an index it cannot use, naming the fix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from docs_mcp.embed import FastEmbedder
from docs_mcp.indexer import index_corpus
from docs_mcp.store import IndexStore
from tests.test_indexer import KILL_DURING
from tests.test_transports import (
    DOCS_MCP,
    SAMPLE_CORPUS,
    SAMPLE_DOC_IDS,
    doc_ids_in,
    pick_free_port,
    running_http_server,
)

pytestmark = pytest.mark.slow

CLIENTS = 4
RUN_SECONDS = 120  # the whole test: four rebuilds, one killed, and the searches alongside
EXTRA_DOC = "guides/variant-b"


def make_variants(root: Path) -> tuple[Path, Path]:
    """Two corpora that differ in content and in their doc list, so each rebuild changes both."""
    a, b = root / "a", root / "b"
    shutil.copytree(SAMPLE_CORPUS, a)
    shutil.copytree(SAMPLE_CORPUS, b)
    page = b / "guides" / "installation.md"
    page.write_text(
        page.read_text(encoding="utf-8").replace("skyline-queue", "skyline-queue[redis]"), "utf-8"
    )
    (b / "guides" / "variant-b.md").write_text(
        "---\ntitle: Variant B\ndescription: Only in variant B.\n---\n\n# Variant B\n\nOnly here.\n", "utf-8"
    )
    return a, b


def test_searches_over_http_never_fail_while_the_index_is_rebuilt_four_times_one_run_killed(
    tmp_path: Path, embedder: FastEmbedder, model_cache: Path
) -> None:
    corpus_a, corpus_b = make_variants(tmp_path)
    db = str(tmp_path / "db")
    index_corpus(corpus_a, IndexStore(db), embedder)
    complete_versions = {frozenset(SAMPLE_DOC_IDS), frozenset(SAMPLE_DOC_IDS | {EXTRA_DOC})}
    failures: list[str] = []
    calls = 0
    seen_versions: set[int] = set()

    def kill_a_run_mid_write() -> None:
        killed = subprocess.run(
            [sys.executable, "-c", KILL_DURING, str(corpus_a), db, str(model_cache), "publish"],
            capture_output=True,
            timeout=120,
            env=dict(os.environ),
        )
        assert killed.returncode == -9, killed.stderr.decode()

    def rebuild_four_times() -> None:
        index_corpus(corpus_b, IndexStore(db), embedder)  # version 2
        kill_a_run_mid_write()  # tables written, nothing published: version 2 still serves
        index_corpus(corpus_a, IndexStore(db), embedder)  # version 3: recovers with no manual step
        index_corpus(corpus_b, IndexStore(db), embedder)  # version 4

    async def search_until(done: anyio.Event, url: str) -> None:
        nonlocal calls
        async with Client(url, read_timeout_seconds=30) as client:
            while not done.is_set():
                found = await client.call_tool("search_docs", {"query": "install with pip"})
                listed = await client.call_tool("list_docs", {})
                calls += 2
                for result in (found, listed):
                    if result.is_error or result.structured_content is None:
                        failures.append(str(result.content))
                if listed.structured_content:
                    ids = frozenset(doc_ids_in(listed.structured_content["root"]))
                    if ids not in complete_versions:
                        failures.append(f"incomplete version: {sorted(ids)}")
                    seen_versions.add(listed.structured_content["index_version"])
                if found.structured_content and found.structured_content["hits"][0]["doc_id"] != (
                    "guides/installation"
                ):
                    failures.append(f"wrong top hit: {found.structured_content['hits'][0]}")

    async def run(url: str) -> int:
        done = anyio.Event()
        with anyio.fail_after(RUN_SECONDS):
            async with anyio.create_task_group() as tasks:
                for _ in range(CLIENTS):
                    tasks.start_soon(search_until, done, url)
                try:
                    await anyio.to_thread.run_sync(rebuild_four_times)
                finally:
                    done.set()
            # The server follows the last publication within its refresh interval.
            async with Client(url, read_timeout_seconds=30) as client:
                while True:
                    listed = await client.call_tool("list_docs", {})
                    if listed.structured_content and listed.structured_content["index_version"] == 4:
                        return int(listed.structured_content["total_docs"])
                    await anyio.sleep(0.05)  # bounded by fail_after above

    env = {**os.environ, "DOCS_MCP_REFRESH_SECONDS": "0.05"}
    with running_http_server(db, pick_free_port(), env, tmp_path / "server.log") as base_url:
        total_docs = anyio.run(run, f"{base_url}/mcp")

    assert failures == [], failures[:5]
    assert calls >= CLIENTS * 2
    assert seen_versions <= {1, 2, 3, 4} and len(seen_versions) >= 2, seen_versions
    assert total_docs == len(SAMPLE_DOC_IDS) + 1


# -- refusing to start ----------------------------------------------------------------------------


def serve(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOCS_MCP), "serve", "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


def assert_refused(result: subprocess.CompletedProcess[str], fix: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fix in result.stderr, result.stderr
    assert result.stdout == ""  # on stdio, stdout is the wire


def test_serve_refuses_to_start_without_an_index_and_says_to_run_index(tmp_path: Path) -> None:
    assert_refused(serve(str(tmp_path / "nothing-here")), "docs-mcp index")


def test_serve_refuses_an_index_built_with_another_model_and_names_both_fixes(
    tmp_path: Path, fake_embedder: Any
) -> None:
    db = str(tmp_path / "db")
    index_corpus(SAMPLE_CORPUS, IndexStore(db), fake_embedder)
    result = serve(db)
    assert_refused(result, "--model")
    assert "docs-mcp index" in result.stderr


@pytest.mark.parametrize("damage", ["publication-log-deleted", "data-files-truncated"])
def test_serve_refuses_a_corrupted_index_and_says_to_rebuild_it(
    tmp_path: Path, fake_embedder: Any, damage: str
) -> None:
    db = tmp_path / "db"
    index_corpus(SAMPLE_CORPUS, IndexStore(str(db)), fake_embedder)
    if damage == "publication-log-deleted":
        for versions in db.glob("*.lance/_versions"):
            shutil.rmtree(versions)
    else:
        for data in db.glob("*.lance/data/*"):
            data.write_bytes(b"not a lance file")
    assert_refused(serve(str(db), "--model", fake_embedder.name), "docs-mcp index")


# -- the index folder deleted under a running server ----------------------------------------------


def test_a_server_whose_index_folder_is_deleted_says_so_and_serves_the_rebuilt_one_numbered_1_again(
    tmp_path: Path, embedder: FastEmbedder
) -> None:
    corpus_a, corpus_b = make_variants(tmp_path)
    db = tmp_path / "db"
    index_corpus(corpus_a, IndexStore(str(db)), embedder)
    env = {**os.environ, "DOCS_MCP_REFRESH_SECONDS": "0.1"}

    async def conversation(url: str) -> tuple[str, set[str]]:
        async with Client(url, read_timeout_seconds=30) as client:
            shutil.rmtree(db)
            failed = await client.call_tool("search_docs", {"query": "install with pip"})
            assert failed.is_error
            message = failed.content[0].text
            await anyio.to_thread.run_sync(lambda: index_corpus(corpus_b, IndexStore(str(db)), embedder))
            with anyio.fail_after(30):
                while True:  # the server follows the new index, though it is numbered 1 again
                    listed = await client.call_tool("list_docs", {})
                    ids = (
                        doc_ids_in(listed.structured_content["root"]) if listed.structured_content else set()
                    )
                    if EXTRA_DOC in ids:
                        assert listed.structured_content["index_version"] == 1
                        found = await client.call_tool("search_docs", {"query": "install with pip"})
                        assert not found.is_error, found.content
                        return message, ids
                    await anyio.sleep(0.1)

    with running_http_server(str(db), pick_free_port(), env, tmp_path / "server.log") as base_url:
        message, ids = anyio.run(conversation, f"{base_url}/mcp")
    assert "could not be read" in message and "changed or disappeared" in message, message
    assert "Error executing tool" not in message
    assert ids == SAMPLE_DOC_IDS | {EXTRA_DOC}
