"""Helpers for scripts/bench.py: child processes, measurements and statistics.

Nothing here knows about docs-mcp's internals; it only starts commands, times
them and reads what the operating system says about them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

GNU_TIME = Path("/usr/bin/time")
# Bounds on every wait, so a hung child fails the step instead of the whole run.
HEALTH_TIMEOUT_S = 60.0  # imports + model load take ~4 s on an idle 2-core machine
STOP_TIMEOUT_S = 10.0


# -- statistics -----------------------------------------------------------------------------------


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/p99 (and friends) in milliseconds, from per-call durations in seconds."""
    ms = sorted(s * 1000.0 for s in seconds)
    if not ms:
        return {"n": 0}
    if len(ms) == 1:
        only = round(ms[0], 2)
        return {"n": 1, "p50_ms": only, "p95_ms": only, "p99_ms": only, "mean_ms": only, "max_ms": only}
    # "inclusive" interpolates between observed values, so small samples never extrapolate.
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(ms[-1], 2),
    }


class StageTimes:
    """How long each named stage took, over many runs: `with stages.timed("fusion"): ...`."""

    def __init__(self) -> None:
        self._seconds: dict[str, list[float]] = defaultdict(list)

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self._seconds[stage].append(time.perf_counter() - started)

    def report(self, width: int) -> dict[str, dict[str, float | int]]:
        """latency_summary of each stage, in the order first timed, each also printed as a line."""
        costs = {stage: latency_summary(seconds) for stage, seconds in self._seconds.items()}
        for stage, cost in costs.items():
            print(f"{stage:{width}s} p50 {cost['p50_ms']:6.2f} ms  p95 {cost['p95_ms']:6.2f} ms")
        return costs


def median_of(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


# -- files ----------------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    """Apparent size of every file under `folder` (what `du -sb` reports)."""
    total = 0
    for parent, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while we walk is not an error
                total += (Path(parent) / name).lstat().st_size
    return total


def megabytes(count_bytes: float) -> float:
    return round(count_bytes / (1024 * 1024), 1)


def replace_folder(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)


# -- commands and environments --------------------------------------------------------------------


def docs_mcp_command() -> str:
    """The `docs-mcp` entry point of the interpreter running the benchmark (the project venv)."""
    beside_python = Path(sys.executable).parent / "docs-mcp"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("docs-mcp")
    if found is None:
        raise SystemExit("docs-mcp is not installed: run `pip install -e .` in the project venv first")
    return found


def child_env(cache_dir: Path) -> dict[str, str]:
    """The environment of every child: our model cache, defaults for everything else.

    Other DOCS_MCP_* variables are dropped so a developer's shell settings (another model, a
    port) cannot change what is measured.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("DOCS_MCP_")}
    env.update(
        DOCS_MCP_CACHE_DIR=str(cache_dir),
        DOCS_MCP_LOG_LEVEL="ERROR",  # stdio servers share our stderr; keep the table readable
        HF_HUB_OFFLINE="1",
        LANCEDB_LOG="error",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


# -- one measured command -------------------------------------------------------------------------


@dataclass
class CommandRun:
    wall_s: float
    peak_rss_mb: float | None
    returncode: int
    stdout: str
    stderr: str

    def json_output(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.stdout)
        except json.JSONDecodeError as error:
            raise RuntimeError(
                f"command printed no JSON (exit {self.returncode}): {error}\n"
                f"stdout: {self.stdout[-1000:]}\nstderr: {self.stderr[-2000:]}"
            ) from None
        return data


def run_measured(command: list[str], env: dict[str, str], timeout_s: float, scratch: Path) -> CommandRun:
    """Run `command` to completion: wall seconds (process start included) and its peak RSS.

    Peak RSS comes from GNU time's %M, which measures exactly this child. (Our own
    getrusage(RUSAGE_CHILDREN) would be the maximum over every child we ever waited for.)
    The child gets its own process group, so a timeout stops it and anything it started.
    """
    rss_file = scratch / f"rss-{time.monotonic_ns()}.txt"
    wrapped = [str(GNU_TIME), "-f", "%M", "-o", str(rss_file), *command] if GNU_TIME.exists() else command
    started = time.perf_counter()
    process = subprocess.Popen(
        wrapped,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except BaseException:  # a timeout or Ctrl-C: never leave the child running
        _stop_group(process)
        raise
    wall = time.perf_counter() - started
    peak = _read_peak_rss_mb(rss_file)
    return CommandRun(round(wall, 3), peak, process.returncode, stdout, stderr)


def _read_peak_rss_mb(rss_file: Path) -> float | None:
    if not rss_file.exists():
        return None
    try:
        # GNU time appends "Command exited with non-zero status N" lines first on failure.
        kilobytes = int(rss_file.read_text().split()[-1])
    except (ValueError, IndexError):
        return None
    finally:
        rss_file.unlink(missing_ok=True)
    return round(kilobytes / 1024, 1)


def _stop_group(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the child's process group, SIGKILL it if it lingers; bounded waits only."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


# -- an HTTP server -------------------------------------------------------------------------------


@dataclass
class HttpServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    @property
    def pid(self) -> int:
        return self.process.pid


def start_http_server(
    command: str, db: Path, env: dict[str, str], log: Path, open_files: int | None = None
) -> HttpServer:
    """`docs-mcp serve --transport http` on a free port; with `open_files`, under that open-file
    limit (soft and hard, so the server cannot raise it)."""
    port = free_port()
    arguments = ["serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)]

    def limit_open_files() -> None:
        if open_files is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [command, *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches only us; our finally blocks stop the server
            preexec_fn=limit_open_files if open_files is not None else None,
        )
    return HttpServer(process, port, log)


def wait_for_health(server: HttpServer, timeout_s: float = HEALTH_TIMEOUT_S) -> None:
    """Poll GET /health until 200; fail early if the server exits. 50 ms polls keep cold-start
    figures precise."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"docs-mcp serve exited with {server.process.returncode}:\n{tail(server.log)}"
                )
            with contextlib.suppress(httpx.TransportError):
                if http.get(f"{server.base_url}/health").status_code == 200:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"no 200 from {server.base_url}/health within {timeout_s} s:\n{tail(server.log)}")


def stop_server(server: HttpServer) -> None:
    process = server.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_http_server(
    command: str, db: Path, env: dict[str, str], log: Path, open_files: int | None = None
) -> Iterator[HttpServer]:
    """A healthy HTTP server for the duration of a `with`, always stopped afterwards."""
    server = start_http_server(command, db, env, log, open_files)
    try:
        wait_for_health(server)
        yield server
    finally:
        stop_server(server)


def process_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a running process, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)  # reported in kB
    return fields
