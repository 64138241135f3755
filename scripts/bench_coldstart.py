#!/usr/bin/env python
"""How long one-shot docs-mcp commands take, process start to exit. A measurement, not a test.

Every CLI call and every stdio server an assistant launches pays its start-up before it does
anything: the imports it needs, opening the index, and (for a search) the model. This times,
median of --runs (default 5), each command as a new process:

  --version          the floor: Python and the CLI framework
  status/list/get    read the index, never embed
  search             embeds the query
  stdio initialize   `docs-mcp serve` (stdio) until it answers `initialize`
  stdio search       ... and then its first search_docs answer

Each variant is a source checkout run as `python -m docs_mcp` with the checkout first on
PYTHONPATH, all with this interpreter (the project venv), so two checkouts are compared on the
same packages. Runs are interleaved (variant A, variant B, A, B...) because the machine is shared:
compare the ratio of one run, not absolute figures of different runs.

Usage (from the repo root, in the project venv):

    .venv/bin/python scripts/bench_coldstart.py                         # this checkout
    .venv/bin/python scripts/bench_coldstart.py --baseline /tmp/before  # before vs this checkout
    .venv/bin/python scripts/bench_coldstart.py --db /work/scratch/ray-index --id ray-core/walkthrough

Without --db it indexes docs-mcp's own docs into a scratch folder first (not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _bench_util import child_env
from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120.0
QUERY = "how do I connect Claude Desktop"
TARGETS_S = {"status": 0.8, "list": 0.8, "get": 0.8, "search": 1.5, "stdio initialize": 1.5}


@dataclass(frozen=True)
class Variant:
    label: str
    source: Path  # a checkout: its docs_mcp/ package is what runs

    def command(self) -> list[str]:
        return [sys.executable, "-m", "docs_mcp"]

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "PYTHONPATH": str(self.source)}


# `python -m` puts the working directory first on sys.path, before PYTHONPATH: children run in a
# folder with no docs_mcp/ in it, so each variant runs its own checkout.
NEUTRAL_CWD = Path(tempfile.gettempdir())


def check_runs_its_own_checkout(variant: Variant, env: dict[str, str]) -> None:
    found = subprocess.run(
        [sys.executable, "-c", "import docs_mcp; print(docs_mcp.__file__)"],
        env=variant.env(env),
        cwd=NEUTRAL_CWD,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(variant.source.resolve()):
        raise SystemExit(f"{variant.label}: docs_mcp comes from {found}, not from {variant.source}")


def one_shot(variant: Variant, args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one command, process start to exit; fails loudly if the command fails."""
    started = time.perf_counter()
    result = subprocess.run(
        [*variant.command(), *args],
        env=variant.env(env),
        cwd=NEUTRAL_CWD,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"{variant.label}: docs-mcp {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
        )
    return elapsed


def _message(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    return (
        json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}) + "\n"
    ).encode()


def _read_response(process: subprocess.Popen[bytes], request_id: int) -> dict[str, Any]:
    """The JSON-RPC response to `request_id` (every stdout line is JSON-RPC on stdio)."""
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise SystemExit(
                f"the stdio server exited ({process.wait()}) before answering request {request_id}"
            )
        message = json.loads(line)
        if message.get("id") == request_id:
            return message  # type: ignore[no-any-return]


def stdio_session(variant: Variant, db: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawning `serve` (stdio) to its `initialize` answer, and to its first search."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*variant.command(), "serve", "--db", db],
        env=variant.env(env),
        cwd=NEUTRAL_CWD,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    try:
        process.stdin.write(
            _message(
                1,
                "initialize",
                {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "bench-coldstart", "version": "0"},
                },
            )
        )
        process.stdin.flush()
        _read_response(process, 1)
        initialized = time.perf_counter() - started
        process.stdin.write(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        process.stdin.write(_message(2, "tools/call", {"name": "search_docs", "arguments": {"query": QUERY}}))
        process.stdin.flush()
        answer = _read_response(process, 2)
        searched = time.perf_counter() - started
        if answer.get("result", {}).get("isError") or "error" in answer:
            raise SystemExit(f"{variant.label}: the first stdio search failed: {answer}")
        return initialized, searched
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(variants: list[Variant], db: str, doc_id: str, runs: int, console: Console) -> dict[str, Any]:
    env = child_env(Path(os.environ.get("DOCS_MCP_CACHE_DIR") or Path.home() / ".cache" / "docs-mcp"))
    commands = {
        "--version": ["--version"],
        "status": ["status", "--db", db],
        "list": ["list", "--db", db],
        "get": ["get", doc_id, "--db", db],
        "search": ["search", QUERY, "--db", db],
    }
    times: dict[str, dict[str, list[float]]] = {v.label: {} for v in variants}
    for variant in variants:
        check_runs_its_own_checkout(variant, env)
    for variant in variants:  # one unmeasured round each: the OS file cache, the model directory
        for args in commands.values():
            one_shot(variant, args, env)
        stdio_session(variant, db, env)
    for run in range(runs):
        console.print(f"  run {run + 1}/{runs} (load average {os.getloadavg()[0]:.1f})…")
        for variant in variants:
            for name, args in commands.items():
                times[variant.label].setdefault(name, []).append(one_shot(variant, args, env))
            initialized, searched = stdio_session(variant, db, env)
            times[variant.label].setdefault("stdio initialize", []).append(initialized)
            times[variant.label].setdefault("stdio first search", []).append(searched)
    return {
        label: {
            name: {"median_s": round(statistics.median(s), 3), "runs_s": [round(x, 3) for x in s]}
            for name, s in series.items()
        }
        for label, series in times.items()
    }


def print_table(results: dict[str, Any], console: Console) -> None:
    labels = list(results)
    table = Table(title="Cold start, process start to exit (median seconds)")
    table.add_column("command")
    for label in labels:
        table.add_column(label, justify="right")
    if len(labels) == 2:
        table.add_column(f"{labels[1]} / {labels[0]}", justify="right")
    table.add_column("target", justify="right")
    for name in results[labels[0]]:
        medians = [results[label][name]["median_s"] for label in labels]
        cells = [f"{m:.2f}" for m in medians]
        if len(labels) == 2:
            cells.append(f"{medians[1] / medians[0]:.2f}")
        target = TARGETS_S.get(name)
        table.add_row(name, *cells, f"<= {target}" if target else "")
    console.print(table)


def index_own_docs(folder: Path, console: Console) -> str:
    db = folder / "index"
    console.print(f"indexing docs-mcp's own docs into {db} (not timed)…")
    subprocess.run(
        [sys.executable, "-m", "docs_mcp", "index", str(REPO_ROOT / "corpus"), "--db", str(db), "--json"],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=900,
    )
    return str(db)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="an existing index to read (default: index docs-mcp's own docs first)")
    parser.add_argument("--id", default="getting-started/quickstart", help="the doc `get` opens")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another source checkout to compare against")
    parser.add_argument("--json", type=Path, help="write the figures here")
    options = parser.parse_args()
    console = Console(stderr=True, highlight=False)
    variants = [Variant("this checkout", REPO_ROOT)]
    if options.baseline is not None:
        variants.insert(0, Variant("baseline", options.baseline.resolve()))
    with tempfile.TemporaryDirectory(prefix="docs-mcp-coldstart-") as scratch:
        db = options.db or index_own_docs(Path(scratch), console)
        results = measure(variants, db, options.id, options.runs, console)
    print_table(results, Console(highlight=False))
    if options.json is not None:
        report = {"db": db, "runs": options.runs, "python": sys.version.split()[0], "results": results}
        options.json.write_text(json.dumps(report, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
