"""The `docs-mcp` command: parse, call the service, translate errors to exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from docs_mcp import __version__
from docs_mcp.config import Settings
from docs_mcp.errors import ConfigError, DocsMcpError, is_out_of_space

# `docs-mcp index` published the index but skipped files it could not read, or (for a remote
# source) pages it could not download (listed on stderr).
EXIT_SKIPPED_FILES = 2

app = typer.Typer(
    name="docs-mcp",
    help="Index a folder of Markdown docs and serve it to AI assistants over MCP.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Index folder, or an object-store URI such as s3://bucket/prefix. "
        "[env: DOCS_MCP_DB; default: ~/.local/share/docs-mcp/index]",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Embedding model: all-MiniLM-L6-v2-int8 (offline, default) or a fastembed catalogue name. "
        "[env: DOCS_MCP_MODEL]",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PrefixOption = Annotated[str | None, typer.Option("--prefix", help="Only docs whose id starts with this.")]
CollectionOption = Annotated[
    str | None,
    typer.Option(
        "--collection",
        help="Which collection (doc set); see `docs-mcp collections`. [default: the default one]",
    ),
]
KeywordOption = Annotated[
    list[str] | None,
    typer.Option(
        "--keyword",
        "-k",
        help="A name the answer is about (API, command, setting) or a word the page likely uses; "
        "searched beside the query (repeat, up to 3).",
    ),
]
HypotheticalAnswerOption = Annotated[
    str | None,
    typer.Option(
        "--hypothetical-answer",
        help="1-3 sentences written as the docs would answer; searched beside the query.",
    ),
]
VersionOption = Annotated[
    str | None,
    typer.Option("--version", help="Which version of the collection. [default: its highest]"),
]


def _errors_to_exit_codes(command: F) -> F:
    """A DocsMcpError is a user's problem with a fix: one line on stderr, exit 1, no traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except DocsMcpError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(code=1) from None
        except OSError as error:  # a full disk anywhere (a cache, a mirror): one line, not a traceback
            if not is_out_of_space(error):
                raise
            where = f" ({error.filename})" if error.filename else ""
            typer.echo(
                f"error: no space left on the disk{where}: {error.strerror}; free some space and run again",
                err=True,
            )
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; the previously published index is unchanged", err=True)
            raise typer.Exit(code=130) from None

    return wrapper  # type: ignore[return-value]


# The global options (--config, --log-level), set by main() before any command runs.
_global_options: dict[str, Any] = {}


def _settings(**overrides: Any) -> Settings:
    """Flags > DOCS_MCP_* > configuration file > defaults (see config.py)."""
    return Settings.load(
        _global_options.get("config"), log_level=_global_options.get("log_level"), **overrides
    )


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"docs-mcp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (TOML). [env: DOCS_MCP_CONFIG; default: ./docs-mcp.toml, "
            "else [tool.docs-mcp] in ./pyproject.toml]",
        ),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="DEBUG, INFO, WARNING or ERROR (logs go to stderr). "
            "[env: DOCS_MCP_LOG_LEVEL; default: WARNING]",
        ),
    ] = None,
) -> None:
    """Index a folder of Markdown docs and serve it to AI assistants over MCP."""
    _global_options.update(config=config, log_level=log_level)
    try:
        level = Settings.load(config, log_level=log_level).log_level
    except DocsMcpError:
        # Reported by the command itself, which loads the settings again (doctor lists it as a
        # failed check); `COMMAND --help` keeps working meanwhile.
        level = "WARNING"
    from docs_mcp.logs import configure

    configure(level)  # stderr (on stdio, stdout is the JSON-RPC wire), repeated lines limited


@app.command()
@_errors_to_exit_codes
def index(
    path: Annotated[
        str | None,
        typer.Argument(
            help="Folder of Markdown docs, or the http(s) URL of an llms.txt or sitemap.xml whose pages "
            "are downloaded and indexed. [env: DOCS_MCP_CORPUS; default: docs-mcp's own docs]",
            show_default=False,
        ),
    ] = None,
    urls: Annotated[
        Path | None,
        typer.Option(
            "--urls",
            help="A text file of page URLs, one per line, to download and index instead of a folder.",
        ),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            help="Index into this named collection (its own tables in the same index), not the default one.",
        ),
    ] = None,
    doc_version: Annotated[
        str | None,
        typer.Option("--version", help="The version of the collection these docs are. [default: latest]"),
    ] = None,
    json_output: JsonOption = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="After indexing, keep watching the folder and re-index each change within about a "
            "second, until Ctrl-C. Running servers pick up every new version.",
        ),
    ] = False,
) -> None:
    """Index (or re-index) a folder of Markdown files, or the pages an llms.txt, sitemap or URL list
    links to; only changed files are embedded again (and only changed pages downloaded again)."""
    from docs_mcp.collection import index_scope
    from docs_mcp.embed import FastEmbedder

    scope = index_scope(collection, doc_version)  # a bad name fails before the model loads

    source = None
    if urls is not None or (path is not None and "://" in path):
        from docs_mcp.remote import remote_source  # httpx is imported only for a remote source

        if urls is not None and path is not None:
            raise ConfigError("pass either a folder or URL, or --urls FILE, not both")
        if watch:
            raise ConfigError(
                "--watch works on a local folder only; to follow a remote source, run the same "
                "docs-mcp index command again (for example from cron): only changed pages are downloaded"
            )
        source = remote_source(path, urls)
    settings = _settings(corpus=None if source else path, db=db, model=model)
    remote_sync = None
    with contextlib.ExitStack() as stack:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="docs-mcp-model") as loader:
            # The model loads while LanceDB is imported (and pages download): a re-index is
            # mostly start-up time.
            loading = loader.submit(
                FastEmbedder,
                settings.model,
                settings.cache_dir,
                threads=settings.embedding_threads_for_indexing,
            )
            if source is not None:
                remote_sync, corpus = _sync_remote(source, settings, stack)
            else:
                corpus = settings.corpus
            from docs_mcp.indexer import index_corpus
            from docs_mcp.store import IndexStore
            from docs_mcp.terminal import IndexProgress, print_index_report, print_sync_report

            store = IndexStore.from_settings(settings).scoped(scope)
            embedder = loading.result()
        if remote_sync is not None and not json_output:
            print_sync_report(remote_sync)
        with IndexProgress(enabled=not json_output and sys.stderr.isatty()) as progress:
            report = index_corpus(corpus, store, embedder, progress)
    if json_output:
        result = report.as_dict()
        if remote_sync is not None:
            result["remote"] = remote_sync.as_dict()
        _print_json(result)
    else:
        print_index_report(report)
    if watch:
        _watch(settings.corpus, store, embedder, json_output)
        return
    if report.skipped or (remote_sync is not None and remote_sync.failed):
        # The index was published without them: a script should notice, a person has the list above.
        raise typer.Exit(code=EXIT_SKIPPED_FILES)


def _sync_remote(source: Any, settings: Settings, stack: contextlib.ExitStack) -> tuple[Any, Path]:
    """Bring the source's local mirror up to date, and hold its lock until indexing is done."""
    from docs_mcp.remote import RemoteLimits, mirror_dir, mirror_lock, pages_dir, sync_mirror

    mirror = mirror_dir(settings.cache_dir, source)
    stack.enter_context(mirror_lock(mirror))
    return sync_mirror(source, mirror, RemoteLimits.from_settings(settings)), pages_dir(mirror)


def _watch(corpus: Path, store: Any, embedder: Any, json_output: bool) -> None:
    """Re-index on every change until Ctrl-C (or SIGTERM), one summary per run."""
    import signal
    import threading

    from docs_mcp.indexer import IndexReport, watch_corpus

    stopping = threading.Event()

    def stop_on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop_on_signal)

    def report(run: IndexReport) -> None:
        if json_output:
            typer.echo(json.dumps(run.as_dict(), ensure_ascii=False))
        else:
            counts = f"{len(run.added)} added, {len(run.changed)} changed, {len(run.removed)} removed"
            typer.echo(
                f"re-indexed: {counts}, {run.chunks_embedded} chunks and {run.code_embedded} code examples "
                f"embedded in {run.seconds:.1f} s; "
                f"serving version {run.index_version}",
                err=True,
            )
        for skipped in run.skipped:
            typer.echo(f"skipped {skipped.path}: {skipped.reason}", err=True)

    def failed(error: DocsMcpError) -> None:
        typer.echo(f"error: {error} (still watching; the previous version keeps serving)", err=True)

    typer.echo(f"watching {corpus} for changes; Ctrl-C to stop", err=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a person stops watching
        watch_corpus(corpus, store, embedder, report, failed, stopping.is_set)
    typer.echo("stopped watching", err=True)


@app.command()
@_errors_to_exit_codes
def serve(
    transport: Annotated[
        str | None,
        typer.Option(
            "--transport", help="stdio (launched by an assistant) or http. [env: DOCS_MCP_TRANSPORT]"
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="HTTP bind address. [env: DOCS_MCP_HOST]")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port. [env: DOCS_MCP_PORT]")] = None,
    db: DbOption = None,
    model: ModelOption = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Also accept this Host header, e.g. docs.example.com or docs.example.com:* "
            "(repeat or comma-separate). [env: DOCS_MCP_ALLOWED_HOSTS]",
        ),
    ] = None,
    allow_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-origin",
            help="Also accept this Origin header, e.g. https://app.example.com "
            "(repeat or comma-separate). [env: DOCS_MCP_ALLOWED_ORIGINS]",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Require 'Authorization: Bearer TOKEN' on HTTP requests. Prefer the env "
            "variable: flags show in the process list. [env: DOCS_MCP_TOKEN]",
        ),
    ] = None,
    allow_unauthenticated: Annotated[
        bool | None,
        typer.Option(
            "--allow-unauthenticated",
            help="Serve HTTP on a non-loopback address without a token. "
            "[env: DOCS_MCP_ALLOW_UNAUTHENTICATED]",
        ),
    ] = None,
) -> None:
    """Serve the index over MCP: stdio (default) or streamable HTTP at /mcp."""
    from docs_mcp.search import DocsService
    from docs_mcp.server import serve_stdio

    settings = _settings(
        transport=transport,
        host=host,
        port=port,
        db=db,
        model=model,
        allowed_hosts=allow_host or None,
        allowed_origins=allow_origin or None,
        token=token,
        allow_unauthenticated=allow_unauthenticated or None,
    )
    sockets = None
    if settings.transport == "http":
        from docs_mcp.http import check_exposure, listen

        check_exposure(settings)  # before the model loads: fail in a second, not after it
        sockets = listen(settings.host, settings.port)  # a busy port: one line, before the banner
    service = DocsService.from_settings(settings, preload_model=True)
    service.embedder  # load the model now, so the first search is as fast as the rest  # noqa: B018
    service.follow_in_background()  # re-index while serving: no request waits for the switch
    if settings.transport == "stdio":
        serve_stdio(service)
        return
    from docs_mcp.http import serve_http
    from docs_mcp.terminal import print_serving_banner

    assert sockets is not None
    print_serving_banner(settings, service.info() if service.has_default() else None, service.versions())
    serve_http(service, settings, sockets)


@app.command()
@_errors_to_exit_codes
def search(
    query: Annotated[str, typer.Argument(help="What you are looking for.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=20, help="How many pages.")] = 5,
    prefix: PrefixOption = None,
    kind: Annotated[
        str, typer.Option("--kind", help="prose (pages and sections) or code (code examples).")
    ] = "prose",
    language: Annotated[
        str | None,
        typer.Option(
            "--language", help="With --kind code: only examples in this language (python, bash...)."
        ),
    ] = None,
    collection: CollectionOption = None,
    doc_version: VersionOption = None,
    keyword: KeywordOption = None,
    hypothetical_answer: HypotheticalAnswerOption = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Search the index the same way the search_docs tool does."""
    from docs_mcp.search import DocsService
    from docs_mcp.terminal import print_search

    service = DocsService.from_settings(_settings(db=db, model=model))
    result = service.search(
        query,
        limit,
        prefix,
        kind=kind,  # type: ignore[arg-type]  # checked by the service, with a designed error
        language=language,
        collection=collection,
        version=doc_version,
        keywords=keyword,
        hypothetical_answer=hypothetical_answer,
    )
    if json_output:
        _print_json(result.model_dump(mode="json"))
    else:
        print_search(result)


@app.command()
@_errors_to_exit_codes
def ask(
    question: Annotated[str, typer.Argument(help="The question, in a sentence.")],
    passages: Annotated[
        int, typer.Option("--passages", "-n", min=1, max=8, help="How many sections to answer from.")
    ] = 4,
    collection: CollectionOption = None,
    doc_version: VersionOption = None,
    keyword: KeywordOption = None,
    hypothetical_answer: HypotheticalAnswerOption = None,
    db: DbOption = None,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print the passages that answer a question, each with its citation (ask_docs' extractive
    answer: no model is asked from the command line)."""
    from docs_mcp.ask import extractive, render_answer, retrieve
    from docs_mcp.budget import DEFAULT_MAX_TOKENS
    from docs_mcp.search import DocsService

    service = DocsService.from_settings(_settings(db=db, model=model))
    # The passages are sized as ask_docs sizes them by default; the output itself has no budget.
    retrieval = retrieve(
        service,
        question,
        passages,
        DEFAULT_MAX_TOKENS,
        collection,
        doc_version,
        keywords=keyword,
        hypothetical_answer=hypothetical_answer,
    )
    result = extractive(retrieval, None)
    if json_output:
        _print_json(result.model_dump(mode="json"))
    else:
        typer.echo(render_answer(result))


@app.command("list")
@_errors_to_exit_codes
def list_(
    prefix: PrefixOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=2000, help="Most docs to list.")] = 500,
    collection: CollectionOption = None,
    doc_version: VersionOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the table of contents."""
    from docs_mcp.render import render_tree
    from docs_mcp.search import DocsService

    service = DocsService.from_settings(_settings(db=db), check_model=False)
    tree = service.list_docs(prefix, limit, collection, doc_version)
    if json_output:
        _print_json(tree.model_dump(mode="json"))
    else:
        typer.echo(render_tree(tree))


@app.command()
@_errors_to_exit_codes
def get(
    id: Annotated[str, typer.Argument(help="Doc id, or doc id#anchor for one section.")],
    start_index: Annotated[
        int, typer.Option("--start-index", min=0, help="Character offset to start at.")
    ] = 0,
    max_chars: Annotated[
        int, typer.Option("--max-chars", min=500, max=50_000, help="Most characters to print.")
    ] = 20_000,
    collection: CollectionOption = None,
    doc_version: VersionOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Print a page or one section as Markdown (rendered on a terminal, raw when piped)."""
    from docs_mcp.search import DocsService
    from docs_mcp.terminal import print_page

    service = DocsService.from_settings(_settings(db=db), check_model=False)
    page = service.get_doc(id, start_index, max_chars, collection, doc_version)
    if json_output:
        _print_json(page.model_dump(mode="json"))
    else:
        print_page(page)


@app.command()
@_errors_to_exit_codes
def status(db: DbOption = None, model: ModelOption = None, json_output: JsonOption = False) -> None:
    """Show the published index: version, model, counts."""
    from docs_mcp.search import DocsService

    info = DocsService.from_settings(_settings(db=db, model=model)).info()
    if json_output:
        _print_json(info.model_dump())
    else:
        for key, value in info.model_dump().items():
            typer.echo(f"{key.replace('_', ' ')}: {value}")


@app.command()
@_errors_to_exit_codes
def collections(db: DbOption = None, json_output: JsonOption = False) -> None:
    """List the collections in the index: each one's versions, page counts and default version."""
    from docs_mcp.render import render_collections
    from docs_mcp.search import collection_list
    from docs_mcp.store import IndexStore

    # What list_collections answers, read from the publication logs alone: no model, no snapshot.
    listing = collection_list(IndexStore.from_settings(_settings(db=db)).catalogue())
    if json_output:
        _print_json(listing.model_dump(mode="json", exclude={"size"}))
    else:
        typer.echo(render_collections(listing))


@app.command("config")
@_errors_to_exit_codes
def config_(
    client: Annotated[
        str, typer.Argument(help="claude-desktop, cursor, vscode, windsurf, or generic (mcpServers JSON).")
    ],
    transport: Annotated[
        str,
        typer.Option("--transport", help="stdio: the client launches docs-mcp; http: a running server."),
    ] = "stdio",
    url: Annotated[
        str | None,
        typer.Option("--url", help="The HTTP server's MCP endpoint. [default: http://HOST:PORT/mcp]"),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The server's name in the client.")] = "docs",
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="The HTTP server's bearer token, sent by the client. [env: DOCS_MCP_TOKEN]"
        ),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
) -> None:
    """Print the JSON that connects an MCP client to docs-mcp, with absolute paths.

    The JSON goes to stdout; where to put it goes to stderr."""
    from docs_mcp.clients import client_config
    from docs_mcp.config import find_config

    settings = _settings(db=db, model=model, token=token)
    source = find_config(_global_options.get("config"))
    snippet, note = client_config(client, settings, transport, url, name, source)
    typer.echo(snippet)
    typer.echo(note, err=True)


export_app = typer.Typer(help="Write the indexed docs in other formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("llms-txt")
@_errors_to_exit_codes
def export_llms_txt(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write llms.txt and llms-full.txt into.")
    ] = Path("."),
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="Prefix for page links, e.g. https://docs.example.com/ [default: source paths]"
        ),
    ] = None,
    collection: CollectionOption = None,
    doc_version: VersionOption = None,
    db: DbOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write llms.txt (an index of every page) and llms-full.txt (every page's Markdown)."""
    from docs_mcp.search import DocsService

    service = DocsService.from_settings(_settings(db=db), check_model=False)
    index, full = service.export(base_url, collection, doc_version)
    written = {}
    for name, text in (("llms.txt", index), ("llms-full.txt", full)):
        target = out / name
        try:
            out.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as error:
            raise ConfigError(
                f"cannot write {target}: {error.strerror}; pass --out with a writable folder"
            ) from None
        written[name] = {"path": str(target.absolute()), "bytes": len(text.encode("utf-8"))}
    if json_output:
        _print_json(written)
    else:
        for info in written.values():
            typer.echo(f"wrote {info['path']} ({info['bytes']:,} bytes)")


@app.command()
@_errors_to_exit_codes
def doctor(
    db: DbOption = None,
    model: ModelOption = None,
    transport: Annotated[
        str | None, typer.Option("--transport", help="Also check the HTTP port with 'http'.")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="HTTP bind address to check.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port to check.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Check the installation, model, configuration file, index and port; say how to fix each problem.

    Exits 1 when a check fails."""
    from docs_mcp.doctor import run_checks
    from docs_mcp.terminal import print_checks

    checks = run_checks(
        _global_options.get("config"), db=db, model=model, transport=transport, host=host, port=port
    )
    if json_output:
        _print_json([check.as_dict() for check in checks])
    else:
        print_checks(checks)
    if any(check.failed for check in checks):
        raise typer.Exit(code=1)


@app.command("eval")
@_errors_to_exit_codes
def eval_(
    labels: Annotated[
        Path, typer.Argument(help="JSONL: one {'query': ..., 'relevant': [path, ...]} per line.")
    ],
    corpus: Annotated[Path, typer.Option("--corpus", help="The corpus the label paths are relative to.")],
    db: DbOption = None,
    model: ModelOption = None,
    mode: Annotated[str, typer.Option("--mode", help="hybrid, vector, fts, or all side by side.")] = "all",
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="Also report per value of this label field.")
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    per_query: Annotated[
        Path | None, typer.Option("--per-query", help="Write each query's ranking here (JSONL).")
    ] = None,
    expansions: Annotated[
        Path | None,
        typer.Option(
            "--expansions",
            help="JSONL of {'query', 'keywords', 'hypothetical_answer'}: an assistant's expansions of "
            "the labelled queries (or put those fields on the label lines).",
        ),
    ] = None,
) -> None:
    """Measure retrieval on labelled questions (hit@k, MRR@10, nDCG@10 with 95% intervals).

    The corpus is indexed first if the index is missing or stale, then every query runs
    through the same search as the search_docs tool. When the labels carry keywords or a
    hypothetical answer, the report adds the guided search, and a control that gives each
    question another question's expansions, each against the bare query."""
    from docs_mcp.embed import FastEmbedder
    from docs_mcp.evaluation import (
        evaluate,
        evaluate_guided,
        load_labels,
        parse_modes,
        with_expansions,
        write_per_query,
    )
    from docs_mcp.indexer import index_corpus
    from docs_mcp.search import DocsService
    from docs_mcp.store import IndexStore
    from docs_mcp.terminal import print_eval_report

    settings = _settings(corpus=corpus, db=db, model=model)
    modes = parse_modes(mode)
    label_set = load_labels(labels, group_by)
    if expansions is not None:
        label_set = with_expansions(label_set, expansions)
    embedder = FastEmbedder(
        settings.model, settings.cache_dir, threads=settings.embedding_threads_for_indexing
    )
    store = IndexStore.from_settings(settings)
    report = index_corpus(settings.corpus, store, embedder)
    if report.published:
        typer.echo(f"indexed {settings.corpus}: {report.chunks_embedded} chunks embedded", err=True)
    service = DocsService(store, lambda: embedder, model=settings.model)
    metrics, outcomes = evaluate(service, label_set, modes)
    if any(label.guided for label in label_set):
        metrics["guided"], runs = evaluate_guided(service, label_set, outcomes.get("hybrid"))
        outcomes.update({"guided": runs["guided"], "control": runs["control"]})
    metrics["labels"] = str(labels)
    metrics["index_version"] = service.info().index_version
    print_eval_report(metrics)
    if json_file is not None:
        json_file.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    if per_query is not None:
        write_per_query(per_query, outcomes)
