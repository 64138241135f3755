#!/usr/bin/env python
"""Docs from a git repository: how long indexing 3 tags takes, and a re-sync that finds nothing new.

A measurement, not a test. It builds a repository from a folder of real docs (the Ray docs from
../shared/bench by default, else docs-mcp's own corpus/), with tags whose docs differ the way
releases do, serves it with `git daemon` on 127.0.0.1, and times, each as a new process:

  index 3 tags      docs-mcp index git+git://.../bench.git --refs 'v*' --path docs (fresh cache, fresh index)
  again, no change  the same command again: the refs did not move
  sync, no change   docs-mcp sync over a configuration listing the same source
  new tag           a fourth tag (1% of pages edited) pushed, then the same index command

The repository: --files doc files under docs/ (v1.0), 3% of them edited for v1.1, 8% edited
and 2% added for v2.0, and --assets-mb of binary files outside docs/ that a --path docs fetch
never needs. Its size is printed.

With --baseline CHECKOUT, each step also runs that source checkout (`python -m docs_mcp` with
it first on PYTHONPATH, same interpreter), interleaved with this one: compare the ratio of one
run, not the absolute figures of runs on a shared machine.

    .venv/bin/python scripts/bench_git.py
    .venv/bin/python scripts/bench_git.py --files 300 --baseline /tmp/before --runs 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench_util import child_env

REPO_ROOT = Path(__file__).resolve().parents[1]
RAY_DOCS = REPO_ROOT.parent / "shared" / "bench" / "ray-docs.tar.gz"
NEUTRAL_CWD = Path(tempfile.gettempdir())
AUTHOR = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **AUTHOR}, capture_output=True, text=True, check=True
    ).stdout


def doc_files(scratch: Path, count: int, archive_path: Path) -> tuple[Path, list[Path]]:
    """The docs to build the repository from: the first `count` Ray pages, else docs-mcp's own."""
    if archive_path.is_file():
        with tarfile.open(archive_path) as archive:
            archive.extractall(scratch, filter="data")
        root = scratch / "ray-docs"
    else:
        root = REPO_ROOT / "corpus"
    files = sorted(p for p in root.rglob("*") if p.suffix in (".md", ".mdx", ".ipynb"))
    return root, files[:count]


def build_repository(
    scratch: Path, files: int, assets_mb: int, archive: Path
) -> tuple[Path, Path, dict[str, Any]]:
    """A bare repository with tags v1.0, v1.1 and v2.0 (and its working copy)."""
    root, chosen = doc_files(scratch, files, archive)
    work = scratch / "work"
    bare = scratch / "served" / "bench.git"
    git("init", "--quiet", "--initial-branch=main", str(work), cwd=scratch)
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare), cwd=scratch)
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    for source in chosen:
        target = work / "docs" / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (work / "assets").mkdir()
    rng = random.Random(7)
    for n in range(assets_mb):
        (work / "assets" / f"blob-{n}.bin").write_bytes(rng.randbytes(1024 * 1024))
    (work / "README.md").write_text(
        "# Bench\n\nA repository built by scripts/bench_git.py.\n", encoding="utf-8"
    )
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", "v1.0", cwd=work)
    git("tag", "-a", "-m", "v1.0", "v1.0", cwd=work)
    docs = sorted((work / "docs").rglob("*.md"))
    release(work, rng.sample(docs, max(1, len(docs) * 3 // 100)), [], "v1.1")
    added = [work / "docs" / "new" / f"page-{n}.md" for n in range(max(1, len(docs) * 2 // 100))]
    release(work, rng.sample(docs, max(1, len(docs) * 8 // 100)), added, "v2.0")
    git("remote", "add", "origin", str(bare), cwd=work)
    git("push", "--quiet", "origin", "main", "--tags", cwd=work)
    facts = {
        "doc_files": len(chosen),
        "doc_bytes": sum(p.stat().st_size for p in (work / "docs").rglob("*") if p.is_file()),
        "asset_bytes": assets_mb * 1024 * 1024,
        "bare_repository_bytes": folder_bytes(bare),
        "docs_from": str(root.name),
    }
    return work, bare, facts


def release(work: Path, edited: list[Path], added: list[Path], tag: str) -> None:
    for page in edited:
        with page.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n\n## Changes in {tag}\n\nThis page changed in release {tag}: new options were added.\n"
            )
    for page in added:
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"# New in {tag}\n\nA page that first appears in {tag}.\n", encoding="utf-8")
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", tag, cwd=work)
    git("tag", "-a", "-m", tag, tag, cwd=work)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


class Daemon:
    def __init__(self, root: Path) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            ["git", "daemon", f"--base-path={root}", "--export-all", "--reuseaddr", "--listen=127.0.0.1",
             f"--port={self.port}", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # `git daemon` runs git-daemon as a child: stop the whole group
        )  # fmt: skip
        time.sleep(0.5)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def run(checkout: Path, args: list[str], env: dict[str, str]) -> tuple[float, Any]:
    """Wall seconds of one docs-mcp command as a new process, and its --json output."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "docs_mcp", *args],
        env={**env, "PYTHONPATH": str(checkout)},
        cwd=NEUTRAL_CWD,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 3):
        raise SystemExit(
            f"{checkout}: docs-mcp {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
    return elapsed, json.loads(result.stdout) if result.stdout.strip() else None


def embedded(output: Any) -> int:
    runs = output if isinstance(output, list) else [output]
    return sum(r["chunks_embedded"] for r in runs)


def one_round(checkout: Path, url: str, work: Path, scratch: Path, label: str, repeat: int) -> dict[str, Any]:
    """Every step, from a fresh cache and a fresh index; the steps that change nothing `repeat`
    times (their median: they are short, and the machine is shared)."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-git-{label}-", dir=scratch))
    env = child_env(folder / "cache")
    db = str(folder / "index")
    config = folder / "docs-mcp.toml"
    config.write_text(
        f'db = "{db}"\n\n[[sources]]\nsource = "{url}"\nrefs = "v*"\npath = "docs"\n', encoding="utf-8"
    )
    command = ["index", url, "--refs", "v*", "--path", "docs", "--db", db, "--json"]
    steps: dict[str, Any] = {}
    seconds, output = run(checkout, command, env)
    steps["index 3 tags"] = {"seconds": seconds, "chunks_embedded": embedded(output)}
    steps["cache bytes"] = folder_bytes(folder / "cache" / "git")
    for step, args in (
        ("again, no change", command),
        ("sync, no change", ["--config", str(config), "sync", "--json"]),
    ):
        timed = [run(checkout, args, env) for _ in range(repeat)]
        steps[step] = {
            "seconds": statistics.median(seconds for seconds, _ in timed),
            "chunks_embedded": max(embedded(output) for _, output in timed),
        }
    tag = f"v2.1-{label}"
    docs = sorted((work / "docs").rglob("*.md"))
    release(work, random.Random(label).sample(docs, max(1, len(docs) // 100)), [], tag)
    git("push", "--quiet", "origin", "main", tag, cwd=work)
    seconds, output = run(checkout, command, env)
    steps["new tag"] = {"seconds": seconds, "chunks_embedded": embedded(output)}
    git("push", "--quiet", "origin", f":refs/tags/{tag}", cwd=work)  # the next round starts from 3 tags
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=300, help="doc files in the repository (default 300)")
    parser.add_argument("--assets-mb", type=int, default=20, help="MB of binary files outside docs/")
    parser.add_argument("--runs", type=int, default=1, help="rounds per checkout (default 1)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each nothing-changed step (default 5)")
    parser.add_argument("--baseline", type=Path, help="another source checkout to compare with")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--docs-archive", type=Path, default=RAY_DOCS, help=f"the docs to build from (default {RAY_DOCS})"
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-git-"))
    try:
        work, bare, facts = build_repository(scratch, args.files, args.assets_mb, args.docs_archive)
        print(f"repository: {json.dumps(facts)}", file=sys.stderr)
        daemon = Daemon(bare.parent)
        url = f"git+git://127.0.0.1:{daemon.port}/bench.git"
        variants = {"this": REPO_ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        try:
            for number in range(args.runs):
                for name, checkout in variants.items():  # interleaved: A, B, A, B...
                    rounds[name].append(
                        one_round(checkout, url, work, scratch, f"{name}-{number}", args.repeat)
                    )
                    print(f"{name} round {number + 1}: {json.dumps(rounds[name][-1])}", file=sys.stderr)
        finally:
            daemon.stop()
        summary = {
            name: {
                step: {
                    "median_seconds": round(statistics.median(r[step]["seconds"] for r in results), 2),
                    "chunks_embedded": results[-1][step]["chunks_embedded"],
                }
                for step in ("index 3 tags", "again, no change", "sync, no change", "new tag")
            }
            | {"cache_bytes": results[-1]["cache bytes"]}
            for name, results in rounds.items()
        }
        report = {"repository": facts, "runs": args.runs, "results": summary}
        print(json.dumps(report, indent=2))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
