"""What people at a terminal see: progress, summaries, tables. Scripts use --json instead."""

from __future__ import annotations

import json
import shlex
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from docs_mcp.collection import describe
from docs_mcp.config import Settings
from docs_mcp.models import DocPage, IndexInfo, SearchResult
from docs_mcp.render import COMMANDS, cli_message, render_page, render_search

if TYPE_CHECKING:  # the indexer and doctor are imported by the commands that use them
    from docs_mcp.doctor import Check
    from docs_mcp.indexer import IndexReport
    from docs_mcp.sources.website import SyncReport  # imports httpx: only a remote index needs it
    from docs_mcp.sync import SourceRun

# soft_wrap: Rich never breaks a line of ours (a URL, a path, a command to copy) at the console's
# width, which is 80 columns whenever the output is not a terminal. Tables still fit the width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class IndexProgress:
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
    rows = [("corpus", report.corpus), ("index", report.db)]
    if report.version is not None:
        rows.append(("collection", f"{report.collection}, version {report.version}"))
    if report.origin:
        origin = report.origin
        rows.append(("commit", f"{origin.get('commit', '')} ({origin.get('ref_kind')} {origin.get('ref')})"))
    rows += [
        (
            "docs",
            f"{len(report.added)} added, {len(report.changed)} changed, "
            f"{len(report.removed)} removed, {report.unchanged} unchanged",
        ),
        ("chunks embedded", str(report.chunks_embedded)),
        ("code examples embedded", str(report.code_embedded)),
        ("skipped files", str(len(report.skipped))),
        ("seconds", f"{report.seconds:.1f}"),
    ]
    if report.published:
        state = f"published version {report.index_version}" + (
            " (repaired)" if report.repaired else " (rebuilt for a new model)" if report.rebuilt else ""
        )
    elif report.index_version is not None:
        state = f"nothing changed; version {report.index_version} still serving"
    else:
        state = "nothing published"
    rows.append(("index", state))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:  # one line each, never wrapped: paths stay whole for copying
        out.print(f"[bold]{name:<{width}}[/bold]  {escape(value)}")
    for skipped in report.skipped:
        err.print(f"skipped {skipped.path}: {skipped.reason}")
    for warning in report.warnings:
        err.print(f"warning: {warning}")
    for repair in report.repaired:
        err.print(f"repaired: {repair}", markup=False, soft_wrap=True)


def print_source_run(run: SourceRun) -> None:
    """What `docs-mcp index` did: what was fetched, then each version's report."""
    for fetched in run.fetched:
        print_sync_report(fetched)
    for number, report in enumerate(run.reports):
        if number:
            out.print()
        print_index_report(report)
    for note in run.notes:
        err.print(f"note: {note}", soft_wrap=True, markup=False)


def print_sync_summary(runs: list[SourceRun]) -> None:
    """One line per source: what `docs-mcp sync` changed, and which sources failed. The source
    comes last and is never wrapped, so a long path or URL stays whole for copying."""
    header = ("added", "changed", "removed", "unchanged", "seconds", "result")
    lines = []
    for run in runs:
        totals = run.totals()
        if run.error is not None:
            result = "failed"
        elif run.failures:
            result = f"{len(run.failures)} failed"
        elif any(r.published for r in run.reports):
            result = "published"
        else:
            result = "up to date"
        if run.incomplete and run.error is None:
            result += ", skipped some"
        versions = ", ".join(r.version or r.collection for r in run.reports)
        collection = run.reports[0].collection if run.reports else ""
        where = f"{run.source} ({collection} {versions})" if run.reports else run.source
        numbers = [str(totals[name]) for name in header[:4]]
        lines.append(([*numbers, f"{run.seconds:.1f}", result], where))
    widths = [max(len(header[n]), *(len(cells[n]) for cells, _ in lines)) for n in range(len(header))]

    def row(cells: list[str] | tuple[str, ...], where: str) -> str:
        numbers = "  ".join(cell.rjust(width) for cell, width in zip(cells[:5], widths, strict=False))
        return f"{numbers}  {cells[5].ljust(widths[5])}  {where}"

    out.print(row(header, "source (collection versions)"), markup=False, soft_wrap=True, style="bold")
    for cells, where in lines:
        out.print(row(cells, where), markup=False, soft_wrap=True)
    for run in runs:
        for fetched in run.fetched:
            for failed in fetched.failed:
                err.print(
                    f"{run.source}: failed {failed.path}: {failed.reason}", soft_wrap=True, markup=False
                )
        for report in run.reports:
            for skipped in report.skipped:
                err.print(
                    f"{run.source}: skipped {skipped.path}: {skipped.reason}", soft_wrap=True, markup=False
                )
        for note in run.notes:
            err.print(f"{run.source}: note: {note}", soft_wrap=True, markup=False)
        if run.failed:
            err.print(f"{run.source}: error: {run.failure_message()}", soft_wrap=True, markup=False)


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
        out.print(render_search(result, COMMANDS), markup=False)
        return
    if not result.hits:
        out.print(
            cli_message(result.note) if result.note else f"No results for {result.query!r}.", markup=False
        )
        return
    if result.kind == "code":
        _print_code_hits(result)
        return
    guided = any(hit.matched_by is not None for hit in result.hits)
    table = Table(title=f"Results for {result.query!r}", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("id (docs-mcp get ID)", style="cyan", no_wrap=True)  # copied whole
    table.add_column("title / section", style="bold")
    table.add_column("snippet")
    if guided:
        table.add_column("matched by")
    for number, hit in enumerate(result.hits, 1):
        cells = [str(number), hit.open_with, " > ".join(hit.heading_path) or hit.title, hit.snippet]
        table.add_row(*cells, *([", ".join(hit.matched_by or [])] if guided else []))
    out.print(table)
    if result.note:
        out.print(f"\n{cli_message(result.note)}", markup=False)


def _print_code_hits(result: SearchResult) -> None:
    only = f" in {result.language}" if result.language else ""
    out.print(f"[bold]Code examples{only} for {result.query!r}[/bold]")
    for number, hit in enumerate(result.hits, 1):
        out.print(f"\n{number}. [cyan]{hit.open_with}[/cyan] ", end="")
        out.print(f"({hit.language or 'no language'}, {hit.source_path} line {hit.line})", markup=False)
        out.print(" > ".join(hit.heading_path) or hit.title, style="bold", markup=False)
        if hit.context:
            out.print(hit.context, markup=False, soft_wrap=True)
        out.print(_syntax(hit.code or "", hit.language or "text"))
        if hit.code_truncated:
            out.print(
                f"(cut to fit: docs-mcp get {hit.open_with!r} has all of it)", style="dim", markup=False
            )
    if result.note:
        out.print(f"\n{cli_message(result.note)}", markup=False)


def _syntax(code: str, language: str) -> Any:
    from rich.syntax import Syntax  # pygments: only for code shown on a terminal

    return Syntax(code, language, line_numbers=False, word_wrap=True)


def print_page(page: DocPage) -> None:
    if out.is_terminal:
        from rich.markdown import Markdown  # 25 ms of imports, only for a page shown on a terminal

        out.print(Markdown(page.content))
        if page.next_start_index is not None:
            err.print(f"(more: docs-mcp get {page.id!r} --start-index {page.next_start_index})")
    else:
        sys.stdout.write(render_page(page, COMMANDS) + "\n")


def print_serving_banner(
    settings: Settings, info: IndexInfo | None, collections: dict[str, list[str]]
) -> None:
    from docs_mcp.clients import docs_mcp_command, proxy_command, proxy_missing

    url = f"http://{settings.host}:{settings.port}/mcp"
    proxy, proxy_args = proxy_command(url)
    command = shlex.join(docs_mcp_command())  # by absolute path: it may not be on PATH
    snippets = {
        "Clients that speak HTTP (generic mcpServers form; VS Code and others differ, see "
        f"`{command} get guides/connecting-clients`)": {"mcpServers": {"docs": {"url": url}}},
        "stdio-only clients, through mcp-proxy": {
            "mcpServers": {"docs": {"command": proxy, "args": proxy_args}}
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
        err.print(f"\n{title}:", markup=False)
        err.print(json.dumps(snippet, indent=2), markup=False, highlight=False)
    if missing := proxy_missing(proxy):
        err.print(missing, markup=False)
    err.print(
        f"\nFor one client's exact configuration: {command} config CLIENT --transport http --url {url}",
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
