"""Run `docs-mcp index` logic in this process and SIGKILL it at a chosen point of its writes.

    python -m tests.writer_killer CORPUS DB --kill-after N [--model real|fake] [--cache DIR]
    python -m tests.writer_killer CORPUS DB --kill-when-file-appears GLOB ...

Every call that commits something to LanceDB (a table created, dropped or restored, rows
added or deleted, an index built, a compaction, a tag created, moved or deleted) counts as one
write. With --kill-after N the process kills itself with SIGKILL right after the N-th write
commits, so N = 1, 2, ... walks every step of an index run, publication included; with N = 0 it
runs to the end and prints how many writes the run made. --kill-when-file-appears kills it the
moment a file matching GLOB (under DB) exists, mid-operation, as a user's kill -9 would.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WRITES = {
    "lancedb.table.LanceTable": ("add", "delete", "create_index", "optimize", "restore"),
    "lancedb.table.Tags": ("create", "delete", "update"),
    "lancedb.db.LanceDBConnection": ("create_table", "drop_table"),
}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def count_writes(kill_after: int) -> Callable[[], int]:
    """Wrap every LanceDB write; returns a function that tells how many ran."""
    import importlib

    done = 0

    def counted(method: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            nonlocal done
            result = method(*args, **kwargs)
            done += 1
            if done == kill_after:
                die()
            return result

        return write

    for path, names in WRITES.items():
        module_name, _, class_name = path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        for name in names:
            setattr(cls, name, counted(getattr(cls, name)))
    return lambda: done


def kill_when_file_appears(db: Path, pattern: str) -> None:
    def watch() -> None:
        while not any(db.glob(pattern)):
            time.sleep(0.0005)
        die()

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("db")
    parser.add_argument("--kill-after", type=int, default=0)
    parser.add_argument("--kill-when-file-appears")
    parser.add_argument("--model", choices=["real", "fake"], default="fake")
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()

    from docs_mcp.indexer import index_corpus
    from docs_mcp.store import IndexStore

    if args.model == "real":
        from docs_mcp.embed import FastEmbedder

        embedder: Any = FastEmbedder("all-MiniLM-L6-v2-int8", args.cache)
    else:
        from tests.conftest import HashingEmbedder

        embedder = HashingEmbedder()
    writes = count_writes(args.kill_after)
    if args.kill_when_file_appears:
        kill_when_file_appears(Path(args.db), args.kill_when_file_appears)
    report = index_corpus(args.corpus, IndexStore(args.db), embedder)
    print(f"{writes()} writes, published version {report.index_version}", flush=True)


if __name__ == "__main__":
    main()
