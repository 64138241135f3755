"""The only code that talks to LanceDB.

Four tables live in one database:

- `docs`: one row per document (metadata, Markdown body, content hash, outline);
- `chunks`: one row per chunk (text, keyword text, vector), with a BM25 index;
- `code`: one row per code example (code, language, context, keyword text,
  vector), with its own BM25 index, searched by `search_docs(kind="code")`;
- `publications`: an append-only log; its newest row names the versions of
  `docs`, `chunks` and `code` that readers must use, and the model that built them.

Those are the default collection's tables. Every other (collection, version) has
its own three, named by `collection.table_name` (`docs--NAME--VERSION`, ...), and is
published, verified and retired on its own by the same rules; an `IndexStore` is
bound to one such scope, and `catalogue()` lists the scopes the database holds.

Publication rule: a writer changes the tables, folds the new rows into the
full-text index, verifies the result, tags the versions, and only then appends
the publication row. Lance commits are atomic, so a reader sees either the old
publication or the new one, never a half-built index; a writer killed at any
point leaves the previous publication serving, and the next writer restores the
tables to it before it starts. Tags keep published versions from being cleaned
up while a reader may still hold them.

Recovery rule: a writer repairs what it finds before it writes. Tables that moved
past the publication are restored to it; a keyword or vector index that cannot be
read is rebuilt (and published even when no document changed); data files that
cannot be read, or a publication log that is missing or unreadable, mean a rebuild
from the corpus. A publication is known by its log's identity (`index_id`, a random
id drawn when a log is started) and its number: numbers continue above every tag a
table holds, so an interrupted run's tags never collide with the next, and a log
started afresh (a deleted log, a deleted and rebuilt folder) has a new identity, so
a server that held the old one's version N never mistakes the new version N for it.

Where the database lives is this module's business alone: `uri` is a local folder
or an object-store URI (`s3://bucket/prefix`, `gs://...`, `az://...`) that LanceDB
reads and writes directly, with `storage_options` merged over the standard AWS_*
variables (see `storage_options_for`). A local folder has an exclusive lock; an
object store has none, so a writer refuses to publish when another writer committed
or published while it ran (one writer at a time, e.g. one CI job).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

os.environ.setdefault("LANCEDB_LOG", "error")  # keeps a Rust deprecation notice off stderr
import docs_mcp._lance_startup  # noqa: F401  # isort: skip  # before lancedb: 0.5 s less start-up
import lancedb
import numpy as np
import pyarrow as pa
from lancedb.background_loop import LOOP
from lancedb.index import FTS, IvfSq
from lancedb.query import MatchQuery

from docs_mcp import __version__
from docs_mcp.collection import DEFAULT_SCOPE, Scope, parse_table_name, table_name
from docs_mcp.config import is_remote
from docs_mcp.errors import (
    ConfigError,
    DocsMcpError,
    IndexLockedError,
    IndexNotFoundError,
    IndexReadError,
    IndexStateError,
    ModelMismatchError,
    StorageFullError,
    is_out_of_space,
)
from docs_mcp.headings import HeadingIndex

if TYPE_CHECKING:
    from docs_mcp.config import Settings

log = logging.getLogger(__name__)

DOCS = "docs"
CHUNKS = "chunks"
CODE = "code"
PUBLICATIONS = "publications"
# Bumped when the tables' layout changes; an index of another format is rebuilt, never misread.
# 3: the code table (and its version and row count in the publication log).
INDEX_FORMAT = 3
KEEP_PUBLICATIONS = 3
# A snapshot holds its chunk vectors in memory while they fit in this many bytes
# (about 350,000 chunks at 384 dimensions); beyond that LanceDB searches them.
IN_MEMORY_VECTOR_BYTES = 512 * 1024 * 1024
# From this many chunks on, publishing builds an approximate vector index (IVF with
# int8 scalar quantisation; the top candidates are re-scored exactly) and readers search
# it instead of holding the vectors in memory. Measured on 160,432 chunks (16 noisy copies
# of the Ray docs' vectors): the exact in-memory product took 23 ms a query, the index
# 8.5 ms at recall@10 0.991 against exact search, built in 7 s. IVF-HNSW-SQ was as fast
# on distinct vectors but fell to recall 0.53 on duplicated ones. Below this size the
# exact product costs under about 8 ms.
ANN_MIN_CHUNKS = 64_000
ANN_ROWS_PER_PARTITION = 2_500
ANN_NPROBES = 24
ANN_REFINE_FACTOR = 5
# A reader may hold a publication this long after a newer one appears (retention_grace_seconds).
RETENTION_GRACE = timedelta(minutes=10)
# optimize() otherwise cleans up versions older than 7 days, tagged ones included (an error).
_NO_CLEANUP = timedelta(days=365 * 100)
_DELETE_BATCH = 500

DOC_COLUMNS = [
    "id",
    "title",
    "path",
    "order",
    "description",
    "sidebar_label",
    "tags",
    "content_hash",
    "outline",
]
CHUNK_COLUMNS = ["id", "doc_id", "anchor", "heading_path", "text", "start", "end"]
CODE_COLUMNS = ["id", "doc_id", "anchor", "heading_path", "language", "code", "context", "line"]
# What a retriever returns per candidate chunk: enough to rank. The rest of a chunk
# is fetched (chunk_details) only for the few that become hits.
CANDIDATE_COLUMNS = ["id", "doc_id"]


def docs_schema() -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("path", pa.string()),
            ("order", pa.float64()),
            ("description", pa.string()),
            ("sidebar_label", pa.string()),
            ("tags", pa.list_(pa.string())),
            ("body", pa.string()),
            ("content_hash", pa.string()),
            ("outline", pa.string()),  # JSON: [[level, text, anchor, start, end], ...]
        ]
    )


def chunks_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("doc_id", pa.string()),
            ("anchor", pa.string()),
            ("heading_path", pa.string()),  # " > "-joined, for display
            ("text", pa.string()),
            ("search_text", pa.string()),  # title + heading path + text: what BM25 sees
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def code_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("doc_id", pa.string()),
            ("anchor", pa.string()),
            ("heading_path", pa.string()),  # " > "-joined, for display
            ("language", pa.string()),  # normalised (codeblocks.normalize_language); "" for none
            ("code", pa.string()),
            ("context", pa.string()),  # the prose right before the fence
            ("line", pa.int64()),  # 1-based line of the opening fence
            ("search_text", pa.string()),  # title + heading path + context + code: what BM25 sees
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


def publications_schema() -> pa.Schema:
    return pa.schema(
        [
            ("seq", pa.int64()),
            ("docs_version", pa.int64()),
            ("chunks_version", pa.int64()),
            ("model", pa.string()),
            ("dim", pa.int64()),
            ("docs", pa.int64()),
            ("chunks", pa.int64()),
            ("published_at", pa.string()),
            ("tool_version", pa.string()),
            ("format", pa.int64()),
            ("code_version", pa.int64()),
            ("code", pa.int64()),
            ("index_id", pa.string()),
            ("corpus", pa.string()),
            ("origin", pa.string()),
        ]
    )


TAG_PREFIX = "pub-"


def _tag_seq(tag: str) -> int | None:
    number = tag.removeprefix(TAG_PREFIX)
    return int(number) if tag.startswith(TAG_PREFIX) and number.isdigit() else None


@dataclass(frozen=True)
class Publication:
    seq: int
    docs_version: int
    chunks_version: int
    model: str
    dim: int
    docs: int
    chunks: int
    published_at: str
    format: int = INDEX_FORMAT
    code_version: int = 0
    code: int = 0  # code examples in the code table
    index_id: str = ""  # the publication log's identity ("" in logs written before it existed)
    corpus: str = ""  # where the docs came from: a folder's absolute path or a site's URL
    # What a reader may cite about that source, as JSON (a git source: repository, ref, commit,
    # path); "" for folders and sites. Written by the indexer, read by sources/ and search.
    origin: str = ""

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.seq}"

    @property
    def identity(self) -> tuple[str, int]:
        """What tells two publications apart, even across a log deleted and started again."""
        return (self.index_id, self.seq)


def _normalised_matrix(vectors: pa.ChunkedArray, dim: int) -> np.ndarray:
    """Unit-length rows for cosine by dot product. Copied once, batch by batch, into the matrix
    that is normalised in place: the vectors are held once, not three times over while loading."""
    matrix = np.empty((len(vectors), dim), dtype=np.float32)
    start = 0
    for batch in vectors.chunks:
        matrix[start : start + len(batch)] = batch.flatten().to_numpy().reshape(len(batch), dim)
        start += len(batch)
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix


def _nearest(
    matrix: np.ndarray, vector: np.ndarray, limit: int, keep: np.ndarray | None
) -> list[tuple[int, float]]:
    """The `limit` rows of a normalised matrix nearest to `vector` by cosine, among the rows
    `keep` marks (all when None), best first, as (row, cosine distance)."""
    query = vector.astype(np.float32) / max(float(np.linalg.norm(vector)), 1e-12)
    return _top_rows(matrix @ query, limit, keep)


def _nearest_each(
    matrix: np.ndarray, vectors: np.ndarray, limit: int, keep: np.ndarray | None
) -> list[list[tuple[int, float]]]:
    """_nearest for several vectors, with one pass over the matrix: a guided search's five
    products took 5 ms one by one on the Ray docs, the matrix being read five times."""
    queries = vectors.astype(np.float32)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    similarities = matrix @ queries.T
    return [_top_rows(similarities[:, column], limit, keep) for column in range(len(queries))]


def _top_rows(similarity: np.ndarray, limit: int, keep: np.ndarray | None) -> list[tuple[int, float]]:
    if keep is not None:
        similarity = np.where(keep, similarity, -np.inf)
    count = min(limit, int(np.isfinite(similarity).sum()))
    if count <= 0:
        return []
    top = np.argpartition(-similarity, count - 1)[:count]
    top = top[np.argsort(-similarity[top], kind="stable")]
    return [(i, 1.0 - float(similarity[i])) for i in top.tolist()]


def sql_string(value: str) -> str:
    """A SQL string literal. Only ever used on ids read back from the index itself."""
    return "'" + value.replace("'", "''") + "'"


def _match(text: str) -> MatchQuery:
    """A BM25 match on the keyword column; the text is a value, never parsed as query syntax."""
    return MatchQuery(text, "search_text")  # type: ignore[call-arg]  # pydantic kw-only defaults


def _fts_each(
    table: Any, texts: Sequence[str], columns: list[str], where: str | None, limit: int
) -> list[pa.Table]:
    """BM25 searches of `table`, one per text, each with `columns`, `_score` and `_rowid`: the
    query the sync API runs (`table.search(_match(text), query_type="fts")`), sent to LanceDB's
    event loop together. On the Ray docs the sync API costs 2.6 ms a query, most of it Python
    around a search of under a millisecond (it reads the schema twice per query), one query at a
    time; sent together, the five texts of a guided search take 5.1 ms instead of 11.6, and one
    query 1.7 ms, with the same rows and scores (tests/test_search.py compares them). The table's
    async half is private in LanceDB 0.40, which pyproject.toml pins."""

    async def search(text: str) -> pa.Table:
        query = table._table.query().nearest_to_text(_match(text)).select([*columns, "_score"]).with_row_id()
        if where:
            query = query.where(where)
        return await query.limit(limit).to_arrow()

    async def searches() -> list[pa.Table]:
        return list(await asyncio.gather(*(search(text) for text in texts)))

    return LOOP.run(searches())


# Where in LanceDB's Rust source an error was raised: noise in a message meant for a person.
_RUST_LOCATION = re.compile(r",?\s*/\S+\.rs:\d+:\d+")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = _RUST_LOCATION.sub("", text)
    return text if len(text) <= 300 else text[:300] + "…"


def _read_every_row(*tables: Any) -> None:
    """Read one small column of every row: raises if a data file the version names is gone."""
    for table in tables:
        table.search().select(["id"]).limit(None).to_arrow()


def _has_vector_index(chunks: Any) -> bool:
    return any("vector" in index.columns for index in chunks.list_indices())


def _in_list(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(sql_string(v) for v in values)})"


def _local_folder(uri: str) -> Path | None:
    """The folder a local index lives in (None for an object store)."""
    if is_remote(uri):
        return None
    return Path(uri.removeprefix("file://")).expanduser()


@dataclass
class PublishedRows:
    """Rows read back from a published version (IndexStore.published_rows), in table layout."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    code: list[dict[str, Any]] = field(default_factory=list)


def _rows(table: Any, where: str, schema: pa.Schema) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        table.search().where(where).select(schema.names).limit(None).to_arrow().to_pylist()
    )
    return rows


def storage_options_for(
    uri: str, explicit: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """LanceDB storage options for `uri`: the explicit ones over what the environment implies.

    LanceDB reads credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    GOOGLE_*, AZURE_STORAGE_*) from the environment itself. This adds the S3 endpoint and
    region from AWS_ENDPOINT_URL(_S3) and AWS_REGION / AWS_DEFAULT_REGION, and allows plain
    HTTP when the endpoint is an http:// URL (a local S3-compatible server)."""
    if not is_remote(uri):
        return dict(explicit or {})
    env = os.environ if environ is None else environ
    options: dict[str, str] = {}
    if uri.split("://", 1)[0] in ("s3", "s3a"):
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint"] = endpoint
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if region:
            options["region"] = region
    options.update(explicit or {})
    if options.get("endpoint", "").startswith("http://"):
        options.setdefault("allow_http", "true")
    return options


def damaged_error(uri: str, error: Exception) -> IndexStateError:
    """What to say when the index's files cannot be read: how to check the store, or rebuild."""
    if is_remote(uri):
        return IndexStateError(
            f"cannot read the index at {uri} ({type(error).__name__}: {_first_line(error)}); "
            "check the bucket, the credentials and the endpoint (AWS_* variables or "
            f"DOCS_MCP_STORAGE_OPTIONS), or rebuild it with `docs-mcp index PATH --db {uri}`"
        )
    return IndexStateError(
        f"the index at {uri} is damaged and cannot be read ({type(error).__name__}); "
        f"rebuild it: delete that folder and run `docs-mcp index PATH --db {uri}`"
    )


class IndexStore:
    """A LanceDB database holding docs indexes, in a local folder or an object store; this object
    reads and writes one scope of it (the default collection unless told otherwise)."""

    def __init__(
        self,
        uri: str,
        storage_options: Mapping[str, str] | None = None,
        retention_grace: timedelta = RETENTION_GRACE,
        body_cache_bytes: int = 0,
        scope: Scope = DEFAULT_SCOPE,
        connection: Any = None,
    ) -> None:
        self.uri = uri
        self.remote = is_remote(uri)
        self.retention_grace = retention_grace
        self.body_cache_bytes = body_cache_bytes
        self.scope = scope
        self.storage_options = storage_options
        self._connection = connection
        if connection is None and self.exists():
            self._connection = self._connect()  # a malformed URI fails here, with the fix

    def exists(self) -> bool:
        """Whether there is anything to read: an object store is asked; a folder must exist."""
        folder = _local_folder(self.uri)
        return folder is None or folder.is_dir()

    @property
    def _db(self) -> Any:
        """The LanceDB connection. Connecting to a local folder creates it, and a read must never
        create anything: for a folder that does not exist yet, only a writer connects."""
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> Any:
        options = storage_options_for(self.uri, self.storage_options)
        try:
            return lancedb.connect(self.uri, storage_options=options or None)
        except Exception as error:  # an unknown scheme, a malformed URI
            raise ConfigError(
                f"cannot open the index at {self.uri}: {_first_line(error)}; pass --db a local folder or an "
                "s3://, gs:// or az:// URI (see DOCS_MCP_STORAGE_OPTIONS for endpoint and credentials)"
            ) from error

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexStore:
        return cls(
            settings.db,
            settings.storage_options,
            retention_grace=timedelta(seconds=settings.retention_grace_seconds),
            body_cache_bytes=settings.body_cache_mb * 1024 * 1024,
        )

    def scoped(self, scope: Scope) -> IndexStore:
        """The same database, bound to another (collection, version); shares the connection."""
        return IndexStore(
            self.uri,
            self.storage_options,
            self.retention_grace,
            self.body_cache_bytes,
            scope=scope,
            connection=self._connection,
        )

    def table(self, kind: str) -> str:
        """This scope's name for a kind of table (DOCS, CHUNKS, PUBLICATIONS, ...)."""
        return table_name(kind, self.scope)

    def _table_names(self) -> list[str]:
        if self._connection is None and not self.exists():
            return []  # nothing indexed yet; asking LanceDB would create the folder
        names: list[str] = []
        token = None
        while True:
            page = self._db.list_tables(page_token=token)
            names += page.tables
            token = page.page_token
            if not token:
                return names

    def _has(self, name: str) -> bool:
        return name in self._table_names()

    def catalogue(self) -> dict[Scope, Publication]:
        """Every published scope in the database with its newest publication, default included."""
        found: dict[Scope, Publication] = {}
        try:
            for name in self._table_names():
                parsed = parse_table_name(name)
                if parsed is None or parsed[0] != PUBLICATIONS:
                    continue
                publication = self.scoped(parsed[1])._latest_publication()
                if publication is not None:
                    found[parsed[1]] = publication
        except Exception as error:  # LanceDB/Arrow/OS errors on damaged files: say how to fix
            raise self._damaged(error) from error
        return found

    def _damaged(self, error: Exception) -> IndexStateError:
        return damaged_error(self.uri, error)

    def latest_publication(self) -> Publication | None:
        try:
            return self._latest_publication()
        except Exception as error:  # LanceDB/Arrow/OS errors on damaged files: say how to fix
            raise self._damaged(error) from error

    def _latest_publication(self) -> Publication | None:
        if not self._has(self.table(PUBLICATIONS)):
            return None
        rows = self._db.open_table(self.table(PUBLICATIONS)).to_arrow().to_pylist()
        if not rows:
            return None
        row = max(rows, key=lambda r: r["seq"])
        row.setdefault("format", 1)  # publications written before the format column existed
        row.setdefault("code_version", 0)  # ... and before the code table existed (format 2)
        row.setdefault("code", 0)
        row["index_id"] = row.get("index_id") or ""  # ... and before logs had an identity
        row["corpus"] = row.get("corpus") or ""  # ... and before the corpus was recorded
        row["origin"] = row.get("origin") or ""  # ... and its origin
        return Publication(**{k: row[k] for k in Publication.__dataclass_fields__})

    def open_snapshot(self, expected_model: str | None = None, load_vectors: bool = True) -> Snapshot:
        publication = self.latest_publication()
        if publication is None:
            if not self.scope.is_default:
                flags = f"--collection {self.scope.collection} --version {self.scope.version}"
                raise IndexNotFoundError(
                    f"{self.scope.label} is not indexed in {self.uri}; "
                    f"run `docs-mcp index PATH {flags} --db {self.uri}` first"
                )
            raise IndexNotFoundError(
                f"no index found at {self.uri}; run `docs-mcp index PATH --db {self.uri}` first"
            )
        if publication.format != INDEX_FORMAT:
            raise IndexStateError(
                f"the index at {self.uri} was built by another version of docs-mcp (format "
                f"{publication.format}, this version reads {INDEX_FORMAT}); "
                "run `docs-mcp index` again to rebuild it"
            )
        if expected_model is not None and publication.model != expected_model:
            raise ModelMismatchError(
                f"the index at {self.uri} was built with model {publication.model!r}, "
                f"not {expected_model!r}; "
                f"pass --model {publication.model} (or DOCS_MCP_MODEL), or re-index with "
                f"`docs-mcp index PATH --model {expected_model}`"
            )
        try:
            docs = self._db.open_table(self.table(DOCS))
            docs.checkout(publication.docs_version)
            chunks = self._db.open_table(self.table(CHUNKS))
            chunks.checkout(publication.chunks_version)
            code = self._db.open_table(self.table(CODE))
            code.checkout(publication.code_version)
            snapshot = Snapshot(
                publication,
                docs,
                chunks,
                code,
                self.body_cache_bytes,
                self.scope,
                where=self.uri,
                load_vectors=load_vectors,
            )
            snapshot.check_readable()
        except IndexStateError:
            raise
        except Exception as error:  # LanceDB/Arrow/OS errors on damaged files: say how to fix
            raise self._damaged(error) from error
        return snapshot

    def published_rows(self, doc_ids: Sequence[str]) -> PublishedRows:
        """Every row of `doc_ids` in this scope's published version, vectors included: what
        another version of the same docs copies instead of embedding the same text again."""
        publication = self.latest_publication()
        found = PublishedRows()
        if publication is None or not doc_ids:
            return found
        try:
            tables = []
            for kind, version in (
                (DOCS, publication.docs_version),
                (CHUNKS, publication.chunks_version),
                (CODE, publication.code_version),
            ):
                table = self._db.open_table(self.table(kind))
                table.checkout(version)
                tables.append(table)
            docs, chunks, code = tables
            for begin in range(0, len(doc_ids), _DELETE_BATCH):
                batch = doc_ids[begin : begin + _DELETE_BATCH]
                found.docs += _rows(docs, _in_list("id", batch), docs_schema())
                found.chunks += _rows(chunks, _in_list("doc_id", batch), chunks_schema(publication.dim))
                if publication.code:
                    found.code += _rows(code, _in_list("doc_id", batch), code_schema(publication.dim))
        except Exception as error:  # LanceDB/Arrow/OS errors on damaged files: say how to fix
            raise self._damaged(error) from error
        return found

    def published_hashes(self) -> dict[str, str]:
        """doc id -> content hash of this scope's published version ({} when nothing is published)."""
        publication = self.latest_publication()
        if publication is None:
            return {}
        try:
            docs = self._db.open_table(self.table(DOCS))
            docs.checkout(publication.docs_version)
            rows = docs.search().select(["id", "content_hash"]).limit(None).to_arrow().to_pylist()
        except Exception as error:  # LanceDB/Arrow/OS errors on damaged files: say how to fix
            raise self._damaged(error) from error
        return {row["id"]: row["content_hash"] for row in rows}

    @contextlib.contextmanager
    def writer(self, model: str, dim: int, corpus: str = "", origin: str = "") -> Iterator[IndexWriter]:
        with _exclusive_lock(self.uri):
            yield IndexWriter(self, model, dim, corpus, origin)


R = TypeVar("R")


def _reads_files(method: Callable[..., R]) -> Callable[..., R]:
    """A Snapshot method that reads the index's files: a failure there (a file deleted or
    truncated under a running server) becomes an IndexReadError that says what happened and
    marks the snapshot damaged, so its follower opens the newest publication again."""

    @functools.wraps(method)
    def reading(self: Snapshot, *args: Any, **kwargs: Any) -> R:
        try:
            return method(self, *args, **kwargs)
        except (OSError, RuntimeError, ValueError) as error:  # what LanceDB and Arrow raise on files
            self.damaged = True
            log.warning("cannot read index version %d at %s: %s", self.version, self.where, error)
            raise IndexReadError(
                f"the index at {self.where} could not be read ({type(error).__name__}: "
                f"{_first_line(error)}): its files changed or disappeared while this server was "
                f"serving version {self.version} (deleted, or rebuilt in place). The server switches "
                "to the next version published there by itself; if no indexer is running, run "
                f"`docs-mcp index PATH --db {self.where}`"
            ) from error

    return reading


class Snapshot:
    """One published, immutable version of the index: what a reader searches.

    While they fit in IN_MEMORY_VECTOR_BYTES, the chunk vectors live in one
    normalised matrix and vector search is an exact matrix-vector product: 0.9 ms
    against LanceDB's ~20 ms flat scan for the 10k chunks of the Ray docs, with
    the same results. Row metadata stays in Arrow buffers and only the top rows
    become Python objects. Larger indexes are searched in LanceDB.

    Bodies read by get_doc are kept, up to `body_cache_bytes`, so a replica reading
    an object store reads each page once per version. The cache lives and dies with
    the snapshot, which is pinned to one publication: it can never serve a stale page.
    """

    def __init__(
        self,
        publication: Publication,
        docs: Any,
        chunks: Any,
        code: Any,
        body_cache_bytes: int = 0,
        scope: Scope = DEFAULT_SCOPE,
        where: str = "",
        load_vectors: bool = True,
    ) -> None:
        self.publication = publication
        self.scope = scope
        self.where = where  # the database's location, for messages
        self.damaged = False  # set when a read failed: the files under this version changed
        self._bodies: dict[str, str] = {}
        self._body_cache_room = body_cache_bytes
        self._body_cache_lock = threading.Lock()
        self._names: _Names | None = None
        self._names_lock = threading.Lock()
        self._docs = docs
        self._chunks = chunks
        self._code = code
        columns = self._docs.search().select(DOC_COLUMNS).limit(None).to_arrow().to_pylist()
        self.docs: dict[str, dict[str, Any]] = {row["id"]: row for row in columns}
        # Docs as small integers: the in-memory vector searches filter rows by doc with np.isin.
        self._doc_number = {doc_id: n for n, doc_id in enumerate(sorted(self.docs))}
        self._code_matrix: np.ndarray | None = None
        self._matrix: np.ndarray | None = None
        self.approximate = _has_vector_index(chunks)
        self._vectors_lock = threading.Lock()
        self._vectors_loaded = False
        if load_vectors:
            self.load_vectors()

    def load_vectors(self) -> None:
        """Hold the vectors in memory while they fit (else they stay in LanceDB): at open for a
        server, at the first search for a command that may only list or read (`docs-mcp get`
        on the Ray docs skips reading 14 MB of vectors it would never use)."""
        if self._vectors_loaded:
            return
        with self._vectors_lock:
            if self._vectors_loaded:
                return
            try:
                self._load_all_vectors()
            except Exception as error:  # LanceDB/Arrow/OS errors on damaged files: say how to fix
                raise damaged_error(self.where, error) from error
            self._vectors_loaded = True

    def _load_all_vectors(self) -> None:
        publication = self.publication
        # How many code examples each language has: the values a language filter may take.
        self._code_languages: dict[str, int] = {}
        if publication.code and publication.code * publication.dim * 4 <= IN_MEMORY_VECTOR_BYTES:
            self._load_code_vectors()
        elif publication.code:
            languages = self._code.search().select(["language"]).limit(None).to_arrow()
            self._code_languages = dict(Counter(languages.column("language").to_pylist()))
        if not self.approximate and publication.chunks * publication.dim * 4 <= IN_MEMORY_VECTOR_BYTES:
            self._load_vectors()

    @property
    def code_languages(self) -> dict[str, int]:
        self.load_vectors()
        return self._code_languages

    def _load_vectors(self) -> None:
        columns = [*CHUNK_COLUMNS, "vector"]
        table = self._chunks.search().select(columns).with_row_id(True).limit(None).to_arrow()
        self._matrix = _normalised_matrix(table.column("vector"), self.publication.dim)
        # Lance row id -> row here, for keyword_search: BM25 then returns row ids alone, and
        # LanceDB skips reading ids back from disk (1.4 ms a query instead of 2.3 on Ray).
        row_ids = table.column("_rowid").to_numpy()
        self._rowid_order = np.argsort(row_ids)
        self._sorted_rowids = row_ids[self._rowid_order]
        # One contiguous chunk per column: taking a hit's row is then 0.03 ms instead of 0.3.
        self._rows = table.drop_columns(["vector", "_rowid"]).combine_chunks()
        del table
        pa.default_memory_pool().release_unused()
        self._row_ids: list[str] = self._rows.column("id").to_pylist()
        self._row_doc_ids: list[str] = self._rows.column("doc_id").to_pylist()
        self._row_number = {chunk_id: n for n, chunk_id in enumerate(self._row_ids)}
        self._row_doc = np.array([self._doc_number[d] for d in self._row_doc_ids], dtype=np.int64)

    def _load_code_vectors(self) -> None:
        """The code examples' vectors as one normalised matrix, like the chunks': an exact product
        instead of a LanceDB flat scan. Row ids are kept for code_details' take_row_ids."""
        columns = ["id", "doc_id", "language", "vector"]
        table = self._code.search().select(columns).with_row_id(True).limit(None).to_arrow()
        self._code_matrix = _normalised_matrix(table.column("vector"), self.publication.dim)
        self._code_ids: list[str] = table.column("id").to_pylist()
        self._code_doc_ids: list[str] = table.column("doc_id").to_pylist()
        self._code_row_ids: list[int] = table.column("_rowid").to_pylist()
        languages = table.column("language").to_pylist()
        self._code_languages = dict(Counter(languages))
        self._code_language_number = {name: n for n, name in enumerate(sorted(self._code_languages))}
        self._code_language = np.array([self._code_language_number[x] for x in languages], dtype=np.int64)
        self._code_doc = np.array([self._doc_number.get(d, -1) for d in self._code_doc_ids], dtype=np.int64)

    def check_readable(self) -> None:
        """Read a body, a chunk and the keyword index once, so damaged files fail at open, not
        mid-answer (with the vectors left for the first search, nothing else reads a chunk)."""
        self._docs.search().select(["body"]).limit(1).to_list()
        self._chunks.search().select(["id"]).limit(1).to_list()
        self._chunks.search(_match("a"), query_type="fts").limit(1).to_list()
        if self.publication.code:
            self._code.search(_match("a"), query_type="fts").limit(1).to_list()

    @property
    def version(self) -> int:
        return self.publication.seq

    @_reads_files
    def body(self, doc_id: str) -> str:
        """The Markdown of a doc whose id is known to be in this snapshot."""
        if doc_id not in self.docs:
            raise KeyError(doc_id)
        cached = self._bodies.get(doc_id)
        if cached is not None:
            return cached
        rows = self._docs.search().where(f"id = {sql_string(doc_id)}").select(["body"]).limit(1).to_list()
        body = str(rows[0]["body"]) if rows else ""
        with self._body_cache_lock:  # filled until full, never evicted: bounded and simple
            if doc_id not in self._bodies and len(body) <= self._body_cache_room:
                self._bodies[doc_id] = body
                self._body_cache_room -= len(body)
        return body

    def _where_docs(self, doc_ids: Sequence[str] | None) -> str | None:
        return None if doc_ids is None else _in_list("doc_id", doc_ids)

    @_reads_files
    def vector_search(
        self, vector: np.ndarray, limit: int, doc_ids: Sequence[str] | None = None
    ) -> list[dict]:
        self.load_vectors()
        if self._matrix is not None:
            return self._vector_search_in_memory(vector, limit, doc_ids)
        query = self._chunks.search(vector, vector_column_name="vector").distance_type("cosine")
        if self.approximate:
            query = query.nprobes(ANN_NPROBES).refine_factor(ANN_REFINE_FACTOR)
        where = self._where_docs(doc_ids)
        if where:
            query = query.where(where, prefilter=True)
        query = query.select([*CANDIDATE_COLUMNS, "_distance"]).with_row_id(True)
        return list(query.limit(limit).to_list())

    def vector_search_each(
        self, vectors: np.ndarray, limit: int, doc_ids: Sequence[str] | None = None
    ) -> list[list[dict]]:
        """vector_search for each row of `vectors` (the texts of one guided search)."""
        if self._matrix is None:
            return [self.vector_search(vector, limit, doc_ids) for vector in vectors]
        keep = None if doc_ids is None else self._of_docs(self._row_doc, doc_ids)
        return [self._chunk_rows(found) for found in _nearest_each(self._matrix, vectors, limit, keep)]

    def _vector_search_in_memory(
        self, vector: np.ndarray, limit: int, doc_ids: Sequence[str] | None
    ) -> list[dict]:
        assert self._matrix is not None
        keep = None if doc_ids is None else self._of_docs(self._row_doc, doc_ids)
        return self._chunk_rows(_nearest(self._matrix, vector, limit, keep))

    def _chunk_rows(self, found: list[tuple[int, float]]) -> list[dict]:
        return [
            {"id": self._row_ids[i], "doc_id": self._row_doc_ids[i], "_distance": distance}
            for i, distance in found
        ]

    def _of_docs(self, row_doc: np.ndarray, doc_ids: Sequence[str]) -> np.ndarray:
        """Which rows (given each row's doc number) belong to one of `doc_ids`."""
        wanted = np.array([self._doc_number[d] for d in doc_ids if d in self._doc_number], dtype=np.int64)
        return np.isin(row_doc, wanted)

    def keyword_search(self, text: str, limit: int, doc_ids: Sequence[str] | None = None) -> list[dict]:
        return self.keyword_search_each([text], limit, doc_ids)[0]

    @_reads_files
    def keyword_search_each(
        self, texts: Sequence[str], limit: int, doc_ids: Sequence[str] | None = None
    ) -> list[list[dict]]:
        """BM25 for each of `texts` (a query, or the texts of one guided search), side by side."""
        self.load_vectors()  # whether hits are read from memory or by row id
        where = self._where_docs(doc_ids)
        if self._matrix is None:
            return [
                found.to_pylist() for found in _fts_each(self._chunks, texts, CANDIDATE_COLUMNS, where, limit)
            ]
        listed = []
        for found in _fts_each(self._chunks, texts, [], where, limit):
            rows = self._rowid_order[np.searchsorted(self._sorted_rowids, found.column("_rowid").to_numpy())]
            listed.append(
                [
                    {"id": self._row_ids[row], "doc_id": self._row_doc_ids[row], "_score": score}
                    for row, score in zip(rows.tolist(), found.column("_score").to_pylist(), strict=True)
                ]
            )
        return listed

    @_reads_files
    def chunk_details(self, candidates: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Every column but the vector, by id, for the candidates a search is about to show."""
        if not candidates:
            return {}
        self.load_vectors()
        if self._matrix is not None:
            rows = [self._row_number[c["id"]] for c in candidates]
            found = self._rows.take(pa.array(rows, type=pa.int64())).to_pylist()
        else:  # by row id: a direct read, where a filter on `id` would scan the table
            row_ids = [int(c["_rowid"]) for c in candidates]
            found = self._chunks.take_row_ids(row_ids).select(CHUNK_COLUMNS).to_list()
        return {row["id"]: row for row in found}

    # -- names: page titles and headings, searched for an assistant's keywords ----------------

    def heading_search(self, text: str, limit: int, doc_ids: Sequence[str] | None = None) -> list[dict]:
        """Pages whose title or headings match `text` (headings.py), best first, each as the
        first chunk of its best-matching section, so it fuses like a chunk search's row."""
        names = self._load_names()
        only = None if doc_ids is None else set(doc_ids)
        rows = []
        for match in names.index.search(text, limit, only):
            row = names.section_chunks.get((match.doc_id, match.anchor))
            row = row or names.first_chunks.get(match.doc_id)
            if row is not None:  # a page with no chunk (empty) cannot be shown
                rows.append(row)
        return rows

    def _load_names(self) -> _Names:
        """Built on the first keyword search of this snapshot (~50 ms for 2,500 pages), then kept."""
        with self._names_lock:
            if self._names is None:
                self._names = _Names.build(self)
            return self._names

    # -- code examples: a small table, searched in LanceDB (flat vector scan, BM25) --------

    def code_filter(self, doc_ids: Sequence[str] | None, language: str | None) -> str | None:
        """A where clause on doc ids and a language, both values read back from this index."""
        clauses = []
        if doc_ids is not None:
            clauses.append(_in_list("doc_id", doc_ids))
        if language is not None:
            if language not in self.code_languages:
                raise KeyError(language)
            clauses.append(f"language = {sql_string(language)}")
        return " AND ".join(clauses) or None

    @_reads_files
    def code_vector_search(
        self, vector: np.ndarray, limit: int, doc_ids: Sequence[str] | None, language: str | None
    ) -> list[dict]:
        if not self.publication.code:
            return []
        self.load_vectors()
        if self._code_matrix is not None:
            return self._code_vector_search_in_memory(vector, limit, doc_ids, language)
        where = self.code_filter(doc_ids, language)
        query = self._code.search(vector, vector_column_name="vector").distance_type("cosine")
        if where:
            query = query.where(where, prefilter=True)
        query = query.select([*CANDIDATE_COLUMNS, "_distance"]).with_row_id(True)
        return list(query.limit(limit).to_list())

    def _code_vector_search_in_memory(
        self, vector: np.ndarray, limit: int, doc_ids: Sequence[str] | None, language: str | None
    ) -> list[dict]:
        assert self._code_matrix is not None
        keep = None if doc_ids is None else self._of_docs(self._code_doc, doc_ids)
        if language is not None:
            in_language = self._code_language == self._code_language_number.get(language, -1)
            keep = in_language if keep is None else keep & in_language
        return [
            {
                "id": self._code_ids[i],
                "doc_id": self._code_doc_ids[i],
                "_distance": distance,
                "_rowid": self._code_row_ids[i],
            }
            for i, distance in _nearest(self._code_matrix, vector, limit, keep)
        ]

    @_reads_files
    def code_keyword_search_each(
        self, texts: Sequence[str], limit: int, where: str | None
    ) -> list[list[dict]]:
        if not self.publication.code:
            return [[] for _ in texts]
        return [found.to_pylist() for found in _fts_each(self._code, texts, CANDIDATE_COLUMNS, where, limit)]

    @_reads_files
    def code_details(self, candidates: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """Every column but the vector, by id, for the code examples a search is about to show."""
        if not candidates:
            return {}
        row_ids = [int(c["_rowid"]) for c in candidates]
        found = self._code.take_row_ids(row_ids).select(CODE_COLUMNS).to_list()
        return {row["id"]: row for row in found}


@dataclass(frozen=True)
class _Names:
    """A snapshot's heading index, and the chunk that opens each section and each page."""

    index: HeadingIndex
    section_chunks: dict[tuple[str, str], dict[str, Any]]  # (doc id, anchor) -> its first chunk
    first_chunks: dict[str, dict[str, Any]]  # doc id -> its first chunk

    @classmethod
    def build(cls, snapshot: Snapshot) -> _Names:
        columns = ["id", "doc_id", "anchor", "start"]
        if snapshot._matrix is not None:
            table = snapshot._rows.select(columns)
        else:  # chunk_details reads these by row id
            table = snapshot._chunks.search().select(columns).with_row_id(True).limit(None).to_arrow()
        rows = sorted(table.to_pylist(), key=lambda row: (row["doc_id"], row["start"]))
        section_chunks: dict[tuple[str, str], dict[str, Any]] = {}
        first_chunks: dict[str, dict[str, Any]] = {}
        for row in rows:
            candidate = {key: row[key] for key in ("id", "doc_id", "_rowid") if key in row}
            section_chunks.setdefault((row["doc_id"], row["anchor"]), candidate)
            first_chunks.setdefault(row["doc_id"], candidate)
        return cls(HeadingIndex.from_docs(snapshot.docs), section_chunks, first_chunks)


class IndexWriter:
    """Applies one indexing run's changes and publishes them, or leaves nothing behind.

    Opening one recovers from whatever an interrupted run, a full disk or a deleted file
    left behind (the module's recovery rule), with no manual step; `repairs` says what was
    found and how it is being repaired, for the run's report."""

    def __init__(self, store: IndexStore, model: str, dim: int, corpus: str = "", origin: str = "") -> None:
        self._store = store
        self._db = store._db
        self.model = model
        self.dim = dim
        self.corpus = corpus
        self.origin = origin
        self.repairs: list[str] = []
        self._log_readable = True
        self.previous = self._read_log()
        self.rebuild = (
            self.previous is None
            or self.previous.model != model
            or self.previous.dim != dim
            or self.previous.format != INDEX_FORMAT
        )
        # Tables whose keyword index is rebuilt at publish, and whether the vector index is.
        self._reindex: set[str] = set()
        self._reindex_vectors = False
        try:
            self._docs, self._chunks, self._code = self._prepare_tables()
            if not self.rebuild:
                self._check_published()
        except (OSError, RuntimeError, ValueError) as error:
            # Unreadable data (a lost or truncated data file, a deleted table): the corpus is the
            # source of truth, so this run rebuilds everything rather than failing on every run.
            log.warning("the index at %s is damaged (%s); rebuilding it", store.uri, _first_line(error))
            self.repairs.append(
                f"the published tables could not be read ({type(error).__name__}: {_first_line(error)}): "
                "rebuilding the index from the corpus"
            )
            self.rebuild = True
            self._docs, self._chunks, self._code = self._prepare_tables()
        self._fresh_chunks_table = self.rebuild

    @property
    def needs_publishing(self) -> bool:
        """Whether this run must publish even when no document changed: something was repaired."""
        return bool(self.repairs)

    def _read_log(self) -> Publication | None:
        try:
            previous = self._store._latest_publication()
        except Exception as error:
            if self._store.remote:  # more often credentials or an endpoint than damage: say so
                raise self._store._damaged(error) from error
            self._log_readable = False
            self.repairs.append(
                f"the publication log could not be read ({type(error).__name__}: {_first_line(error)}): "
                "starting a new log and rebuilding the index from the corpus"
            )
            return None
        if previous is None and self._store._has(self._store.table(DOCS)):
            self.repairs.append(
                "tables were found with no publication recorded for them (a deleted publication log, or "
                "a first run that was interrupted): rebuilding the index from the corpus"
            )
        return previous

    def _prepare_tables(self) -> tuple[Any, Any, Any]:
        if self.rebuild:
            # Overwrite keeps the old versions (and their tags) for readers still on them.
            with self._writing("creating the tables"):
                return (
                    self._replace_table(self._store.table(DOCS), schema=docs_schema()),
                    self._replace_table(self._store.table(CHUNKS), schema=chunks_schema(self.dim)),
                    self._replace_table(self._store.table(CODE), schema=code_schema(self.dim)),
                )
        assert self.previous is not None
        docs = self._db.open_table(self._store.table(DOCS))
        chunks = self._db.open_table(self._store.table(CHUNKS))
        code = self._db.open_table(self._store.table(CODE))
        # A run that died after writing left versions past the publication: discard them.
        for table, version in (
            (docs, self.previous.docs_version),
            (chunks, self.previous.chunks_version),
            (code, self.previous.code_version),
        ):
            if table.version != version:
                log.info("restoring %s to published version %d", table.name, version)
                with self._writing(f"restoring table {table.name} to the published version"):
                    table.restore(version)
        return docs, chunks, code

    def _replace_table(self, name: str, schema: pa.Schema | None = None, data: pa.Table | None = None) -> Any:
        """A new version of table `name` holding `data` (or nothing); a table too damaged to take
        a new version is dropped and created again."""
        try:
            return self._db.create_table(name, data=data, schema=schema, mode="overwrite")
        except (OSError, RuntimeError, ValueError) as error:
            if is_out_of_space(error):
                raise
            log.warning("cannot overwrite table %s (%s); dropping it first", name, _first_line(error))
            self._db.drop_table(name, ignore_missing=True)
            return self._db.create_table(name, data=data, schema=schema)

    def _check_published(self) -> None:
        """Read the published version the way a server does. Unreadable rows raise (the caller
        rebuilds); a search index that cannot be used is rebuilt at publish."""
        _read_every_row(self._docs, self._chunks, self._code)
        assert self.previous is not None
        for table, version in zip(
            (self._docs, self._chunks, self._code), _table_versions(self.previous), strict=True
        ):
            if self.previous.tag not in table.tags.list():  # it keeps the served version's files
                with self._writing("tagging the published version again"):
                    table.tags.create(self.previous.tag, version)
                self.repairs.append(
                    f"table {table.name} had lost the tag of the published version: tagged it again"
                )
        for table in (self._chunks, self._code):
            problem = _keyword_index_problem(table)
            if problem is not None:
                self._reindex.add(table.name)
                self.repairs.append(
                    f"the keyword index of table {table.name} is unusable ({problem}): rebuilding it"
                )
        if _has_vector_index(self._chunks):
            problem = _vector_index_problem(self._chunks)
            if problem is not None:
                self._reindex_vectors = True
                self.repairs.append(
                    f"the vector index of {self._chunks.name} is unusable ({problem}): rebuilding it"
                )

    @contextlib.contextmanager
    def _writing(self, step: str) -> Iterator[None]:
        """Turn "no space left" (a full disk, a quota, a size limit) while `step` into one clear
        error; the previous publication keeps serving and the next run starts from it."""
        try:
            yield
        except DocsMcpError:
            raise
        except Exception as error:
            if not is_out_of_space(error):
                raise
            serving = (
                f"version {self.previous.seq} keeps serving"
                if self.previous is not None
                else "there was no published version before"
            )
            raise StorageFullError(
                f"no space left on the disk holding {self._store.uri} while {step} "
                f"({_first_line(error)}); nothing was published and {serving}. Free some space and run "
                "`docs-mcp index` again: it starts over from the published version"
            ) from error

    def existing_hashes(self) -> dict[str, str]:
        if self.rebuild:
            return {}
        rows = self._docs.search().select(["id", "content_hash"]).limit(None).to_arrow().to_pylist()
        return {row["id"]: row["content_hash"] for row in rows}

    def remove_docs(self, doc_ids: Sequence[str]) -> None:
        with self._writing("removing changed documents"):
            for begin in range(0, len(doc_ids), _DELETE_BATCH):
                batch = doc_ids[begin : begin + _DELETE_BATCH]
                self._docs.delete(_in_list("id", batch))
                self._chunks.delete(_in_list("doc_id", batch))
                self._code.delete(_in_list("doc_id", batch))

    def add_docs(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._writing("writing documents"):
                self._docs.add(pa.Table.from_pylist(rows, schema=docs_schema()))

    def add_chunks(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._writing("writing chunks"):
                self._chunks.add(pa.Table.from_pylist(rows, schema=chunks_schema(self.dim)))

    def add_code(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._writing("writing code examples"):
                self._code.add(pa.Table.from_pylist(rows, schema=code_schema(self.dim)))

    def publish(self) -> Publication:
        """Fold new rows into the indexes, verify, tag, and append the publication row."""
        with self._writing("building the keyword indexes"):
            if self._fresh_chunks_table or self._chunks.name in self._reindex:
                self._chunks.create_index("search_text", config=FTS(with_position=False), replace=True)
            if self._fresh_chunks_table or self._code.name in self._reindex or not self._code.list_indices():
                self._code.create_index("search_text", config=FTS(with_position=False), replace=True)
        chunk_rows = self._chunks.count_rows()
        if chunk_rows >= ANN_MIN_CHUNKS and (
            self._fresh_chunks_table or self._reindex_vectors or not _has_vector_index(self._chunks)
        ):
            log.info("building the approximate vector index over %d chunks", chunk_rows)
            partitions = max(1, chunk_rows // ANN_ROWS_PER_PARTITION)
            with self._writing("building the vector index"):
                self._chunks.create_index(
                    "vector", config=IvfSq(distance_type="cosine", num_partitions=partitions), replace=True
                )
        # Folds rows added since into the keyword index and the vector index, if there is one, and
        # cleans up what retention no longer keeps. Before the publication, not after it: the
        # published versions are then each table's latest, and the next run has nothing to undo.
        cleanup = self._retire_old_publications(serving=self.previous)
        with self._writing("compacting the tables"):
            for table in (self._docs, self._chunks, self._code):
                self._compact(table, cleanup[table.name])
        doc_count, chunk_count = self._verify()
        code_count = self._verify_code()
        publication = Publication(
            seq=self._next_seq(),
            docs_version=self._docs.version,
            chunks_version=self._chunks.version,
            model=self.model,
            dim=self.dim,
            docs=doc_count,
            chunks=chunk_count,
            published_at=datetime.now(UTC).isoformat(timespec="seconds"),
            code_version=self._code.version,
            code=code_count,
            index_id=self._index_id(),
            corpus=self.corpus,
            origin=self.origin,
        )
        self._refuse_if_another_writer_moved()
        with self._writing("tagging the new version"):
            for table, version in (
                (self._docs, publication.docs_version),
                (self._chunks, publication.chunks_version),
                (self._code, publication.code_version),
            ):
                table.tags.create(publication.tag, version)
        with self._writing("recording the publication"):
            self._record(publication)
        try:  # untag what this publication superseded (their files go at the next run's compaction)
            self._retire_old_publications(serving=publication)
        except Exception as error:  # published already: housekeeping never fails the run
            log.warning("could not untag old index versions: %s", _first_line(error))
        return publication

    def _next_seq(self) -> int:
        """One above the last publication and above every tag the tables hold: a run killed
        after tagging, or a log deleted while its tags stayed, never makes the next tag collide."""
        highest = self.previous.seq if self.previous is not None else 0
        for table in (self._docs, self._chunks, self._code):
            tagged = (_tag_seq(tag) for tag in table.tags.list())
            highest = max([highest, *(seq for seq in tagged if seq is not None)])
        return highest + 1

    def _index_id(self) -> str:
        """The log's identity: kept while the log lives, new when a log is started."""
        if self.previous is not None and self.previous.index_id and self._log_readable:
            return self.previous.index_id
        return uuid.uuid4().hex

    def _record(self, publication: Publication) -> None:
        """Append the publication row: the commit that makes the new version the one served."""
        row = {**publication.__dict__, "tool_version": __version__}
        record = pa.Table.from_pylist([row], schema=publications_schema())
        name = self._store.table(PUBLICATIONS)
        if self._log_readable and self._store._has(name):
            log_table = self._db.open_table(name)
            if log_table.schema == publications_schema():
                log_table.add(record)
                return
        # No log, an unreadable one, or one of an older format: start it with this publication.
        self._replace_table(name, data=record)

    def _verify(self) -> tuple[int, int]:
        """Read the new versions back the way a server will, before anyone is pointed at them."""
        doc_count = self._docs.count_rows()
        chunk_count = self._chunks.count_rows()
        if doc_count == 0:
            raise IndexStateError("refusing to publish an empty index: no documents were indexed")
        doc_ids = self._docs.search().select(["id"]).limit(None).to_arrow().column("id").to_pylist()
        if len(set(doc_ids)) != len(doc_ids):
            raise IndexStateError("refusing to publish: the docs table has duplicate ids")
        # What a reader must never meet: a keyword index that is missing ("Cannot perform full
        # text search unless an INVERTED index has been created") or a vector search that fails.
        for problem in (_keyword_index_problem(self._chunks), _vector_index_problem(self._chunks)):
            if problem is not None:
                raise IndexStateError(f"refusing to publish: reading the new version back failed ({problem})")
        return doc_count, chunk_count

    def _verify_code(self) -> int:
        """The code table's count, after the same keyword and vector read-back as the chunks'."""
        for problem in (_keyword_index_problem(self._code), _vector_index_problem(self._code)):
            if problem is not None:
                raise IndexStateError(
                    f"refusing to publish: reading the new code table back failed ({problem})"
                )
        return int(self._code.count_rows())

    def _refuse_if_another_writer_moved(self) -> None:
        """Never publish over another writer's work. A local folder is locked; an object store
        is not, so check that nobody published, or wrote to the tables, while this run worked."""
        latest = self._store.latest_publication() if self._log_readable else None
        expected = self.previous.seq if self.previous else 0
        if (latest.seq if latest else 0) != expected:
            raise IndexLockedError(
                f"another docs-mcp index run published version {latest.seq if latest else 0} to "
                f"{self._store.uri} while this run was writing, so this run published nothing; run one "
                "indexer at a time (one CI job), then run this one again"
            )
        for table in (self._docs, self._chunks, self._code):
            newest = self._db.open_table(table.name).version
            if newest != table.version:
                raise IndexLockedError(
                    f"another docs-mcp index run is writing to {self._store.uri} (table {table.name} "
                    f"moved to version {newest} while this run was at {table.version}), so this run "
                    "published nothing; run one indexer at a time (one CI job), then run this one again"
                )

    def _retire_old_publications(self, serving: Publication | None) -> dict[str, timedelta]:
        """Untag publications superseded longer than the grace period ago (never `serving`, whose
        versions are kept even if their tags were lost), and say per table how old a version
        must be to be cleaned up: older than the oldest publication still kept. Housekeeping: a
        failure keeps everything and never fails the run."""
        tables = (self._docs, self._chunks, self._code)
        serving_versions = (
            dict(zip((t.name for t in tables), _table_versions(serving), strict=True)) if serving else {}
        )
        now = datetime.now(UTC)
        grace = self._store.retention_grace
        older_than: dict[str, timedelta] = {}
        try:
            published: dict[int, datetime] = {}
            name = self._store.table(PUBLICATIONS)
            if self._log_readable and self._store._has(name):
                rows = self._db.open_table(name).to_arrow().select(["seq", "published_at"]).to_pylist()
                published = {int(r["seq"]): _utc(datetime.fromisoformat(r["published_at"])) for r in rows}
            for table in tables:
                versions = {v["version"]: _utc(v["timestamp"]) for v in table.list_versions()}
                keep = [serving_versions[table.name]] if table.name in serving_versions else []
                for tag, info in table.tags.list().items():
                    seq = _tag_seq(tag)
                    created = versions.get(info["version"], now)
                    if (
                        seq is None
                        or (serving is not None and seq == serving.seq)
                        or not retired(seq, published, created, now, grace)
                    ):
                        keep.append(info["version"])
                    else:
                        table.tags.delete(tag)
                oldest = min((versions[v] for v in keep if v in versions), default=now)
                older_than[table.name] = max(now - oldest + timedelta(seconds=1), grace)
        except Exception as error:
            if is_out_of_space(error):
                raise
            log.warning("could not clean up old index versions: %s", _first_line(error))
            return {table.name: _NO_CLEANUP for table in tables}
        return older_than

    def _compact(self, table: Any, older_than: timedelta) -> None:
        """Compact `table`, fold new rows into its indexes, and remove versions older than
        `older_than`; on a local folder (locked: no other writer) also files an interrupted run
        wrote and never committed."""
        try:
            table.optimize(
                cleanup_older_than=older_than,
                delete_unverified=not self._store.remote and older_than != _NO_CLEANUP,
            )
        except Exception as error:
            if is_out_of_space(error):
                raise
            log.warning("could not clean up old versions of %s: %s", table.name, _first_line(error))
            table.optimize(cleanup_older_than=_NO_CLEANUP)


def _table_versions(publication: Publication) -> tuple[int, int, int]:
    """The docs, chunks and code table versions a publication names, in that order."""
    return (publication.docs_version, publication.chunks_version, publication.code_version)


def _keyword_index_problem(table: Any) -> str | None:
    """None when a BM25 query on a word of the table's own text works, else what failed. An empty
    table needs no index (publish creates one when it is missing)."""
    try:
        rows = table.search().select(["search_text"]).limit(1).to_list()
        if not rows:
            return None
        words = str(rows[0]["search_text"]).split()
        table.search(_match(words[0] if words else "a"), query_type="fts").limit(1).to_list()
    except Exception as error:
        return f"{type(error).__name__}: {_first_line(error)}"
    return None


def _vector_index_problem(table: Any) -> str | None:
    """None when a vector search for one of the table's own vectors finds a row, else what failed."""
    try:
        rows = table.search().select(["vector"]).limit(1).to_list()
        if not rows:
            return None
        query = table.search(np.asarray(rows[0]["vector"], dtype=np.float32), vector_column_name="vector")
        query = query.distance_type("cosine")
        if _has_vector_index(table):
            query = query.nprobes(ANN_NPROBES).refine_factor(ANN_REFINE_FACTOR)
        if not query.limit(1).to_list():
            return "a vector search found nothing"
    except Exception as error:
        return f"{type(error).__name__}: {_first_line(error)}"
    return None


def retired(
    seq: int, published: Mapping[int, datetime], created: datetime, now: datetime, grace: timedelta
) -> bool:
    """Whether superseded publication `seq` is past its grace period: no server can still be
    answering from it. The clock starts when the next publication appeared (the version's own
    creation time when the log no longer names it)."""
    successors = [at for later, at in published.items() if later > seq]
    superseded_at = min(successors) if successors else created
    return now - superseded_at >= grace


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.astimezone(UTC)


@contextlib.contextmanager
def _exclusive_lock(uri: str) -> Iterator[None]:
    """One indexer at a time per local index folder (an object store has no lock: see
    IndexWriter._refuse_if_another_writer_moved)."""
    if is_remote(uri):
        yield
        return
    import fcntl

    folder = Path(uri)
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / ".docs-mcp.lock").open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise IndexLockedError(
                    f"another docs-mcp index run ({holder}) holds the lock on {uri}; "
                    "wait for it to finish, or stop it and run again"
                ) from None
            raise
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
            handle.flush()
        except OSError as error:
            if not is_out_of_space(error):
                raise
            raise StorageFullError(
                f"no space left on the disk holding {uri} (writing its lock file); free some space "
                "and run `docs-mcp index` again"
            ) from error
        yield
    finally:
        handle.close()
