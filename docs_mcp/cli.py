"""The `docs-mcp` command: parse, call the service, translate errors to exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from docs_mcp import __version__
from docs_mcp.config import Settings
from docs_mcp.errors import ConfigError, DocsMcpError, is_out_of_space

# Exit codes (corpus/reference/cli.md#exit-codes): 0 success; 1 an error, whose one line on stderr
# says what to do; 2 a usage error (an unknown option, a missing argument: the parser's own code);
# 3 `docs-mcp index` published the index but skipped files it could not read, or (for a remote
# source) pages it could not download (listed on stderr); 130 interrupted.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_SKIPPED_FILES = 3

app = typer.Typer(
    name="docs-mcp",
    help="Index a folder of Markdown docs and serve it to AI assistants over MCP.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # Help is plain text: with Rich markup, "[env: DOCS_MCP_DB]" or "[tool.docs-mcp]" in a help
    # string is taken for a style tag and silently dropped.
    rich_markup_mode=None,
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
ReplaceOption = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Replace the docs of another folder or site that this index (or collection version) "
        "was built from. Without it, indexing other docs into it is refused, so nothing is lost.",
    ),
]
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
            from docs_mcp.render import cli_message  # the service names tool calls; say commands

            typer.echo(f"error: {cli_message(str(error))}", err=True)
            raise typer.Exit(code=EXIT_ERROR) from None
        except OSError as error:  # a full disk anywhere (a cache, a mirror): one line, not a traceback
            if not is_out_of_space(error):
                raise
            where = f" ({error.filename})" if error.filename else ""
            typer.echo(
                f"error: no space left on the disk{where}: {error.strerror}; free some space and run again",
                err=True,
            )
            raise typer.Exit(code=EXIT_ERROR) from None
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


@app.command(short_help="Build or update the index from a docs folder, a website or a git repository.")
@_errors_to_exit_codes
def index(
    path: Annotated[
        str | None,
        typer.Argument(
            help="Folder of Markdown docs; the http(s) URL of an llms.txt or sitemap.xml whose pages "
            "are downloaded and indexed; or a git repository: git+https://, git+ssh://, git+git:// or "
            "git+file:// URL. [env: DOCS_MCP_CORPUS; default: docs-mcp's own docs]",
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
            help="Index into this named collection (its own tables in the same index), not the default "
            "one. [default for a git repository: its name]",
        ),
    ] = None,
    doc_version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="The version of the collection these docs are. [default: latest; for a git repository: "
            "the branch or tag name]",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option("--ref", help="Git: the branch, tag or commit to index. [default: the default branch]"),
    ] = None,
    refs: Annotated[
        str | None,
        typer.Option(
            "--refs",
            help="Git: index every tag matching this glob (quote it: 'v*') as its own version, newest first.",
        ),
    ] = None,
    max_versions: Annotated[
        int | None,
        typer.Option(
            "--max-versions", min=1, help="Git with --refs: only the newest this many tags. [default: 5]"
        ),
    ] = None,
    repo_path: Annotated[
        str | None,
        typer.Option("--path", help="Git: only this folder of the repository is fetched and indexed."),
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
    replace: ReplaceOption = False,
) -> None:
    """Index (or re-index) a folder of Markdown files, the pages an llms.txt, sitemap or URL list
    links to, or a git repository at one or more refs; only changed files are embedded again (and
    only changed pages downloaded, only moved refs fetched)."""
    from docs_mcp.sources import SourceSpec, open_source
    from docs_mcp.sources.folder import FolderSource

    spec = SourceSpec(
        location=path,
        urls_file=urls,
        collection=collection,
        version=doc_version,
        ref=ref,
        refs=refs,
        max_versions=max_versions,
        path=repo_path,
    )
    if watch and spec.kind != "folder":
        raise ConfigError(
            "--watch works on a local folder only; to follow a website or a git repository, run the same "
            "docs-mcp index command again (for example from cron, or `docs-mcp sync`): only what changed "
            "is downloaded and embedded"
        )
    settings = _settings(corpus=path if spec.kind == "folder" else None, db=db, model=model)
    source = open_source(spec, settings)  # bad names and URLs fail before the model loads

    from docs_mcp.store import IndexStore
    from docs_mcp.sync import ModelLoader, index_source
    from docs_mcp.terminal import IndexProgress, print_source_run

    model_loader = ModelLoader(settings)
    if source.kind != "git":
        # The model loads while LanceDB is imported (and pages download): a re-index is mostly
        # start-up time. A git source loads it only when a ref moved: an unmoved one embeds nothing.
        model_loader.start()
    try:
        store = IndexStore.from_settings(settings)
        with IndexProgress(enabled=not json_output and sys.stderr.isatty()) as progress:
            run = index_source(source, store, model_loader, settings.model, progress, replace=replace)
    finally:
        model_loader.wait()
    if run.failed and not run.reports:
        raise DocsMcpError(run.failure_message())
    if json_output:
        if source.kind == "git":
            _print_json(run.as_dict())
        else:
            result = run.reports[0].as_dict() if run.reports else {}
            if run.fetched:
                result["remote"] = run.fetched[0].as_dict()
            _print_json(result)
    else:
        print_source_run(run)
    if run.failed:
        raise DocsMcpError(run.failure_message())
    if watch:
        assert isinstance(source, FolderSource)
        _watch(source.root, store.scoped(source.scope), model_loader(), json_output)
        return
    if run.incomplete:
        # The index was published without them: a script should notice, a person has the list above.
        raise typer.Exit(code=EXIT_SKIPPED_FILES)


@app.command(short_help="Bring every source listed in the configuration up to date.")
@_errors_to_exit_codes
def sync(
    db: DbOption = None,
    model: ModelOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what each source would do, without fetching content or writing."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Index every source of the configuration ([[sources]] in docs-mcp.toml, [[tool.docs-mcp.sources]]
    in pyproject.toml): folders, websites and git repositories, each into its collection and versions;
    only what changed is fetched and embedded. A source that fails does not stop the others: they
    are published, and the command exits 1 naming the one that failed."""
    from docs_mcp.config import find_config
    from docs_mcp.sources.spec import configured_sources

    config = find_config(_global_options.get("config"))
    specs = configured_sources(config)
    if not specs:
        where = str(config) if config is not None else "no configuration file was found"
        raise ConfigError(
            f"no sources to sync ({where}); list them in docs-mcp.toml, one table each: "
            '[[sources]] source = "docs" collection = "handbook", or source = '
            '"git+https://host/org/repo.git" refs = "v*"'
        )
    settings = _settings(db=db, model=model)

    from docs_mcp.store import IndexStore
    from docs_mcp.sync import ModelLoader, plan_sources, sync_sources
    from docs_mcp.terminal import IndexProgress, print_sync_summary

    store = IndexStore.from_settings(settings)
    if dry_run:
        plans = plan_sources(specs, settings, store)
        if json_output:
            _print_json([{"source": label, "plan": lines} for label, lines in plans])
        else:
            for label, lines in plans:
                typer.echo(label)
                for line in lines:
                    typer.echo(f"  {line}")
        return
    model_loader = ModelLoader(settings)
    try:
        with IndexProgress(enabled=not json_output and sys.stderr.isatty()) as progress:
            runs = sync_sources(specs, settings, store, model_loader, progress)
    finally:
        model_loader.wait()
    if json_output:
        _print_json([run.as_dict() for run in runs])
    else:
        print_sync_summary(runs)
    failed = [run for run in runs if run.failed]
    if failed:
        names = ", ".join(run.source for run in failed)
        typer.echo(
            f"error: {len(failed)} of {len(runs)} sources failed: {names}; the others were published",
            err=True,
        )
        raise typer.Exit(code=EXIT_ERROR)
    if any(run.incomplete for run in runs):
        raise typer.Exit(code=EXIT_SKIPPED_FILES)


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


@app.command(short_help="Serve the index over MCP: stdio, or HTTP at /mcp.")
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
    # The index is opened and checked here; the model and the vectors load on a background thread.
    service = DocsService.from_settings(settings, preload_model=True)
    service.follow_in_background()  # re-index while serving: no request waits for the switch
    if settings.transport == "stdio":
        serve_stdio(service)  # answers `initialize` at once; the first search waits for the model
        return
    service.wait_until_warm()  # the banner shows when the first search is as fast as the rest
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


@app.command(short_help="Print the passages that answer a question, with citations.")
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
        from docs_mcp.render import cli_message

        # Without passages the answer is our own message, not documentation: say it in commands.
        answer = result.answer if result.citations else cli_message(result.answer)
        note = cli_message(result.note) if result.note else None
        typer.echo(render_answer(result.model_copy(update={"answer": answer, "note": note})))


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
    from docs_mcp.render import COMMANDS, render_tree
    from docs_mcp.search import DocsService

    service = DocsService.from_settings(_settings(db=db), check_model=False, preload_vectors=False)
    tree = service.list_docs(prefix, limit, collection, doc_version)
    if json_output:
        _print_json(tree.model_dump(mode="json"))
    else:
        typer.echo(render_tree(tree, COMMANDS))


@app.command(short_help="Print a page or one section as Markdown.")
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

    service = DocsService.from_settings(_settings(db=db), check_model=False, preload_vectors=False)
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

    info = DocsService.from_settings(_settings(db=db, model=model), preload_vectors=False).info()
    if json_output:
        _print_json(info.model_dump())
    else:
        for key, value in info.model_dump().items():
            typer.echo(f"{key.replace('_', ' ')}: {value}")


@app.command(short_help="List the collections (doc sets) and their versions.")
@_errors_to_exit_codes
def collections(db: DbOption = None, json_output: JsonOption = False) -> None:
    """List the collections in the index: each one's versions, page counts and default version."""
    from docs_mcp.render import COMMANDS, render_collections
    from docs_mcp.search import collection_list
    from docs_mcp.store import IndexStore

    # What list_collections answers, read from the publication logs alone: no model, no snapshot.
    listing = collection_list(IndexStore.from_settings(_settings(db=db)).catalogue())
    if json_output:
        _print_json(listing.model_dump(mode="json", exclude={"size"}))
    else:
        typer.echo(render_collections(listing, COMMANDS))


@app.command("config", short_help="Print the JSON that connects an assistant to docs-mcp.")
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

    service = DocsService.from_settings(_settings(db=db), check_model=False, preload_vectors=False)
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


@app.command(short_help="Check install, model, config, index and port; say how to fix.")
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


@app.command("eval", short_help="Measure search quality on labelled questions.")
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
    replace: ReplaceOption = False,
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
    report = index_corpus(settings.corpus, store, embedder, replace=replace)
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
