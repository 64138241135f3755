import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from docs_mcp.collection import DEFAULT_SCOPE
from docs_mcp.errors import (
    CorpusError,
    IndexLockedError,
    IndexNotFoundError,
    IndexStateError,
    ModelMismatchError,
)
from docs_mcp.indexer import index_corpus
from docs_mcp.search import DocsService
from docs_mcp.sources.folder import MAX_FILE_BYTES
from docs_mcp.store import IndexStore
from tests.conftest import wait_for

SAMPLE_DOCS = 9


def service(db, embedder):
    return DocsService(IndexStore(db), lambda: embedder, model=embedder.name, refresh_seconds=0)


def test_first_run_indexes_every_doc_and_publishes_version_1(corpus, tmp_path, fake_embedder):
    report = index_corpus(corpus, IndexStore(str(tmp_path / "db")), fake_embedder)
    assert len(report.added) == SAMPLE_DOCS and report.published and report.index_version == 1
    assert report.chunks_embedded + report.code_embedded == fake_embedder.documents_embedded
    assert report.chunks_embedded > SAMPLE_DOCS and report.code_embedded > 0
    assert any("broken-front-matter.md" in w and "YAML" in w for w in report.warnings)


def test_a_rerun_with_nothing_changed_embeds_nothing_and_publishes_nothing(corpus, tmp_path, fake_embedder):
    store = IndexStore(str(tmp_path / "db"))
    index_corpus(corpus, store, fake_embedder)
    fake_embedder.documents_embedded = 0
    report = index_corpus(corpus, store, fake_embedder)
    assert (report.chunks_embedded, fake_embedder.documents_embedded) == (0, 0)
    assert report.unchanged == SAMPLE_DOCS and not report.published and report.index_version == 1


def test_a_changed_file_is_the_only_one_re_embedded(corpus, tmp_path, fake_embedder):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    page = corpus / "guides" / "retries.md"
    page.write_text(
        page.read_text(encoding="utf-8") + "\n## Jitter\n\nAdd random jitter.\n", encoding="utf-8"
    )
    fake_embedder.documents_embedded = 0
    report = index_corpus(corpus, IndexStore(db), fake_embedder)
    assert report.changed == ["guides/retries"] and report.index_version == 2
    assert fake_embedder.documents_embedded == report.chunks_embedded + report.code_embedded <= 5
    assert "guides/retries#jitter" in service(db, fake_embedder).get_doc("guides/retries").sections


def test_a_deleted_file_disappears_from_docs_and_search(corpus, tmp_path, fake_embedder):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    (corpus / "concepts" / "brokers.md").unlink()
    report = index_corpus(corpus, IndexStore(db), fake_embedder)
    assert report.removed == ["concepts/brokers"] and report.chunks_embedded == 0 and report.published
    docs = service(db, fake_embedder)
    assert "concepts/brokers" not in {h.doc_id for h in docs.search("visibility timeout LMOVE", 20).hits}
    assert docs.list_docs().total_docs == SAMPLE_DOCS - 1


def test_unreadable_or_foreign_files_are_skipped_and_reported(corpus, tmp_path, fake_embedder):
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n\npassword\n", encoding="utf-8")
    (corpus / "leak.md").symlink_to(outside)
    (corpus / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    (corpus / "binary.md").write_bytes(b"# x\x00\x01")
    (corpus / "huge.md").write_bytes(b"a" * (MAX_FILE_BYTES + 1))
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "draft.md").write_text("# Draft\n", encoding="utf-8")
    (corpus / "notes.txt").write_text("not markdown", encoding="utf-8")
    report = index_corpus(corpus, IndexStore(str(tmp_path / "db")), fake_embedder)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons == {
        "binary.md": "binary content (NUL bytes)",
        "huge.md": "larger than 5 MB",
        "latin1.md": "not valid UTF-8 (byte 5)",
        "leak.md": "links outside the corpus folder",
    }
    assert len(report.added) == SAMPLE_DOCS


def test_a_missing_or_empty_corpus_is_a_clear_error(tmp_path, fake_embedder):
    store = IndexStore(str(tmp_path / "db"))
    with pytest.raises(CorpusError, match="does not exist"):
        index_corpus(tmp_path / "nope", store, fake_embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no Markdown files"):
        index_corpus(tmp_path / "empty", store, fake_embedder)
    assert store.latest_publication() is None


def test_serving_with_another_model_is_refused_and_reindexing_with_it_rebuilds(
    corpus, tmp_path, fake_embedder, embedder
):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    with pytest.raises(ModelMismatchError, match="built with model 'test-hashing'"):
        service(db, embedder)
    report = index_corpus(corpus, IndexStore(db), embedder)
    assert report.rebuilt and len(report.added) == SAMPLE_DOCS
    assert IndexStore(db).latest_publication().dim == 384
    assert service(db, embedder).search("install with pip").hits[0].doc_id == "guides/installation"


def test_an_empty_store_says_how_to_build_an_index(tmp_path, fake_embedder):
    with pytest.raises(IndexNotFoundError, match="run `docs-mcp index"):
        service(str(tmp_path / "db"), fake_embedder)


def test_a_second_indexer_is_refused_while_one_holds_the_lock(corpus, tmp_path, fake_embedder):
    store = IndexStore(str(tmp_path / "db"))
    with (
        store.writer(fake_embedder.name, fake_embedder.dim),
        pytest.raises(IndexLockedError, match="holds the lock"),
    ):
        index_corpus(corpus, IndexStore(str(tmp_path / "db")), fake_embedder)


KILL_DURING = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from docs_mcp.embed import FastEmbedder
    from docs_mcp.indexer import index_corpus
    from docs_mcp.store import IndexStore, IndexWriter

    corpus, db, cache, stage = sys.argv[1:5]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if stage == "publish":  # every table change is committed; the publication is not
        IndexWriter.publish = die
    else:  # old chunks are deleted, new ones not yet added
        IndexWriter.add_chunks = die
    model = FastEmbedder("all-MiniLM-L6-v2-int8", Path(cache))
    index_corpus(Path(corpus), IndexStore(db), model, replace=True)  # callers may alternate folders
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["publish", "add_chunks"])
def test_an_index_run_killed_mid_write_leaves_the_previous_version_serving_and_the_next_run_recovers(
    corpus, tmp_path, embedder, model_cache, stage
):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), embedder)
    page = corpus / "guides" / "installation.md"
    page.write_text(
        page.read_text(encoding="utf-8").replace("skyline-queue", "skyline-queue[redis]"), "utf-8"
    )
    (corpus / "concepts" / "brokers.md").unlink()

    killed = subprocess.run(
        [sys.executable, "-c", KILL_DURING, str(corpus), db, str(model_cache), stage],
        capture_output=True,
        timeout=120,
        env={**os.environ},
    )
    assert killed.returncode == -9, killed.stderr.decode()

    survivor = service(db, embedder)
    assert survivor.info().index_version == 1
    assert "skyline-queue[redis]" not in survivor.get_doc("guides/installation").content
    assert survivor.search("visibility timeout").hits[0].doc_id == "concepts/brokers"

    report = index_corpus(corpus, IndexStore(db), embedder)
    assert (report.changed, report.removed, report.index_version) == (
        ["guides/installation"],
        ["concepts/brokers"],
        2,
    )
    assert survivor.refresh()
    assert "skyline-queue[redis]" in survivor.get_doc("guides/installation").content
    assert survivor.list_docs().total_docs == SAMPLE_DOCS - 1


def test_a_running_service_follows_new_publications(corpus, tmp_path, fake_embedder):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    docs = service(db, fake_embedder)
    (corpus / "guides" / "new.md").write_text("# Brand new page\n\nFresh.\n", encoding="utf-8")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    assert docs.get_doc("guides/new").title == "Brand new page"
    assert docs.info().index_version == 2


def indexed_and_served(corpus, tmp_path, embedder, refresh_seconds):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), embedder)
    return db, DocsService(
        IndexStore(db), lambda: embedder, model=embedder.name, refresh_seconds=refresh_seconds
    )


def test_a_background_follower_switches_versions_with_no_request_checking(corpus, tmp_path, fake_embedder):
    db, docs = indexed_and_served(corpus, tmp_path, fake_embedder, refresh_seconds=0.05)
    docs.follow_in_background()
    try:
        (corpus / "guides" / "new.md").write_text("# Brand new page\n\nFresh.\n", encoding="utf-8")
        index_corpus(corpus, IndexStore(db), fake_embedder)
        follower = docs._followers[DEFAULT_SCOPE]
        wait_for(lambda: follower.snapshot.version == 2, 20, "version 2")  # nothing here asked for it
        assert docs.get_doc("guides/new").title == "Brand new page"
    finally:
        docs.stop_following()


def test_with_a_background_follower_requests_never_read_the_publications_log(
    corpus, tmp_path, fake_embedder, monkeypatch
):
    _, docs = indexed_and_served(corpus, tmp_path, fake_embedder, refresh_seconds=0.02)
    store = docs._followers[DEFAULT_SCOPE].store
    readers = []
    real = store.latest_publication

    def recorded_latest_publication():
        readers.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(store, "latest_publication", recorded_latest_publication)
    docs.follow_in_background()
    try:
        started = time.monotonic()
        while time.monotonic() - started < 0.5:  # many refresh intervals
            docs.search("retries")
            docs.get_doc("guides/retries")
        wait_for(lambda: len(readers) >= 5, 20, "five looks at the publications log")
        assert set(readers) == {"docs-mcp-follow"}
    finally:
        docs.stop_following()


def test_a_background_follower_survives_a_failing_read(corpus, tmp_path, fake_embedder, monkeypatch):
    db, docs = indexed_and_served(corpus, tmp_path, fake_embedder, refresh_seconds=0.05)
    store = docs._followers[DEFAULT_SCOPE].store
    failures = []
    real = store.latest_publication

    def flaky_latest_publication():
        if len(failures) < 3:
            failures.append(1)
            raise OSError("connection reset by peer")
        return real()

    monkeypatch.setattr(store, "latest_publication", flaky_latest_publication)
    docs.follow_in_background()
    try:
        (corpus / "guides" / "new.md").write_text("# Brand new page\n\nFresh.\n", encoding="utf-8")
        index_corpus(corpus, IndexStore(db), fake_embedder)
        wait_for(lambda: docs._followers[DEFAULT_SCOPE].snapshot.version == 2, 20, "version 2")
        assert len(failures) == 3
    finally:
        docs.stop_following()


def test_old_versions_stay_readable_for_a_reader_that_still_holds_them(corpus, tmp_path, fake_embedder):
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    old = IndexStore(db).open_snapshot()
    for n in range(4):
        (corpus / f"extra-{n}.md").write_text(f"# Extra {n}\n\nText {n}.\n", encoding="utf-8")
        index_corpus(corpus, IndexStore(db), fake_embedder)
    assert old.version == 1 and "extra-0" not in old.docs
    assert old.keyword_search("retries", 5) and old.body("guides/retries").startswith("# Retrying")


def test_index_files_are_confined_to_the_index_folder(corpus, tmp_path, fake_embedder):
    db = tmp_path / "db"
    index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    assert sorted(p.name for p in db.iterdir()) == [
        ".docs-mcp.lock",
        "chunks.lance",
        "code.lance",
        "docs.lance",
        "publications.lance",
    ]
    assert not list(Path(corpus).rglob("*.lance"))


@pytest.mark.timeout(120)  # a guard against a hang, not a speed target
def test_pathological_markdown_is_indexed_or_skipped_and_never_hangs(corpus, tmp_path, fake_embedder):
    (corpus / "brackets.md").write_text(
        "# Brackets\n\n" + "[" * 10_000 + "x" + "]" * 10_000 + "\n", encoding="utf-8"
    )
    (corpus / "emphasis.md").write_text("# Emphasis\n\n" + "*a_" * 30_000 + "\n", encoding="utf-8")
    rows = "".join(f"| {i} | cell {i} | {'word ' * 10}|\n" for i in range(5_000))
    (corpus / "table.md").write_text(
        "# Table\n\n| n | name | text |\n|---|---|---|\n" + rows, encoding="utf-8"
    )
    (corpus / "quotes.md").write_text("# Quotes\n\n" + "> " * 5_000 + "deep\n", encoding="utf-8")
    (corpus / "twenty-mb.md").write_bytes(b"# Big\n\n" + b"lorem ipsum " * (20 * 1024 * 1024 // 12))
    report = index_corpus(corpus, IndexStore(str(tmp_path / "db")), fake_embedder)
    assert {s.path: s.reason for s in report.skipped} == {"twenty-mb.md": "larger than 5 MB"}
    assert {"brackets", "emphasis", "table", "quotes"} <= set(report.added)
    docs = service(str(tmp_path / "db"), fake_embedder)
    assert docs.get_doc("table").total_chars > 100_000
    assert docs.search("cell 4999", limit=3).hits


def test_a_damaged_index_is_refused_with_the_fix_and_the_next_run_rebuilds_it(
    corpus, tmp_path, fake_embedder
):
    db = tmp_path / "db"
    index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    for data_file in (db / "chunks.lance" / "data").iterdir():
        data_file.unlink()
    with pytest.raises(IndexStateError, match=r"damaged .*docs-mcp index PATH --db"):
        service(str(db), fake_embedder)
    result = subprocess.run(
        [sys.executable, "-m", "docs_mcp", "list", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is damaged" in result.stderr

    report = index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    assert report.rebuilt and len(report.added) == SAMPLE_DOCS
    assert service(str(db), fake_embedder).search("retries").hits


@pytest.mark.slow
def test_index_watch_reindexes_each_saved_change_and_a_running_service_serves_it(
    corpus, tmp_path, model_cache, embedder
):
    db = str(tmp_path / "db")
    env = dict(os.environ)  # conftest's isolated model cache and XDG folders
    watcher = subprocess.Popen(
        [sys.executable, "-m", "docs_mcp", "index", str(corpus), "--db", db, "--watch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        wait_for(lambda: IndexStore(db).latest_publication(), 120, "the first publication")
        docs = DocsService(IndexStore(db), lambda: embedder, model=embedder.name, refresh_seconds=0)
        assert not docs.search("quokka migration schedule").hits[0].doc_id.startswith("guides/quokka")

        (corpus / "guides" / "quokka.md").write_text(
            "# Quokka migration\n\nThe quokka migration schedule runs every spring.\n", encoding="utf-8"
        )
        hit = wait_for(
            lambda: docs.search("quokka migration schedule").hits[0].doc_id == "guides/quokka",
            60,
            "the new page to be searchable",
        )
        assert hit and docs.snapshot().version == 2

        (corpus / "guides" / "quokka.md").unlink()
        wait_for(lambda: "guides/quokka" not in docs.snapshot().docs, 60, "the deleted page to disappear")
    finally:
        # SIGTERM, as a service manager stops it (a shell's background job ignores SIGINT).
        watcher.send_signal(signal.SIGTERM)
        try:
            _, stderr = watcher.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            raise
    assert watcher.returncode == 0, stderr
    assert "re-indexed: 1 added" in stderr and "stopped watching" in stderr and "Traceback" not in stderr
