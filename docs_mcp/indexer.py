"""corpus -> markdown -> chunking (and code examples) -> embed -> store, incrementally, with a report."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docs_mcp.chunking import TokenCounter, chunk_document
from docs_mcp.codeblocks import CodeUnit, code_units
from docs_mcp.corpus import Skipped, SourceFile, corpus_fingerprint, walk_corpus
from docs_mcp.embed import Embedder
from docs_mcp.errors import CorpusError, DocsMcpError
from docs_mcp.formats import SOURCE_SUFFIXES
from docs_mcp.markdown import parse_markdown
from docs_mcp.models import Chunk, ParsedDoc
from docs_mcp.store import IndexStore

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
    code_embedded: int = 0  # code examples embedded (see codeblocks.py), besides the chunks
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # damage found in the index, and its repair
    index_version: int | None = None
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
            "code_embedded": self.code_embedded,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": self.warnings,
            "repaired": self.repaired,
            "index_version": self.index_version,
            "published": self.published,
            "rebuilt": self.rebuilt,
            "seconds": round(self.seconds, 2),
        }


class ProgressSink:
    """What the indexer reports while it works; the CLI draws a bar from it."""

    def start(self, total_chunks: int) -> None: ...

    def advance(self, chunks: int) -> None: ...


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
) -> IndexReport:
    started = clock()
    progress = progress or ProgressSink()
    report = IndexReport(
        corpus=str(root), db=store.uri, collection=store.scope.collection, version=store.scope.version
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

    with store.writer(embedder.name, embedder.dim) as writer:
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
        prepared = []
        for doc_id in report.added + report.changed:
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
        if not prepared and not report.removed and not writer.needs_publishing:
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

        report.removed.sort()
        writer.remove_docs(report.removed + report.changed)
        writer.add_docs([_doc_row(doc, hashes[doc.id]) for doc in parsed])
        writer.add_chunks([_chunk_row(c, v) for c, v in zip(chunks, vectors[: len(chunks)], strict=True)])
        writer.add_code([_code_row(u, v) for u, v in zip(examples, vectors[len(chunks) :], strict=True)])
        publication = writer.publish()
        report.index_version = publication.seq
        report.published = True
    report.seconds = clock() - started
    return report


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
