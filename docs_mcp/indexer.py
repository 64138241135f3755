"""corpus -> markdown -> chunking (and code examples) -> embed -> store, incrementally, with a report."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from docs_mcp.chunking import TokenCounter, chunk_document
from docs_mcp.codeblocks import CodeUnit, code_units
from docs_mcp.collection import version_key
from docs_mcp.config import bundled_corpus
from docs_mcp.embed import Embedder
from docs_mcp.errors import CorpusError, CorpusMismatchError, DocsMcpError, IndexStateError
from docs_mcp.formats import SOURCE_SUFFIXES
from docs_mcp.markdown import parse_markdown
from docs_mcp.models import Chunk, ParsedDoc
from docs_mcp.sources.folder import Skipped, SourceFile, corpus_fingerprint, walk_corpus
from docs_mcp.store import INDEX_FORMAT, IndexStore, PublishedRows

log = logging.getLogger(__name__)

# Part of every content hash: bump it when parsing or chunking changes, so the
# next run re-embeds everything instead of keeping chunks cut the old way.
PIPELINE_VERSION = "3"


@dataclass
class IndexReport:
    corpus: str
    db: str
    collection: str = "default"
    version: str | None = None
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks_embedded: int = 0
    # Chunks of added or changed files that another version of the collection already held with the
    # same text: copied with their vectors, not embedded again (see _same_docs_elsewhere).
    chunks_reused: int = 0
    code_embedded: int = 0  # code examples embedded (see codeblocks.py), besides the chunks
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # damage found in the index, and its repair
    index_version: int | None = None
    origin: dict[str, str] = field(default_factory=dict)  # where a git source's docs came from
    published: bool = False
    rebuilt: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "db": self.db,
            "collection": self.collection,
            "version": self.version,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "unchanged": self.unchanged,
            "chunks_embedded": self.chunks_embedded,
            "chunks_reused": self.chunks_reused,
            "code_embedded": self.code_embedded,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": self.warnings,
            "repaired": self.repaired,
            "index_version": self.index_version,
            **({"origin": self.origin} if self.origin else {}),
            "published": self.published,
            "rebuilt": self.rebuilt,
            "seconds": round(self.seconds, 2),
        }


class ProgressSink(Protocol):
    """What the indexer reports while it works; the CLI draws a bar from it."""

    def start(self, total_chunks: int) -> None: ...

    def advance(self, chunks: int) -> None: ...


class _NoProgress:
    def start(self, total_chunks: int) -> None:
        pass

    def advance(self, chunks: int) -> None:
        pass


def content_hash(source: SourceFile, model: str) -> str:
    key = f"{PIPELINE_VERSION}\0{model}\0{source.path}\0{source.content_hash}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PreparedDoc:
    """One source, parsed and cut: what the indexer embeds and stores for it."""

    doc: ParsedDoc
    chunks: list[Chunk]
    examples: list[CodeUnit]


def prepare(source: SourceFile, count_tokens: TokenCounter, max_tokens: int) -> PreparedDoc | Skipped:
    """Parse, chunk and find the code examples of one source (linear in its text), or the file
    skipped with the reason when anything in it fails: a bug met by one page costs that page,
    never the run (`--log-level DEBUG` shows the traceback)."""
    try:
        doc = parse_markdown(source.text, source.doc_id, source.path)
        return PreparedDoc(doc, chunk_document(doc, count_tokens, max_tokens), code_units(doc))
    except Exception as error:
        log.debug("%s could not be parsed", source.path, exc_info=True)
        return Skipped(source.path, f"could not be parsed ({type(error).__name__}: {str(error)[:200]})")


def index_corpus(
    root: Path,
    store: IndexStore,
    embedder: Embedder,
    progress: ProgressSink | None = None,
    clock: Callable[[], float] = time.perf_counter,
    source: str | None = None,
    replace: bool = False,
    origin: Mapping[str, str] | None = None,
) -> IndexReport:
    """Index `root` into `store`: embed what changed, publish, report.

    `source` names where the docs come from (default: the folder's absolute path; a remote
    source's URL). An index built from another source is replaced only with `replace`: the
    demo (docs-mcp's own docs) never takes a user's index, and a mistyped path or a config file
    picked up from the wrong folder never empties one. `origin` is what readers may cite about
    the source (a git source's repository, ref, commit and path): published with the version,
    and a new origin is published even when no file changed (a commit that touched no doc)."""
    started = clock()
    source = source or str(root.resolve())
    recorded_origin = json.dumps(dict(origin), sort_keys=True) if origin else ""
    progress = progress or _NoProgress()
    report = IndexReport(
        corpus=str(root),
        db=store.uri,
        collection=store.scope.collection,
        version=store.scope.version,
        origin=dict(origin or {}),
    )
    sources: dict[str, SourceFile] = {}
    for item in walk_corpus(root):
        if isinstance(item, Skipped):
            report.skipped.append(item)
        elif item.doc_id in sources:
            kept = sources[item.doc_id].path
            report.skipped.append(
                Skipped(
                    item.path,
                    f"same doc id as {kept} ({item.doc_id!r}); {kept} was indexed, "
                    "rename or remove one of the two",
                )
            )
        else:
            sources[item.doc_id] = item
    if not sources:
        raise CorpusError(
            f"no Markdown files ({', '.join(SOURCE_SUFFIXES)}) found under {root}; nothing was indexed"
        )

    with store.writer(embedder.name, embedder.dim, source, recorded_origin) as writer:
        previous_source = writer.previous.corpus if writer.previous else ""
        moved = previous_source not in ("", source)
        if moved:
            if not (replace or _is_bundled_docs(previous_source)):
                raise CorpusMismatchError(
                    f"the index at {store.uri}{_in_scope(store)} holds the docs of {previous_source}, "
                    f"not {source}; to keep them, index into another place (--db DIR, or --collection "
                    "NAME); to replace them, run again with --replace"
                )
            report.warnings.append(f"replaced the docs of {previous_source} in this index")
        report.rebuilt = writer.rebuild and (writer.previous is not None or writer.needs_publishing)
        report.repaired = list(writer.repairs)
        existing = writer.existing_hashes()
        hashes = {doc_id: content_hash(src, embedder.name) for doc_id, src in sources.items()}
        report.removed = sorted(set(existing) - set(sources))
        for doc_id in sorted(sources):
            if doc_id not in existing:
                report.added.append(doc_id)
            elif existing[doc_id] != hashes[doc_id]:
                report.changed.append(doc_id)
            else:
                report.unchanged += 1
        to_embed = report.added + report.changed
        new_origin = recorded_origin != (writer.previous.origin if writer.previous else "")
        reused = _same_docs_elsewhere(store, embedder, {doc_id: hashes[doc_id] for doc_id in to_embed})
        reused_ids = {row["id"] for row in reused.docs}
        prepared = []
        for doc_id in to_embed:
            if doc_id in reused_ids:
                continue
            outcome = prepare(sources[doc_id], embedder.count_tokens, embedder.max_tokens)
            if isinstance(outcome, Skipped):
                # Skipped like an unreadable file: out of this version, with the reason.
                report.skipped.append(outcome)
                if doc_id in existing:
                    report.changed.remove(doc_id)
                    report.removed.append(doc_id)
                else:
                    report.added.remove(doc_id)
                continue
            prepared.append(outcome)
            report.warnings.extend(f"{outcome.doc.path}: {w}" for w in outcome.doc.warnings)
        # Nothing new to publish: nothing changed, or every changed file was skipped.
        if (
            not prepared
            and not reused_ids
            and not report.removed
            and not moved
            and not new_origin
            and not writer.needs_publishing
        ):
            report.index_version = writer.previous.seq if writer.previous else None
            report.seconds = clock() - started
            return report
        parsed = [p.doc for p in prepared]
        chunks = [chunk for p in prepared for chunk in p.chunks]
        examples = [unit for p in prepared for unit in p.examples]
        progress.start(len(chunks) + len(examples))
        # One call for both, so the progress bar and the batches run through once.
        texts = [c.embedding_text for c in chunks] + [u.embedding_text for u in examples]
        vectors = embedder.embed_documents(texts, progress.advance)
        report.chunks_embedded = len(chunks)
        report.code_embedded = len(examples)

        report.chunks_reused = len(reused.chunks)
        report.removed.sort()

        writer.remove_docs(report.removed + report.changed)
        writer.add_docs([_doc_row(doc, hashes[doc.id]) for doc in parsed] + reused.docs)
        writer.add_chunks(
            [_chunk_row(c, v) for c, v in zip(chunks, vectors[: len(chunks)], strict=True)] + reused.chunks
        )
        writer.add_code(
            [_code_row(u, v) for u, v in zip(examples, vectors[len(chunks) :], strict=True)] + reused.code
        )
        publication = writer.publish()
        report.index_version = publication.seq
        report.published = True
    report.seconds = clock() - started
    return report


def _same_docs_elsewhere(store: IndexStore, embedder: Embedder, wanted: Mapping[str, str]) -> PublishedRows:
    """The rows of the `wanted` docs (id -> content hash) that another published version of this
    collection holds with exactly that hash (the same text at the same path, by the same model and
    pipeline): a release mostly repeats the one before it, so its unchanged pages are copied with
    their vectors instead of being embedded again. Newest versions are asked first."""
    found = PublishedRows()
    if store.scope.is_default or not wanted:
        return found
    remaining = dict(wanted)
    others = [
        scope
        for scope, publication in store.catalogue().items()
        if scope.collection == store.scope.collection
        and scope != store.scope
        and (publication.model, publication.dim, publication.format)
        == (embedder.name, embedder.dim, INDEX_FORMAT)
    ]
    for scope in sorted(others, key=lambda s: version_key(s.version or ""), reverse=True):
        other = store.scoped(scope)
        try:
            same = [
                doc_id
                for doc_id, digest in other.published_hashes().items()
                if remaining.get(doc_id) == digest
            ]
            rows = other.published_rows(same)
        except IndexStateError as error:  # only a saving: a version that cannot be read is not asked
            log.warning("not reusing the chunks of %s: %s", scope.label, error)
            continue
        found.docs += rows.docs
        found.chunks += rows.chunks
        found.code += rows.code
        for doc_id in same:
            remaining.pop(doc_id)
        if not remaining:
            break
    return found


def _is_bundled_docs(source: str) -> bool:
    """Whether `source` is docs-mcp's own documentation (a demo, replaced without asking)."""
    path = Path(source)
    return path == bundled_corpus().resolve() or path.parts[-2:] == ("docs_mcp", "_corpus")


def _in_scope(store: IndexStore) -> str:
    scope = store.scope
    return "" if scope.is_default else f" (collection {scope.collection}, version {scope.version})"


def _doc_row(doc: ParsedDoc, digest: str) -> dict[str, Any]:
    outline = [[h.level, h.text, h.anchor, h.start, h.end] for h in doc.headings]
    return {
        "id": doc.id,
        "title": doc.title,
        "path": doc.path,
        "order": doc.order,
        "description": doc.description,
        "sidebar_label": doc.sidebar_label,
        "tags": list(doc.tags),
        "body": doc.source,
        "content_hash": digest,
        "outline": json.dumps(outline, ensure_ascii=False),
    }


def _chunk_row(chunk: Chunk, vector: Any) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "anchor": chunk.anchor,
        "heading_path": " > ".join(chunk.heading_path),
        "text": chunk.text,
        "search_text": chunk.embedding_text,
        "start": chunk.start,
        "end": chunk.end,
        "vector": vector,
    }


def _code_row(unit: CodeUnit, vector: Any) -> dict[str, Any]:
    return {
        "id": unit.id,
        "doc_id": unit.doc_id,
        "anchor": unit.anchor,
        "heading_path": " > ".join(unit.heading_path),
        "language": unit.language,
        "code": unit.code,
        "context": unit.context,
        "line": unit.line,
        "search_text": unit.embedding_text,
        "vector": vector,
    }


# How often --watch looks at the corpus; a change is indexed once two looks agree,
# so an editor's save-in-several-writes is indexed once, within about a second.
WATCH_INTERVAL_SECONDS = 0.5


def watch_corpus(
    root: Path,
    store: IndexStore,
    embedder: Embedder,
    on_report: Callable[[IndexReport], None],
    on_error: Callable[[DocsMcpError], None],
    stop: Callable[[], bool],
    interval: float = WATCH_INTERVAL_SECONDS,
) -> None:
    """Re-index `root` whenever its files change, until `stop()` is true.

    A run that fails (the corpus emptied, the index locked by another indexer) is
    reported and the watch goes on: the previous version keeps serving meanwhile.
    """
    indexed = corpus_fingerprint(root)
    while not stop():
        time.sleep(interval)
        current = corpus_fingerprint(root)
        if current == indexed:
            continue
        time.sleep(interval)
        if corpus_fingerprint(root) != current:
            continue  # still being written: look again next round
        indexed = current
        try:
            on_report(index_corpus(root, store, embedder))
        except DocsMcpError as error:
            on_error(error)
