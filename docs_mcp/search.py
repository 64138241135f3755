"""DocsService: list_docs, get_doc and search, used by the CLI and the MCP server alike.

The service holds the embedding model and one published snapshot per collection
and version it has served (the default collection's opened at start). Each one
follows new publications: at most every `refresh_seconds` a request checks its
publication log and, if a newer version was published, swaps the snapshot (a
single reference assignment, so concurrent requests each see one complete
version). A request names a collection and version, or gets the default
collection; one request reads one snapshot, so a search never mixes versions.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import difflib
import json
import logging
import random
import re
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from docs_mcp.codeblocks import normalize_language
from docs_mcp.collection import (
    DEFAULT_COLLECTION,
    DEFAULT_SCOPE,
    Scope,
    default_version,
    describe,
    resolve,
    sort_versions,
)
from docs_mcp.config import Settings
from docs_mcp.embed import Embedder, FastEmbedder
from docs_mcp.errors import DocsMcpError, IndexNotFoundError, NotFoundError, UnknownCollectionError
from docs_mcp.export import ExportPage, llms_full_txt, llms_txt
from docs_mcp.formats import suffix_of
from docs_mcp.guidance import (
    ANSWER_VECTOR_TOKENS,
    Guidance,
    TextKind,
    disagreement_note,
    found_by,
    keep_question_in_reach,
)
from docs_mcp.ids import escape_doc_id
from docs_mcp.models import (
    CollectionInfo,
    CollectionList,
    DocEntry,
    DocFolder,
    DocPage,
    DocTree,
    IndexInfo,
    Origin,
    SearchHit,
    SearchResult,
    VersionInfo,
)
from docs_mcp.ranking import RankedDoc, RankedList, RankingConfig, rank_documents
from docs_mcp.store import IndexStore, Publication, Snapshot

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 2000
MAX_LIMIT = 20
DEFAULT_LIMIT = 5
DEFAULT_MAX_CHARS = 20_000
MIN_MAX_CHARS = 500
MAX_MAX_CHARS = 50_000
DEFAULT_LIST_LIMIT = 500
MAX_LIST_LIMIT = 2000
SearchMode = Literal["hybrid", "vector", "fts"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "vector", "fts")
SNIPPET_CHARS = 300
SearchKind = Literal["prose", "code"]
SEARCH_KINDS: tuple[SearchKind, ...] = ("prose", "code")
# A code example longer than this is cut at a line break; get_doc(open_with) has all of it.
MAX_CODE_CHARS = 4000


def _one_blas_thread() -> None:
    """Run numpy's BLAS on the calling thread only.

    A query's vector search is one small matrix-vector product. With OpenBLAS's
    own thread pool, concurrent searches contend for it: at 8 concurrent HTTP
    clients the server burned 11.1 CPU-seconds per 400 searches instead of 6.2,
    and served 64 calls/s instead of 94. Process-wide, and idempotent.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _release_freed_memory() -> None:
    """Hand freed heap pages back to the operating system (glibc; elsewhere a no-op).

    Building the ONNX session and reading a snapshot free about 100 MB of temporaries
    that glibc keeps mapped: on the Ray index a loaded server's resident memory went
    from 510 MB to 413 MB.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def warm_up(embedder: Embedder) -> None:
    """Embed the longest query a server accepts, twice, so it reaches its working size before it
    answers: ONNX Runtime's memory arena and the tokenizer's buffers grow to the largest input
    they have handled and keep that size. Without this the first long queries grew a serving
    process by ~50 MB (384 -> 437 MB, then flat over 2,000 random 2,000-character queries:
    scripts/memory_growth.py). The text is MAX_QUERY_CHARS of made-up words: as many subword
    tokens as a query can have before the model's 256-token cut."""
    generator = random.Random(0)
    for _ in range(2):
        words = (
            "".join(generator.choices(string.ascii_lowercase, k=generator.randint(2, 12))) for _ in range(400)
        )
        embedder.embed_query(" ".join(words)[:MAX_QUERY_CHARS])


class _Follower:
    """One scope's published snapshot: opened once, swapped when a newer publication appears."""

    def __init__(
        self, store: IndexStore, model: str | None, refresh_seconds: float, load_vectors: bool = True
    ) -> None:
        self.store = store
        self._model = model
        self.load_vectors = load_vectors
        self._refresh_seconds = refresh_seconds
        self._open_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self._log_missing = False  # warned once that the publication log disappeared
        self._checked_at = time.monotonic()
        self.last_used = time.monotonic()

    def open(self) -> Snapshot:
        with self._open_lock:
            if self.snapshot is None:
                self.snapshot = self.store.open_snapshot(self._model, self.load_vectors)
                self._checked_at = time.monotonic()
                _release_freed_memory()
            return self.snapshot

    def current(self, check: bool = True) -> Snapshot:
        """The snapshot to serve; with `check`, first switch to a newer publication if the
        last look is `refresh_seconds` old (a caller with no background follower)."""
        self.last_used = time.monotonic()
        snapshot = self.snapshot
        if snapshot is None:
            return self.open()
        if check and time.monotonic() - self._checked_at >= self._refresh_seconds:
            self.refresh()
        return self.snapshot or snapshot

    def refresh(self) -> bool:
        """Switch to the newest publication, if any; True when the snapshot changed.

        Publications are compared by identity (the log's id and the number), so an index deleted
        and rebuilt in place, whose numbers start again at 1, is still seen as new. A snapshot
        whose files failed a read is opened again even when the log did not move."""
        if self.snapshot is None:
            return False
        if not self._refresh_lock.acquire(blocking=False):
            return False  # another request is already refreshing; keep serving this one
        try:
            self._checked_at = time.monotonic()
            where = "" if self.store.scope.is_default else f" of {self.store.scope.label}"
            try:
                latest = self.store.latest_publication()
            except DocsMcpError as error:  # e.g. read while an indexer writes: try again later
                log.warning("keeping index version %d%s: %s", self.snapshot.version, where, error)
                return False
            if latest is None:
                if not self._log_missing:
                    log.warning(
                        "the publication log at %s is gone (deleted?); still serving index version %d%s "
                        "until `docs-mcp index` publishes there again",
                        self.store.uri,
                        self.snapshot.version,
                        where,
                    )
                self._log_missing = True
                return False
            self._log_missing = False
            if latest.identity == self.snapshot.publication.identity and not self.snapshot.damaged:
                return False
            try:
                self.snapshot = self.store.open_snapshot(self._model, self.load_vectors)
            except DocsMcpError as error:
                log.warning("keeping index version %d%s: %s", self.snapshot.version, where, error)
                return False
            log.info("now serving index version %d%s", self.snapshot.version, where)
            _release_freed_memory()
            return True
        finally:
            self._refresh_lock.release()


class DocsService:
    def __init__(
        self,
        store: IndexStore,
        embedder_factory: Callable[[], Embedder],
        model: str,
        refresh_seconds: float = 2.0,
        ranking: RankingConfig | None = None,
        check_model: bool = True,
        idle_version_seconds: float = 0,
        preload_vectors: bool = True,
    ) -> None:
        _one_blas_thread()
        self.store = store
        self.ranking = ranking or RankingConfig()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="docs-mcp-search")
        self.model = model
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()
        self._refresh_seconds = refresh_seconds
        self._idle_version_seconds = idle_version_seconds
        self._expected_model = model if check_model else None
        self._followers_lock = threading.Lock()
        self._catalogue: dict[Scope, Publication] = {}
        self._catalogue_at = -float("inf")
        self._catalogue_in_use = False
        self._stop_following = threading.Event()
        self._following: threading.Thread | None = None
        self._preload_vectors = preload_vectors
        self._warming: Future[None] | None = None
        default = _Follower(store, self._expected_model, refresh_seconds, preload_vectors)
        self._followers: dict[Scope, _Follower] = {DEFAULT_SCOPE: default}
        try:
            default.open()
        except IndexNotFoundError:
            # An index that holds only named collections still serves them.
            if not self.catalogue(fresh=True):
                raise

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        check_model: bool = True,
        preload_model: bool = False,
        preload_vectors: bool = True,
    ) -> DocsService:
        """The service for `settings`; without `check_model` it adopts the index's own model
        (enough for listing and reading, which never embed). With `preload_model` (a server's
        start) the model and the vectors load on a background thread once the index has been
        opened and checked, so nothing loads for an index that cannot be served (a model
        mismatch fails at once, before any download) and a stdio server answers `initialize`
        meanwhile; the first search waits for them. Without `preload_vectors` (a command that
        lists or reads) the vectors load at the first search, if one comes."""
        store = IndexStore.from_settings(settings)
        model = settings.model
        if not check_model:
            publication = store.latest_publication()
            model = publication.model if publication else model

        def load_model() -> Embedder:
            embedder = FastEmbedder(model, settings.cache_dir)
            if preload_model:
                warm_up(embedder)
            return embedder

        service = cls(
            store,
            load_model,
            model=model,
            refresh_seconds=settings.refresh_seconds,
            check_model=check_model,
            idle_version_seconds=settings.idle_version_seconds,
            preload_vectors=preload_vectors and not preload_model,
        )
        if preload_model:
            service._warm_up_in_background(vectors=preload_vectors)
        return service

    def _warm_up_in_background(self, vectors: bool) -> None:
        def warm() -> None:
            try:
                self.embedder  # noqa: B018  # a search meanwhile waits on the same lock
            except DocsMcpError as error:  # said now on stderr; each search tries again and says it
                log.warning("%s", error)
                raise
            if vectors:
                self._preload_vectors = True  # snapshots opened from now on hold them from the start
                for follower in list(self._followers.values()):
                    follower.load_vectors = True
                    if follower.snapshot is not None:
                        follower.snapshot.load_vectors()

        # Not a `with` block: the pool must outlive this call; its one thread exits when done.
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docs-mcp-model")
        self._warming = loader.submit(warm)
        loader.shutdown(wait=False)

    def wait_until_warm(self) -> None:
        """Block until the background warm-up is done; raises its error (a model that cannot load)."""
        if self._warming is not None:
            self._warming.result()

    # -- state ---------------------------------------------------------------

    @property
    def refresh_seconds(self) -> float:
        """How often a new publication is looked for: how stale a served version may be."""
        return self._refresh_seconds

    @property
    def embedder(self) -> Embedder:
        """Loaded on first use, so `list` and `get` never pay for the model."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = self._embedder_factory()
                    _release_freed_memory()
        return self._embedder

    def snapshot(self, collection: str | None = None, version: str | None = None) -> Snapshot:
        """The published snapshot of a collection's version (the default collection when both are
        omitted), opened on first use and refreshed if a newer one was published."""
        scope = self.scope(collection, version)
        follower = self._followers.get(scope)
        if follower is None:
            with self._followers_lock:
                follower = self._followers.get(scope)
                if follower is None:
                    store = self.store.scoped(scope)
                    follower = _Follower(
                        store, self._expected_model, self._refresh_seconds, self._preload_vectors
                    )
                    self._followers[scope] = follower
        try:
            return follower.current(check=self._following is None)
        except IndexNotFoundError as error:
            if scope.is_default and self.catalogue(fresh=True):
                raise IndexNotFoundError(
                    f"the default collection is not indexed here; indexed: {describe(self.versions())}. "
                    "Pass a collection (--collection on the command line), "
                    "or call list_collections (`docs-mcp collections`)"
                ) from error
            raise

    def refresh(self) -> bool:
        """Switch every open snapshot to its newest publication; True when any changed."""
        self._catalogue_at = -float("inf")
        return self._refresh_followers()

    def _refresh_followers(self) -> bool:
        changed = [follower.refresh() for follower in list(self._followers.values())]
        return any(changed)

    def follow_in_background(self) -> None:
        """Look for new publications every `refresh_seconds` on a daemon thread, for a
        long-running server: requests then never wait while the publications log is read
        (~1 ms on disk, ~8 ms on S3), a new version opens (~50 ms) or the catalogue of
        collections is read again (~100 ms at 16 versions). Without it, the request that
        finds the last look `refresh_seconds` old does that work itself, as it still does
        when `refresh_seconds` is 0 (every request checks). The same thread closes the named
        versions no call has named for `idle_version_seconds`."""
        if self._following is not None or self._refresh_seconds <= 0:
            return
        self._following = threading.Thread(target=self._follow, name="docs-mcp-follow", daemon=True)
        self._following.start()

    def stop_following(self) -> None:
        self._stop_following.set()
        if self._following is not None:
            self._following.join(timeout=10)

    def _follow(self) -> None:
        while not self._stop_following.wait(self._refresh_seconds):
            try:
                self._close_idle_versions()
                self._refresh_followers()  # not refresh(): no request may find the catalogue stale
                if self._catalogue_in_use:  # a server that never meets collections never reads it
                    self.catalogue(fresh=True)
            except Exception as error:  # never let one bad read end the following for good
                log.warning("following new publications: %s: %s", type(error).__name__, error)

    def _close_idle_versions(self) -> None:
        """Forget the named versions no call has used for `idle_version_seconds`, so their
        vectors and rows are freed; the next call that names one opens it again."""
        if self._idle_version_seconds <= 0:
            return
        now = time.monotonic()
        with self._followers_lock:
            idle = [
                scope
                for scope, follower in self._followers.items()
                if not scope.is_default and now - follower.last_used >= self._idle_version_seconds
            ]
            for scope in idle:
                del self._followers[scope]
        if idle:
            log.info("closed idle collection versions: %s", ", ".join(scope.label for scope in idle))
            _release_freed_memory()

    # -- collections ---------------------------------------------------------

    def catalogue(self, fresh: bool = False) -> dict[Scope, Publication]:
        """Every published (collection, version), read again at most every `refresh_seconds`:
        by the background follower when there is one, else by the call that finds it due."""
        self._catalogue_in_use = True
        age = time.monotonic() - self._catalogue_at
        if fresh or age == float("inf") or (self._following is None and age >= self._refresh_seconds):
            try:
                self._catalogue = self.store.catalogue()
            except DocsMcpError as error:  # e.g. read while an indexer writes: keep the last list
                if not self._catalogue:
                    raise
                log.warning("keeping the list of collections: %s", error)
            self._catalogue_at = time.monotonic()
        return self._catalogue

    def versions(self, fresh: bool = False) -> dict[str, list[str]]:
        """Collection name -> its versions (none for the default collection)."""
        names: dict[str, list[str]] = {}
        for scope in self.catalogue(fresh):
            names.setdefault(scope.collection, [])
            if scope.version is not None:
                names[scope.collection].append(scope.version)
        return names

    def scope(self, collection: str | None = None, version: str | None = None) -> Scope:
        """What a request means: the default collection, or a named one at a version (its highest
        when omitted). Raises UnknownCollectionError, listing what exists, for unknown names."""
        if collection is None and version is None:
            return DEFAULT_SCOPE
        try:
            return resolve(collection, version, self.versions())
        except UnknownCollectionError:
            return resolve(collection, version, self.versions(fresh=True))  # indexed since?

    def list_collections(self) -> CollectionList:
        return collection_list(self.catalogue())

    def has_default(self) -> bool:
        """Whether the default collection is indexed (an index may hold only named ones)."""
        return self._followers[DEFAULT_SCOPE].snapshot is not None or DEFAULT_SCOPE in self.catalogue()

    def info(self) -> IndexInfo:
        publication = self.snapshot().publication
        return IndexInfo(
            index_version=publication.seq,
            published_at=publication.published_at,
            model=publication.model,
            dimension=publication.dim,
            docs=publication.docs,
            chunks=publication.chunks,
            code_examples=publication.code,
            db=self.store.uri,
        )

    # -- search --------------------------------------------------------------

    def search(
        self,
        query: str,
        limit: int = DEFAULT_LIMIT,
        prefix: str | None = None,
        mode: SearchMode = "hybrid",
        kind: SearchKind = "prose",
        language: str | None = None,
        collection: str | None = None,
        version: str | None = None,
        keywords: Sequence[str] | str | None = None,
        hypothetical_answer: str | None = None,
    ) -> SearchResult:
        """The ranking search_docs serves. `mode` keeps one retriever only, for evaluation baselines.

        kind="prose" ranks pages (one hit per page); kind="code" ranks code examples, each its
        own hit, optionally only those in `language` (any common spelling: py, python3...).
        `keywords` and `hypothetical_answer` are an assistant's expansions of the query
        (guidance.py): searched beside it and fused, each hit saying which texts found it.
        Without them the ranking is the query's alone."""
        text = " ".join(query.split())
        if not text:
            raise DocsMcpError("the query is empty; describe what you are looking for in a few words")
        if kind not in SEARCH_KINDS:
            raise DocsMcpError(
                f"unknown kind {kind!r}: use 'prose' for pages and sections or 'code' for code examples"
            )
        wanted = normalize_language(language) if language and language.strip() else None
        if wanted is not None and kind != "code":
            raise DocsMcpError(
                f"language={language!r} filters code examples; search with kind='code' "
                "(CLI: --kind code) to use it"
            )
        guidance = Guidance.clean(keywords, hypothetical_answer)
        snapshot = self.snapshot(collection, version)
        text = text[:MAX_QUERY_CHARS]
        limit = max(1, min(limit, MAX_LIMIT))
        if kind == "code":
            return self._search_code(snapshot, text, limit, prefix, mode, wanted, guidance)
        empty = SearchResult(query=text, hits=[], index_version=snapshot.version, **_provenance(snapshot))
        doc_ids = _doc_ids_under(snapshot, prefix)
        if doc_ids is not None and not doc_ids:
            note = f"no document id starts with {prefix!r}; call list_docs to see the folders"
            return empty.model_copy(update={"note": note})
        depth = self.ranking.candidates
        retrievers = _Retrievers(
            vector=lambda vector: snapshot.vector_search(vector, depth, doc_ids),
            vectors=lambda vectors: snapshot.vector_search_each(vectors, depth, doc_ids),
            keywords=lambda texts: snapshot.keyword_search_each(texts, depth, doc_ids),
            headings=lambda name: snapshot.heading_search(name, depth, doc_ids),
        )
        lists = self._ranked_lists(retrievers, text, guidance, mode)
        ranked, matched, disagreement = self._fuse(lists, guidance, len(doc_ids or snapshot.docs))
        hits = build_hits(ranked, snapshot, limit, matched)
        result = _guided_fields(hits, guidance, matched, disagreement)
        if (
            hits
            and mode == "hybrid"
            and weak_match([ranked for ranked in lists if ranked.source == "question"])
        ):
            result["note"] = "; ".join(note for note in (result["note"], WEAK_MATCH_NOTE) if note)
        return empty.model_copy(update=result)

    def _ranked_lists(
        self, retrievers: _Retrievers, question: str, guidance: Guidance, mode: SearchMode
    ) -> list[RankedList]:
        """Every search of one call, each a RankedList naming its retriever and the text it
        searched. A bare query gives today's two lists, vector then keyword. With guidance the
        query's vector is the same as alone (embed_queries) and is searched the same way, and
        the work overlaps: the BM25 searches of every text (sent to LanceDB together) and the
        hypothetical answer's embedding (the longest) run on the pool while the query and
        keywords are embedded and searched here."""
        texts: list[tuple[TextKind, str]] = [("question", question), *guidance.texts()]
        answer = guidance.hypothetical_answer
        answer_vector = self._pool.submit(self._embed_answer, answer) if mode != "fts" and answer else None
        keyword_lists = (
            self._pool.submit(retrievers.keywords, [text for _, text in texts]) if mode != "vector" else None
        )
        lists = []
        if mode != "fts":
            if guidance.keywords:
                vectors = self.embedder.embed_queries([question, *guidance.keywords])
            else:
                vectors = self.embedder.embed_query(question)[np.newaxis]
            lists.append(RankedList("vector", retrievers.vector(vectors[0]), "question"))
            if guidance.keywords:
                lists += [RankedList("vector", rows, "keywords") for rows in retrievers.vectors(vectors[1:])]
        if mode != "vector" and retrievers.headings is not None:
            lists += [
                RankedList("headings", retrievers.headings(name), "keywords") for name in guidance.keywords
            ]
        if answer_vector is not None:
            lists.append(
                RankedList("vector", retrievers.vector(answer_vector.result()), "hypothetical_answer")
            )
        if keyword_lists is not None:
            found = keyword_lists.result()
            lists += [
                RankedList("keyword", rows, source) for (source, _), rows in zip(texts, found, strict=True)
            ]
        return lists

    def _embed_answer(self, answer: str) -> np.ndarray:
        return self.embedder.embed_query(self.embedder.first_tokens(answer, ANSWER_VECTOR_TOKENS))

    def _fuse(
        self, lists: list[RankedList], guidance: Guidance, pages: int
    ) -> tuple[list[RankedDoc], dict[str, list[TextKind]] | None, str | None]:
        """The fused ranking; for a guided search also which texts found each result, and a
        note when the question and the expansions disagree (guidance.py)."""
        fused = rank_documents(lists, self.ranking)
        if guidance.empty:
            return fused, None, None
        own = rank_documents([ranked for ranked in lists if ranked.source == "question"], self.ranking)
        expanded = rank_documents([ranked for ranked in lists if ranked.source != "question"], self.ranking)
        note = disagreement_note(own, expanded, pages)
        return keep_question_in_reach(fused, own), found_by(lists), note

    def _search_code(
        self,
        snapshot: Snapshot,
        text: str,
        limit: int,
        prefix: str | None,
        mode: SearchMode,
        language: str | None,
        guidance: Guidance,
    ) -> SearchResult:
        """Hybrid search over the code examples, fused like prose but one hit per example."""
        empty = SearchResult(
            query=text,
            kind="code",
            language=language,
            hits=[],
            index_version=snapshot.version,
            **_provenance(snapshot),
        )
        if not snapshot.code_languages:
            note = "this index holds no code examples; search without kind='code' to find pages"
            return empty.model_copy(update={"note": note})
        if language is not None and language not in snapshot.code_languages:
            known = ", ".join(f"{name or '(unnamed)'} ({count})" for name, count in _by_count(snapshot))
            note = (
                f"no code examples in {language!r}; the languages in this index are: {known}. "
                "Search again with one of them, or without language"
            )
            return empty.model_copy(update={"note": note})
        doc_ids = _doc_ids_under(snapshot, prefix)
        if doc_ids is not None and not doc_ids:
            note = f"no document id starts with {prefix!r}; call list_docs to see the folders"
            return empty.model_copy(update={"note": note})
        where = snapshot.code_filter(doc_ids, language)
        depth = self.ranking.candidates
        retrievers = _Retrievers(
            vector=lambda vector: _per_example(snapshot.code_vector_search(vector, depth, doc_ids, language)),
            vectors=lambda vectors: [
                _per_example(snapshot.code_vector_search(vector, depth, doc_ids, language))
                for vector in vectors
            ],
            keywords=lambda texts: [
                _per_example(found) for found in snapshot.code_keyword_search_each(texts, depth, where)
            ],
            headings=None,  # headings name pages and sections, not code examples
        )
        lists = self._ranked_lists(retrievers, text, guidance, mode)
        ranked, matched, disagreement = self._fuse(lists, guidance, snapshot.publication.code)
        hits = build_code_hits(ranked, snapshot, limit, matched)
        return empty.model_copy(update=_guided_fields(hits, guidance, matched, disagreement))

    # -- get_doc -------------------------------------------------------------

    def get_doc(
        self,
        id: str,
        start_index: int = 0,
        max_chars: int = DEFAULT_MAX_CHARS,
        collection: str | None = None,
        version: str | None = None,
    ) -> DocPage:
        snapshot = self.snapshot(collection, version)
        doc_id, anchor = _doc_and_anchor(id, snapshot.docs)
        row = snapshot.docs.get(doc_id)
        if row is None:
            raise _unknown_doc(id, snapshot)
        outline = json.loads(row["outline"])
        body = snapshot.body(doc_id)
        section_title = None
        section_start, section_end = 0, len(body)
        if anchor:
            section = next((h for h in outline if h[2] == anchor), None)
            if section is None:
                known = ", ".join(f"{doc_id}#{h[2]}" for h in outline[:30]) or "(this page has no sections)"
                raise NotFoundError(
                    f"doc {doc_id!r} has no section {anchor!r}; its sections are: {known}. "
                    f"Call get_doc with id={doc_id!r} for the whole page",
                    suggestions=[f"{doc_id}#{h[2]}" for h in outline],
                )
            section_title, section_start, section_end = section[1], section[3], section[4]
        text = body[section_start:section_end]
        max_chars = max(MIN_MAX_CHARS, min(max_chars, MAX_MAX_CHARS))
        start = max(0, min(start_index, len(text)))
        end = _page_end(text, start, max_chars)
        sections = [f"{doc_id}#{h[2]}" for h in outline if section_start <= h[3] < section_end]
        return DocPage(
            id=f"{doc_id}#{anchor}" if anchor else doc_id,
            doc_id=doc_id,
            title=row["title"],
            source_path=row["path"],
            section_title=section_title,
            content=text[start:end],
            start_index=start,
            end_index=end,
            total_chars=len(text),
            next_start_index=end if end < len(text) else None,
            sections=sections,
            index_version=snapshot.version,
            **_provenance(snapshot),
            origin=Origin.of(snapshot.publication.origin, row["path"]),
        )

    # -- list_docs -----------------------------------------------------------

    def list_docs(
        self,
        prefix: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        collection: str | None = None,
        version: str | None = None,
    ) -> DocTree:
        snapshot = self.snapshot(collection, version)
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        selected = _doc_ids_under(snapshot, prefix)
        rows = [snapshot.docs[d] for d in (selected if selected is not None else snapshot.docs)]
        rows.sort(key=_nav_key)
        root = _navigation(snapshot, rows[:limit])
        truncated = len(rows) > limit
        note = None
        if truncated:
            note = f"listed {limit} of {len(rows)} docs; pass a prefix such as a folder path to see the rest"
        elif prefix and not rows:
            note = f"no document id starts with {prefix!r}; call list_docs without a prefix to see all"
        return DocTree(
            root=root,
            total_docs=len(rows),
            listed_docs=min(limit, len(rows)),
            truncated=truncated,
            note=note,
            index_version=snapshot.version,
            **_provenance(snapshot),
            origin=Origin.of(snapshot.publication.origin),
        )

    # -- export --------------------------------------------------------------

    def export(
        self, base_url: str | None = None, collection: str | None = None, version: str | None = None
    ) -> tuple[str, str]:
        """Every page as `llms.txt` and `llms-full.txt`, in navigation order."""
        snapshot = self.snapshot(collection, version)
        root = _navigation(snapshot, sorted(snapshot.docs.values(), key=_nav_key))
        pages = [
            ExportPage(
                id=entry.id,
                title=entry.title,
                description=entry.description,
                source_path=snapshot.docs[entry.id]["path"],
                folder_title=folder.title if folder.path else "",
            )
            for folder in _walk(root)
            for entry in folder.docs
        ]
        home = next((snapshot.docs[d] for d in ("index", "README") if d in snapshot.docs), None)
        title = home["title"] if home else "Documentation"
        summary = home["description"] if home else ""
        return (
            llms_txt(title, summary, pages, base_url),
            llms_full_txt(pages, snapshot.body, base_url),
        )


# -- "nothing matches well" ---------------------------------------------------

# A query the docs do not cover still gets hits, the nearest there are; the note says they are
# weak. Both conditions, measured on the bare query's candidates by scripts/offtopic_threshold.py
# (docs-mcp's own docs, Ray, tldr-pages; 604 labelled questions against the 60 off-topic ones in
# tests/data/off-topic-questions.jsonl): the nearest chunk's cosine similarity is below
# WEAK_MATCH_COSINE, and neither retriever's best page is in the other's first AGREEMENT_DEPTH
# pages. The cosine alone flags short keyword queries ("ENOENT": 0.12 on docs-mcp's docs), which
# BM25 answers well, and so the agreement of both retrievers clears them. At 0.30 / 3 the note
# appeared for 0 of 38, 1 of 194 (a misspelt question whose page was not found either) and 0 of
# 372 labelled questions, and for 45, 45 and 36 of the 60 off-topic ones.
WEAK_MATCH_COSINE = 0.30
AGREEMENT_DEPTH = 3
WEAK_MATCH_NOTE = (
    "nothing in these docs matches this query well: the closest passage is far from it in meaning, "
    "and keyword and meaning search agree on no page; these hits are only the nearest there are. "
    "Try other words, or these docs may not cover the subject"
)


@dataclass(frozen=True)
class MatchEvidence:
    """How well the best candidates of a query match it, from the two retrievers' own lists."""

    cosine: float  # the nearest chunk's cosine similarity to the query
    # How deep in one retriever's pages the other's best page is (0: the same page); None when
    # neither best page is among the other's candidates at all.
    agreement: int | None

    @property
    def weak(self) -> bool:
        disagree = self.agreement is None or self.agreement >= AGREEMENT_DEPTH
        return self.cosine < WEAK_MATCH_COSINE and disagree


def match_evidence(lists: list[RankedList]) -> MatchEvidence | None:
    """The evidence in the bare query's vector and keyword candidates (None without vector
    candidates, as in an eval baseline of keyword search alone)."""
    by_name = {ranked.name: ranked for ranked in lists}
    vector, keyword = by_name.get("vector"), by_name.get("keyword")
    if vector is None or not vector.rows or "_distance" not in vector.rows[0]:
        return None
    vector_pages, keyword_pages = vector.documents, keyword.documents if keyword is not None else []
    depths = []
    if vector_pages[0] in keyword_pages:
        depths.append(keyword_pages.index(vector_pages[0]))
    if keyword_pages and keyword_pages[0] in vector_pages:
        depths.append(vector_pages.index(keyword_pages[0]))
    cosine = 1.0 - float(vector.rows[0]["_distance"])
    return MatchEvidence(cosine=cosine, agreement=min(depths, default=None))


def weak_match(lists: list[RankedList]) -> bool:
    """The one decision behind the note: nothing in the index matches the bare query well."""
    evidence = match_evidence(lists)
    return evidence is not None and evidence.weak


# -- helpers ------------------------------------------------------------------


def _doc_and_anchor(requested: str, docs: dict[str, Any]) -> tuple[str, str]:
    """(doc id, anchor) of what get_doc was given, in this order: `id` or `id#anchor` (ids never
    hold a raw `#`); a source path as written (`notebooks/intro.ipynb`, `c#-guide.md`, whose id
    is `c%23-guide`: see ids.py); `path#anchor`; a path without its suffix as written. The id
    may be unknown: the caller says so."""
    doc_id, _, anchor = requested.strip().partition("#")
    doc_id = doc_id.strip().strip("/")
    if doc_id in docs:
        return doc_id, anchor
    paths = dict.fromkeys([requested, requested.strip().strip("/")])  # ` a.md` is a file name too
    for path in paths:
        stem = path[: len(path) - len(suffix_of(path))]
        if stem != path and docs.get(escape_doc_id(stem), {}).get("path") == path:
            return escape_doc_id(stem), ""
    without_suffix = doc_id[: len(doc_id) - len(suffix_of(doc_id))]
    if without_suffix in docs:
        return without_suffix, anchor
    return next(((escape_doc_id(p), "") for p in paths if escape_doc_id(p) in docs), (doc_id, anchor))


@dataclass(frozen=True)
class _Retrievers:
    """What one kind of search runs for each text: over chunks for prose, examples for code."""

    vector: Callable[[np.ndarray], list[dict]]
    vectors: Callable[[np.ndarray], list[list[dict]]]  # one list per row, in one pass
    keywords: Callable[[list[str]], list[list[dict]]]  # BM25, one list per text, side by side
    headings: Callable[[str], list[dict]] | None  # an assistant's keywords as names of pages


def _guided_fields(
    hits: list[SearchHit], guidance: Guidance, matched: Mapping[str, Any] | None, disagreement: str | None
) -> dict[str, Any]:
    """The hits, and what a guided search adds to a result: its notes and whether it disagreed."""
    notes = "; ".join(note for note in (*guidance.notes, disagreement) if note) or None
    return {
        "hits": hits,
        "note": notes,
        "expansions_disagree": None if matched is None else disagreement is not None,
    }


def _provenance(snapshot: Snapshot) -> dict[str, Any]:
    """Which docs an answer came from: its collection and version."""
    return {"collection": snapshot.scope.collection, "version": snapshot.scope.version}


def collection_list(catalogue: dict[Scope, Publication]) -> CollectionList:
    """The collections of a catalogue, default first, each with its versions oldest first."""
    names: dict[str, list[str]] = {}
    for scope in catalogue:
        names.setdefault(scope.collection, [])
        if scope.version is not None:
            names[scope.collection].append(scope.version)
    collections = []
    for name in sorted(names, key=lambda n: (n != DEFAULT_COLLECTION, n.lower())):
        versions = sort_versions(names[name])
        scopes = [Scope(name, v) for v in versions] if versions else [DEFAULT_SCOPE]
        collections.append(
            CollectionInfo(
                name=name,
                default_version=default_version(versions) if versions else None,
                versions=[_version_info(scope.version, catalogue[scope]) for scope in scopes],
            )
        )
    note = None if collections else "nothing is indexed yet; run `docs-mcp index PATH` first"
    return CollectionList(collections=collections, note=note)


def _version_info(version: str | None, publication: Publication) -> VersionInfo:
    return VersionInfo(
        version=version,
        docs=publication.docs,
        chunks=publication.chunks,
        index_version=publication.seq,
        published_at=publication.published_at,
        model=publication.model,
        origin=Origin.of(publication.origin),
    )


def _navigation(snapshot: Snapshot, rows: list[dict[str, Any]]) -> DocFolder:
    """The folder tree of `rows` (already in navigation order), folders titled and ordered."""
    root = DocFolder(path="", title="Documentation")
    folders: dict[str, DocFolder] = {"": root}
    for row in rows:
        _folder(folders, row["id"].rpartition("/")[0]).docs.append(
            DocEntry(id=row["id"], title=row["sidebar_label"] or row["title"], description=row["description"])
        )
    _title_folders(root, snapshot)
    return root


def _walk(folder: DocFolder) -> Iterator[DocFolder]:
    """`folder`, then its subfolders depth first, in navigation order."""
    yield folder
    for child in folder.folders:
        yield from _walk(child)


def _doc_ids_under(snapshot: Snapshot, prefix: str | None) -> list[str] | None:
    """Ids of docs under `prefix`, matched in Python: user text never reaches a query string."""
    if prefix is None or not prefix.strip().strip("/"):
        return None
    wanted = prefix.strip().lstrip("/")
    matches = [doc_id for doc_id in snapshot.docs if doc_id.startswith(wanted)]
    return None if len(matches) == len(snapshot.docs) else matches


def build_hits(
    ranked: list[RankedDoc],
    snapshot: Snapshot,
    limit: int,
    matched: Mapping[str, list[TextKind]] | None = None,
) -> list[SearchHit]:
    shown = ranked[:limit]
    details = snapshot.chunk_details([doc.best_chunk for doc in shown])
    hits = []
    for doc in shown:
        chunk = details[doc.best_chunk["id"]]
        anchor = chunk["anchor"] or None
        hits.append(
            SearchHit(
                open_with=f"{doc.doc_id}#{anchor}" if anchor else doc.doc_id,
                doc_id=doc.doc_id,
                source_path=snapshot.docs[doc.doc_id]["path"],
                section=anchor,
                title=snapshot.docs[doc.doc_id]["title"],
                heading_path=[h for h in chunk["heading_path"].split(" > ") if h],
                snippet=_snippet(chunk["text"]),
                score=round(doc.score, 6),
                matched_by=None if matched is None else matched.get(doc.doc_id, []),
                origin=Origin.of(snapshot.publication.origin, snapshot.docs[doc.doc_id]["path"]),
            )
        )
    return hits


def _per_example(rows: list[dict]) -> list[dict]:
    """Code candidates keyed by example, so fusion ranks examples, not pages (the page is in details)."""
    return [{**row, "doc_id": row["id"]} for row in rows]


def _by_count(snapshot: Snapshot) -> list[tuple[str, int]]:
    return sorted(snapshot.code_languages.items(), key=lambda item: (-item[1], item[0]))


def build_code_hits(
    ranked: list[RankedDoc],
    snapshot: Snapshot,
    limit: int,
    matched: Mapping[str, list[TextKind]] | None = None,
) -> list[SearchHit]:
    shown = ranked[:limit]
    details = snapshot.code_details([example.best_chunk for example in shown])
    hits = []
    for example in shown:
        row = details[example.best_chunk["id"]]
        anchor = row["anchor"] or None
        code, truncated = _fit_code(row["code"])
        hits.append(
            SearchHit(
                open_with=f"{row['doc_id']}#{anchor}" if anchor else row["doc_id"],
                doc_id=row["doc_id"],
                source_path=snapshot.docs[row["doc_id"]]["path"],
                section=anchor,
                title=snapshot.docs[row["doc_id"]]["title"],
                heading_path=[h for h in row["heading_path"].split(" > ") if h],
                snippet=_snippet(row["code"]),
                score=round(example.score, 6),
                kind="code",
                language=row["language"],
                code=code,
                code_truncated=truncated,
                context=row["context"],
                line=row["line"],
                matched_by=None if matched is None else matched.get(example.doc_id, []),
                origin=Origin.of(snapshot.publication.origin, snapshot.docs[row["doc_id"]]["path"]),
            )
        )
    return hits


def _fit_code(code: str) -> tuple[str, bool]:
    """The code, or its first lines up to MAX_CODE_CHARS; True when it was cut."""
    if len(code) <= MAX_CODE_CHARS:
        return code, False
    cut = code.rfind("\n", 0, MAX_CODE_CHARS)
    return code[: cut if cut > 0 else MAX_CODE_CHARS], True


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    cut = flat.rfind(" ", 0, SNIPPET_CHARS)
    return flat[: cut if cut > 0 else SNIPPET_CHARS] + "…"


def _page_end(text: str, start: int, max_chars: int) -> int:
    """End of a page: at most max_chars on, pulled back to a line break when one is near."""
    end = min(len(text), start + max_chars)
    if end == len(text):
        return end
    newline = text.rfind("\n", start, end)
    return newline + 1 if newline > start + max_chars // 2 else end


def _unknown_doc(requested: str, snapshot: Snapshot) -> NotFoundError:
    shown = requested if len(requested) <= 200 else requested[:200] + "…"
    close = difflib.get_close_matches(requested.partition("#")[0], list(snapshot.docs), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return NotFoundError(
        f"unknown doc {shown!r}.{hint} Call search_docs to find pages, or list_docs to see every id.",
        suggestions=close,
    )


def _nav_key(row: dict[str, Any]) -> tuple[Any, ...]:
    folder, _, name = row["id"].rpartition("/")
    is_index = name.lower() in ("index", "readme")
    order = row["order"] if row["order"] is not None else float("inf")
    return (folder.split("/") if folder else [], not is_index, order, row["title"].lower())


def _folder(folders: dict[str, DocFolder], path: str) -> DocFolder:
    if path in folders:
        return folders[path]
    parent = _folder(folders, path.rpartition("/")[0])
    folder = DocFolder(path=path, title=path.rpartition("/")[2])
    parent.folders.append(folder)
    folders[path] = folder
    return folder


def _title_folders(folder: DocFolder, snapshot: Snapshot) -> None:
    """A folder takes its index page's title and order, if it has one; otherwise its name."""
    orders: dict[str, float] = {}
    for child in folder.folders:
        _title_folders(child, snapshot)
        index_row = next(
            (
                snapshot.docs[f"{child.path}/{name}"]
                for name in ("index", "README")
                if f"{child.path}/{name}" in snapshot.docs
            ),
            None,
        )
        if index_row is not None:
            child.title = index_row["title"]
            orders[child.path] = index_row["order"] if index_row["order"] is not None else float("inf")
        else:
            child.title = re.sub(r"[-_]+", " ", child.title).strip().capitalize() or child.title
    folder.folders.sort(key=lambda f: (orders.get(f.path, float("inf")), f.title.lower()))
