"""Index sources: every version of one source (`docs-mcp index`), or every configured source
(`docs-mcp sync`), each version published, verified and retired on its own.

A source (docs_mcp/sources/) brings each version's documents into a folder; this module
asks the index what is published, indexes each folder with the ordinary indexer, and
reports per source: the rows `docs-mcp sync` prints, the exit code it chooses. One
source failing never stops the others: what succeeded is published, and the failure is
named.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docs_mcp.collection import Scope
from docs_mcp.errors import DocsMcpError
from docs_mcp.indexer import PIPELINE_VERSION, IndexReport, ProgressSink, content_hash, index_corpus
from docs_mcp.models import read_origin
from docs_mcp.sources import DocSource, SourceSpec, open_source
from docs_mcp.sources.folder import SourceFile, walk_corpus
from docs_mcp.store import INDEX_FORMAT, IndexStore

if TYPE_CHECKING:
    from docs_mcp.config import Settings
    from docs_mcp.embed import Embedder


class ModelLoader:
    """The embedding model, loaded on a thread once something needs it: `start()` early to load it
    while other work runs (a folder is read, pages download); never started, never loaded (a sync
    whose git refs did not move embeds nothing and needs no model)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._result: Embedder | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._load, name="docs-mcp-model")
                self._thread.start()

    def _load(self) -> None:
        from docs_mcp.embed import FastEmbedder

        settings = self._settings
        try:
            self._result = FastEmbedder(
                settings.model, settings.cache_dir, threads=settings.embedding_threads_for_indexing
            )
        except BaseException as error:  # re-raised in the thread that asks for the model
            self._error = error

    def __call__(self) -> Embedder:
        self.start()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def wait(self) -> None:
        """Let a started load finish (so the process never exits under it)."""
        if self._thread is not None:
            self._thread.join()


def recorded_origin(origin: Mapping[str, str]) -> dict[str, str]:
    """The origin a version is published with: the source's, and the pipeline that indexed it,
    so a new docs-mcp that chunks differently re-indexes a commit it has seen before."""
    return {**origin, "pipeline": PIPELINE_VERSION} if origin else {}


class IndexedVersions:
    """What the index holds (its catalogue, read once per run), as sources ask about it."""

    def __init__(self, store: IndexStore, model: str) -> None:
        self.store = store
        self.catalogue = store.catalogue()
        self.model = model

    def is_current(self, scope: Scope, label: str, origin: Mapping[str, str]) -> bool:
        publication = self.catalogue.get(scope)
        return (
            publication is not None
            and bool(origin)
            and publication.corpus == label
            and publication.model == self.model
            and publication.format == INDEX_FORMAT
            and read_origin(publication.origin) == recorded_origin(origin)
        )

    def origins(self, collection: str, label: str) -> dict[str, dict[str, str]]:
        return {
            scope.version: read_origin(publication.origin)
            for scope, publication in self.catalogue.items()
            if scope.collection == collection
            and scope.version is not None
            and publication.corpus == label
            and publication.origin
        }

    def changes(self, scope: Scope, root: Path) -> str:
        publication = self.catalogue.get(scope)
        published = {}
        if publication is not None and publication.model == self.model and publication.format == INDEX_FORMAT:
            published = self.store.scoped(scope).published_hashes()
        found = {
            item.doc_id: content_hash(item, self.model)
            for item in walk_corpus(root)
            if isinstance(item, SourceFile)
        }
        added = len(found.keys() - published.keys())
        removed = len(published.keys() - found.keys())
        changed = sum(1 for doc_id in found.keys() & published.keys() if found[doc_id] != published[doc_id])
        unchanged = len(found) - added - changed
        if not (added or changed or removed):
            return f"up to date ({unchanged} files unchanged in {root})"
        return (
            f"would index {root}: {added} added, {changed} changed, {removed} removed, {unchanged} unchanged"
        )


@dataclass
class SourceRun:
    """What one source's run did: a report per version, and what stopped it, if anything."""

    source: str  # the source's label: a folder, a URL (never a credential)
    kind: str
    reports: list[IndexReport] = field(default_factory=list)
    fetched: list[Any] = field(default_factory=list)  # a website's remote.SyncReport
    notes: list[str] = field(default_factory=list)
    failures: list[tuple[Scope, str]] = field(default_factory=list)  # versions not indexed, and why
    error: str | None = None  # the source as a whole failed (nothing of it was changed)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.failures)

    def failure_message(self) -> str:
        """Why the run failed, in one line: the source's error, or each failed version's."""
        if self.error is not None:
            return self.error
        if self.kind != "git":  # one version: its error as it is
            return "; ".join(message for _, message in self.failures)
        return "; ".join(f"{scope.label}: {message}" for scope, message in self.failures)

    @property
    def incomplete(self) -> bool:
        """Published, but without some files or pages (listed in the reports)."""
        return any(r.skipped for r in self.reports) or any(f.failed for f in self.fetched)

    def totals(self) -> dict[str, int]:
        return {
            "added": sum(len(r.added) for r in self.reports),
            "changed": sum(len(r.changed) for r in self.reports),
            "removed": sum(len(r.removed) for r in self.reports),
            "unchanged": sum(r.unchanged for r in self.reports),
            "chunks_embedded": sum(r.chunks_embedded for r in self.reports),
            "chunks_reused": sum(r.chunks_reused for r in self.reports),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            **self.totals(),
            "versions": [r.as_dict() for r in self.reports],
            "fetched": [f.as_dict() for f in self.fetched],
            "notes": self.notes,
            "failures": [
                {"collection": scope.collection, "version": scope.version, "error": message}
                for scope, message in self.failures
            ],
            "error": self.error,
            "seconds": round(self.seconds, 2),
        }


def index_source(
    source: DocSource,
    store: IndexStore,
    embedder: Callable[[], Embedder],
    model: str,
    progress: ProgressSink | None = None,
    replace: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> SourceRun:
    """Index every version `source` yields. A version that fails is recorded and the next one goes
    on; a failure of the source itself (its listing, its fetch) raises, with nothing changed."""
    started = clock()
    run = SourceRun(source.label, source.kind)
    published = IndexedVersions(store, model)
    checkouts = source.checkouts(published)
    with contextlib.closing(checkouts):  # type: ignore[type-var]  # a generator: releases its lock
        for checkout in checkouts:
            if checkout.fetched is not None:
                run.fetched.append(checkout.fetched)
            if checkout.error is not None:
                run.failures.append((checkout.scope, checkout.error))
                continue
            if checkout.root is None:
                run.reports.append(
                    _current_report(store, checkout.scope, source.label, checkout.origin, published)
                )
                continue
            try:
                report = index_corpus(
                    checkout.root,
                    store.scoped(checkout.scope),
                    embedder(),
                    progress,
                    clock=clock,
                    source=checkout.label,
                    replace=replace,
                    origin=recorded_origin(checkout.origin) or None,
                )
            except DocsMcpError as error:
                run.failures.append((checkout.scope, str(error)))
                continue
            if checkout.origin:
                report.corpus = checkout.label  # not the cache folder it was checked out in
                report.origin = dict(checkout.origin)
            report.skipped.extend(checkout.skipped)
            run.reports.append(report)
    run.notes = list(source.notes)
    run.seconds = clock() - started
    return run


def _current_report(
    store: IndexStore, scope: Scope, label: str, origin: Mapping[str, str], published: IndexedVersions
) -> IndexReport:
    """The report of a version whose published docs are current: nothing read, nothing embedded."""
    publication = published.catalogue[scope]
    return IndexReport(
        corpus=label,
        db=store.uri,
        collection=scope.collection,
        version=scope.version,
        unchanged=publication.docs,
        index_version=publication.seq,
        origin=dict(origin),
    )


def sync_sources(
    specs: list[SourceSpec],
    settings: Settings,
    store: IndexStore,
    embedder: ModelLoader,
    progress: ProgressSink | None = None,
) -> list[SourceRun]:
    """Index every source in turn; a source that fails is recorded and the next one goes on."""
    runs = []
    for spec in specs:
        started = time.perf_counter()
        try:
            source = open_source(spec, settings)
        except DocsMcpError as error:
            runs.append(SourceRun(spec.shown, spec.kind, error=str(error)))
            continue
        if source.kind != "git":
            embedder.start()  # it will be needed: load it while the folder is read or pages download
        try:
            runs.append(index_source(source, store, embedder, settings.model, progress))
        except DocsMcpError as error:
            run = SourceRun(source.label, source.kind, error=str(error), notes=list(source.notes))
            run.seconds = time.perf_counter() - started
            runs.append(run)
    return runs


def plan_sources(
    specs: list[SourceSpec], settings: Settings, store: IndexStore
) -> list[tuple[str, list[str]]]:
    """What `sync --dry-run` prints: per source, what a run would do (nothing is fetched or written)."""
    published = IndexedVersions(store, settings.model)
    plans = []
    for spec in specs:
        try:
            source = open_source(spec, settings)
            plans.append((source.label, source.plan(published) + list(source.notes)))
        except DocsMcpError as error:
            plans.append((spec.shown, [f"error: {error}"]))
    return plans
