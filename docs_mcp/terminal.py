"""What people at a terminal see: progress, summaries, tables. Scripts use --json instead."""

from __future__ import annotations

import json
import shutil
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.syntax import Syntax
from rich.table import Table

from docs_mcp.collection import describe
from docs_mcp.config import Settings
from docs_mcp.doctor import Check
from docs_mcp.indexer import IndexReport, ProgressSink
from docs_mcp.models import DocPage, IndexInfo, SearchResult
from docs_mcp.render import render_page, render_search

if TYPE_CHECKING:
    from docs_mcp.remote import SyncReport  # imports httpx: only a remote index needs it

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class IndexProgress(ProgressSink):
    """A progress bar with ETA on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self._progress = (
            Progress(
                TextColumn("embedding"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("chunks"),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            if enabled
            else None
        )
        self._task: object = None

    def __enter__(self) -> IndexProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, total_chunks: int) -> None:
        if self._progress is not None:
            self._task = self._progress.add_task("embedding", total=total_chunks)

    def advance(self, chunks: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, chunks)  # type: ignore[arg-type]


def print_index_report(report: IndexReport) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("corpus", report.corpus)
    table.add_row("index", report.db)
    if report.version is not None:
        table.add_row("collection", f"{report.collection}, version {report.version}")
    table.add_row(
        "docs",
        f"{len(report.added)} added, {len(report.changed)} changed, "
        f"{len(report.removed)} removed, {report.unchanged} unchanged",
    )
    table.add_row("chunks embedded", str(report.chunks_embedded))
    table.add_row("code examples embedded", str(report.code_embedded))
    table.add_row("skipped files", str(len(report.skipped)))
    table.add_row("seconds", f"{report.seconds:.1f}")
    if report.published:
        state = f"published version {report.index_version}" + (
            " (repaired)" if report.repaired else " (rebuilt for a new model)" if report.rebuilt else ""
        )
    elif report.index_version is not None:
        state = f"nothing changed; version {report.index_version} still serving"
    else:
        state = "nothing published"
    table.add_row("index", state)
    out.print(table)
    for skipped in report.skipped:
        err.print(f"skipped {skipped.path}: {skipped.reason}")
    for warning in report.warnings:
        err.print(f"warning: {warning}")
    for repair in report.repaired:
        err.print(f"repaired: {repair}", markup=False, soft_wrap=True)


def print_sync_report(sync: SyncReport) -> None:
    """What `docs-mcp index URL` fetched, before the index report."""
    out.print(
        f"fetched {sync.source}: {sync.listed} pages listed, {len(sync.downloaded)} downloaded, "
        f"{sync.unchanged} unchanged, {len(sync.removed)} removed, {len(sync.failed)} failed "
        f"({sync.requests} requests, {sync.seconds:.1f} s)",
        soft_wrap=True,
    )
    for failed in sync.failed:
        err.print(f"failed {failed.path}: {failed.reason}", soft_wrap=True)
    for ignored in sync.ignored:
        err.print(f"ignored {ignored.path}: {ignored.reason}", soft_wrap=True)
    for warning in sync.warnings:
        err.print(f"warning: {warning}", soft_wrap=True)


def print_search(result: SearchResult) -> None:
    if not out.is_terminal:
        out.print(render_search(result), markup=False, soft_wrap=True)
        return
    if not result.hits:
        out.print(result.note or f"No results for {result.query!r}.")
        return
    if result.kind == "code":
        _print_code_hits(result)
        return
    guided = any(hit.matched_by is not None for hit in result.hits)
    table = Table(title=f"Results for {result.query!r}", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("id (docs-mcp get ID)", style="cyan", overflow="fold")
    table.add_column("title / section", style="bold")
    table.add_column("snippet")
    if guided:
        table.add_column("matched by")
    for number, hit in enumerate(result.hits, 1):
        cells = [str(number), hit.open_with, " > ".join(hit.heading_path) or hit.title, hit.snippet]
        table.add_row(*cells, *([", ".join(hit.matched_by or [])] if guided else []))
    out.print(table)
    if result.note:
        out.print(f"\n{result.note}", markup=False)


def _print_code_hits(result: SearchResult) -> None:
    only = f" in {result.language}" if result.language else ""
    out.print(f"[bold]Code examples{only} for {result.query!r}[/bold]")
    for number, hit in enumerate(result.hits, 1):
        out.print(f"\n{number}. [cyan]{hit.open_with}[/cyan] ", end="")
        out.print(f"({hit.language or 'no language'}, {hit.source_path} line {hit.line})", markup=False)
        out.print(" > ".join(hit.heading_path) or hit.title, style="bold", markup=False)
        if hit.context:
            out.print(hit.context, markup=False, soft_wrap=True)
        out.print(Syntax(hit.code or "", hit.language or "text", line_numbers=False, word_wrap=True))
        if hit.code_truncated:
            out.print(
                f"(cut to fit: docs-mcp get {hit.open_with!r} has all of it)", style="dim", markup=False
            )
    if result.note:
        out.print(f"\n{result.note}", markup=False)


def print_page(page: DocPage) -> None:
    if out.is_terminal:
        out.print(Markdown(page.content))
        if page.next_start_index is not None:
            err.print(f"(more: docs-mcp get {page.id!r} --start-index {page.next_start_index})")
    else:
        sys.stdout.write(render_page(page) + "\n")


def print_serving_banner(
    settings: Settings, info: IndexInfo | None, collections: dict[str, list[str]]
) -> None:
    url = f"http://{settings.host}:{settings.port}/mcp"
    proxy = shutil.which("mcp-proxy") or "mcp-proxy"
    # At its default INFO level mcp-proxy logs every request's headers, auth headers included.
    snippets = {
        "Clients that speak HTTP (generic mcpServers form; VS Code and others differ, see "
        "`docs-mcp get guides/connecting-clients`)": {"mcpServers": {"docs": {"url": url}}},
        "stdio-only clients, through mcp-proxy": {
            "mcpServers": {
                "docs": {
                    "command": proxy,
                    "args": ["--log-level", "WARNING", "--transport", "streamablehttp", url],
                }
            }
        },
    }
    named = {name: versions for name, versions in collections.items() if versions}
    serving = (
        "" if info is None else f"index version {info.index_version} ({info.docs} docs, {info.chunks} chunks)"
    )
    if named:
        serving += (" and " if serving else "") + f"collections {describe(named)}"
    err.print(f"[bold]docs-mcp[/bold] serving {serving} on [cyan]{url}[/cyan]")
    err.print(f"health: http://{settings.host}:{settings.port}/health")
    for title, snippet in snippets.items():
        err.print(f"\n{title}:")
        err.print(json.dumps(snippet, indent=2), markup=False, highlight=False)
    err.print(
        f"\nFor one client's exact configuration: docs-mcp config CLIENT --transport http --url {url}",
        markup=False,
    )
    err.print("\nPress Ctrl-C to stop.")


def print_checks(checks: list[Check]) -> None:
    """One line per check; a failed one is followed by how to fix it."""
    marks = {"ok": "[green]ok  [/green]", "fail": "[bold red]FAIL[/bold red]", "skip": "[dim]skip[/dim]"}
    for check in checks:
        out.print(f"{marks[check.status]} {check.name}: ", end="")
        out.print(check.detail, markup=False, soft_wrap=True)
        if check.fix:
            out.print("     fix: ", end="")
            out.print(check.fix, markup=False, soft_wrap=True)
    failed = sum(check.failed for check in checks)
    out.print(f"\n{failed} problem{'s' if failed != 1 else ''} found." if failed else "\nAll checks passed.")


EVAL_METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10")


def print_eval_report(metrics: dict[str, Any]) -> None:
    rows: list[tuple[str, dict[str, Any]]] = []
    for mode, entry in metrics["modes"].items():
        rows.append((mode, entry))
        rows.extend((f"  {mode} {group}", sub) for group, sub in entry.get("groups", {}).items())
    _print_metric_table(f"Retrieval on {metrics['labels']} (95% bootstrap intervals)", "mode", rows)
    for baseline, differences in metrics.get("hybrid_vs_baselines", {}).items():
        out.print(f"hybrid - {baseline}: " + _differences(differences, ("hit@5", "mrr@10", "ndcg@10")))
    guided = metrics.get("guided")
    if guided:
        title = (
            f"Guided search: {guided['questions_with_expansions']} questions with keywords / "
            "hypothetical_answer (control: each given another question's)"
        )
        _print_metric_table(title, "search", list(guided["runs"].items()))
        for name in ("guided", "control"):
            out.print(f"{name} - bare: " + _differences(guided[f"{name}_vs_bare"], EVAL_METRICS))
        rates = {name: run.get("expansions_disagree") for name, run in guided["runs"].items()}
        out.print(
            "expansions_disagree (the note that the expansions found other pages): "
            + ", ".join(f"{name} {rate:.1%}" for name, rate in rates.items() if rate is not None)
        )


def _print_metric_table(title: str, first: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    table = Table(title=title)
    table.add_column(first)
    for name in EVAL_METRICS:
        table.add_column(name, justify="right")
    table.add_column("p50 ms", justify="right")
    for label, entry in rows:
        cells = [
            f"{entry[m]['mean']:.3f} [{entry[m]['ci95'][0]:.2f}, {entry[m]['ci95'][1]:.2f}]"
            for m in EVAL_METRICS
        ]
        table.add_row(f"{label} (n={entry['queries']})", *cells, str(entry["latency_ms_p50"]))
    out.print(table)


def _differences(differences: dict[str, Any], metrics: tuple[str, ...]) -> str:
    return ", ".join(
        f"{m} {differences[m]['mean']:+.3f} "
        f"[{differences[m]['ci95'][0]:+.3f}, {differences[m]['ci95'][1]:+.3f}]"
        + ("" if differences[m]["excludes_zero"] else " (n.s.)")
        for m in metrics
    )
