"""Every way an index can be left broken, and the next `docs-mcp index` repairing it with no
manual step: a run killed (a real SIGKILL of a real process) after any one of its writes, index
files deleted or truncated, the publication log deleted, tags of an interrupted run, a full disk.
Each test damages a real LanceDB folder the way a crash, a user or a full disk would, then checks
that a reader is never handed an incomplete version and that the next run recovers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lancedb
import pytest

from docs_mcp.errors import IndexReadError
from docs_mcp.indexer import index_corpus
from docs_mcp.search import DocsService
from docs_mcp.store import IndexStore
from tests.conftest import SAMPLE_CORPUS, HashingEmbedder

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAMPLE_DOC_IDS = {str(p.relative_to(SAMPLE_CORPUS).with_suffix("")) for p in SAMPLE_CORPUS.rglob("*.md")}
CHANGED_PAGE = "guides/installation"
NEW_TEXT = "skyline-queue[redis]"


def reader(db: str, embedder: Any) -> DocsService:
    """What a server holds: a service that checks for new publications on every request."""
    return DocsService(IndexStore(db), lambda: embedder, model=embedder.name, refresh_seconds=0)


def change_corpus(corpus: Path) -> None:
    """One page changed, one removed, one added: every kind of write an update makes."""
    page = corpus / "guides" / "installation.md"
    page.write_text(page.read_text(encoding="utf-8").replace("skyline-queue", NEW_TEXT), "utf-8")
    (corpus / "concepts" / "brokers.md").unlink()
    (corpus / "guides" / "new-page.md").write_text("# New page\n\nAdded by the update.\n", "utf-8")


OLD_IDS = frozenset(SAMPLE_DOC_IDS)
NEW_IDS = frozenset(SAMPLE_DOC_IDS - {"concepts/brokers"} | {"guides/new-page"})


def served_version(service: DocsService) -> frozenset[str]:
    """The doc ids a reader serves, after checking that what it serves is one whole version:
    the page list, the page text and the keyword and vector searches all agree."""
    listed = service.list_docs()
    ids = frozenset(entry.id for folder in _folders(listed.root) for entry in folder.docs)
    assert ids in (OLD_IDS, NEW_IDS), f"an incomplete version is served: {sorted(ids)}"
    page = service.get_doc(CHANGED_PAGE).content
    assert (NEW_TEXT in page) == (ids == NEW_IDS), "page text and page list come from different versions"
    for mode in ("fts", "vector"):
        hits = service.search("install with pip", mode=mode).hits
        assert hits and all(hit.doc_id in ids for hit in hits), (mode, hits)
    return ids


def _folders(folder: Any) -> list[Any]:
    found = [folder]
    for child in folder.folders:
        found += _folders(child)
    return found


def run_killer(corpus: Path, db: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.writer_killer", str(corpus), db, *options],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env=dict(os.environ),
    )


def writes_of_one_run(corpus: Path, db: str, scratch: Path) -> int:
    """How many LanceDB writes the next run on `db` makes, counted on a copy."""
    shutil.copytree(db, scratch)
    finished = run_killer(corpus, str(scratch))
    assert finished.returncode == 0, finished.stderr
    shutil.rmtree(scratch)
    return int(finished.stdout.split()[0])


# -- a run killed after any one of its writes -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("run", ["update", "rebuild"])
def test_a_run_killed_after_any_write_leaves_a_whole_version_served_and_the_next_run_recovers(
    tmp_path: Path, corpus: Path, fake_embedder: HashingEmbedder, run: str
) -> None:
    """`update` changes, removes and adds pages; `rebuild` starts over because the publication
    log was deleted. The run is killed after its 1st write, then after its 2nd, and so on
    through tagging, recording the publication and retiring old versions."""
    base = tmp_path / "base"
    index_corpus(corpus, IndexStore(str(base)), fake_embedder)
    change_corpus(corpus)
    if run == "rebuild":
        shutil.rmtree(base / "publications.lance")
    total = writes_of_one_run(corpus, str(base), tmp_path / "count")
    assert total >= 10, total

    for kill_after in range(1, total + 1):
        db = tmp_path / f"killed-after-{kill_after}"
        shutil.copytree(base, db)
        holding = reader(str(db), fake_embedder) if run == "update" else None
        killed = run_killer(corpus, str(db), "--kill-after", str(kill_after))
        assert killed.returncode == -9, (kill_after, killed.stdout, killed.stderr[-2000:])

        if holding is not None:  # a server that was running: still one whole version
            served_version(holding)
        fresh = reader_if_published(str(db), fake_embedder)
        if fresh is not None:
            served_version(fresh)

        report = index_corpus(corpus, IndexStore(str(db)), fake_embedder)
        assert report.index_version is not None
        for service in (holding, reader(str(db), fake_embedder)):
            if service is not None:
                assert served_version(service) == NEW_IDS, kill_after
        again = index_corpus(corpus, IndexStore(str(db)), fake_embedder)
        assert (again.published, again.repaired) == (False, []), (kill_after, again.repaired)
        shutil.rmtree(db)


def reader_if_published(db: str, embedder: Any) -> DocsService | None:
    """A reader opened now, or None when nothing was ever published there (the rebuild's log
    was deleted, and the killed run did not get as far as recording its publication)."""
    from docs_mcp.errors import IndexNotFoundError

    try:
        return reader(db, embedder)
    except IndexNotFoundError:
        return None


@pytest.mark.slow
def test_a_run_killed_as_its_first_tag_file_appears_does_not_block_the_next_run(
    tmp_path: Path, corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    """The case as reported: kill -9 the moment `pub-2` appears on disk; every later run failed
    with `tag pub-2 already exists`."""
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    change_corpus(corpus)
    killed = run_killer(corpus, db, "--kill-when-file-appears", "*.lance/_refs/tags/pub-2.json")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert list(Path(db).glob("*.lance/_refs/tags/pub-2.json"))
    assert served_version(reader(db, fake_embedder)) == OLD_IDS

    report = index_corpus(corpus, IndexStore(db), fake_embedder)
    assert report.published and report.index_version == 3  # numbered above the stray tag
    assert served_version(reader(db, fake_embedder)) == NEW_IDS


# -- damage found by the next run -----------------------------------------------------------------


def _delete_index(table: str) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        for index in (db / f"{table}.lance" / "_indices").iterdir():
            shutil.rmtree(index)

    return damage


def _truncate_index(table: str) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        for file in (db / f"{table}.lance" / "_indices").rglob("*"):
            if file.is_file():
                file.write_bytes(b"")

    return damage


def _truncate_data(table: str) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        for file in (db / f"{table}.lance" / "data").iterdir():
            file.write_bytes(b"")

    return damage


def _delete_table(table: str) -> Callable[[Path], None]:
    return lambda db: shutil.rmtree(db / f"{table}.lance")


def _tag_a_version_nobody_published(db: Path) -> None:
    """What a run killed between tagging and recording leaves: pub-2 on every table."""
    connection = lancedb.connect(str(db))
    for name in ("docs", "chunks", "code"):
        table = connection.open_table(name)
        table.tags.create("pub-2", table.version)


def _delete_published_tags(db: Path) -> None:
    for tag in db.glob("*.lance/_refs/tags/pub-1.json"):
        tag.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "keyword index deleted": _delete_index("chunks"),
    "keyword index truncated to 0 bytes": _truncate_index("chunks"),
    "code keyword index deleted": _delete_index("code"),
    "data files truncated": _truncate_data("chunks"),
    "chunks table deleted": _delete_table("chunks"),
    "publication log deleted": _delete_table("publications"),
    "publication log truncated": _truncate_data("publications"),
    "tags of an interrupted run": _tag_a_version_nobody_published,
    "tags of the published version deleted": _delete_published_tags,
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_the_next_run_repairs_damage_with_no_manual_step_even_when_no_doc_changed(
    tmp_path: Path, corpus: Path, fake_embedder: HashingEmbedder, damage: str
) -> None:
    db = tmp_path / "db"
    index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    DAMAGE[damage](db)

    report = index_corpus(corpus, IndexStore(str(db)), fake_embedder)

    if damage == "tags of an interrupted run":  # harmless until the next publication...
        assert not report.published and report.repaired == []
        change_corpus(corpus)
        report = index_corpus(corpus, IndexStore(str(db)), fake_embedder)  # ...which must not collide
        assert report.published and report.index_version == 3
    else:
        assert report.published and report.repaired, report.as_dict()
        assert report.index_version is not None and report.index_version >= 2  # above every old tag
    served = served_version(reader(str(db), fake_embedder))
    assert served == (NEW_IDS if damage == "tags of an interrupted run" else OLD_IDS)
    again = index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    assert (again.published, again.repaired) == (False, []), again.as_dict()


def test_a_deleted_and_rebuilt_index_is_a_new_one_to_a_running_reader_though_its_numbers_restart(
    tmp_path: Path, corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    db = tmp_path / "db"
    index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    holding = reader(str(db), fake_embedder)
    assert served_version(holding) == OLD_IDS
    shutil.rmtree(db)

    # A search may still answer from what the reader holds in memory (vectors, the keyword
    # index's cache); whatever must be read from the vanished files fails in words.
    with pytest.raises(IndexReadError, match="changed or disappeared while this server was serving"):
        holding.get_doc(CHANGED_PAGE)

    change_corpus(corpus)
    report = index_corpus(corpus, IndexStore(str(db)), fake_embedder)
    assert report.index_version == 1  # the same number the reader holds...
    assert served_version(holding) == NEW_IDS  # ...but another index: the reader switched


# -- a full disk ----------------------------------------------------------------------------------

FULL_DISK = textwrap.dedent(
    """\
    set -u
    mount -t tmpfs -o size=16m tmpfs "$MOUNT" || exit 99
    run() { "$BIN/docs-mcp" "$@" --db "$MOUNT/db"; }
    run index "$OLD" > "$OUT/first.out" 2>&1; echo "$?" > "$OUT/first.rc"
    "$BIN/python" -c "import os; s = os.statvfs('$MOUNT'); \\
    open('$MOUNT/filler', 'wb').write(bytes(s.f_bavail * s.f_frsize - 4096))"
    run index "$NEW" > "$OUT/full.out" 2> "$OUT/full.err"; echo "$?" > "$OUT/full.rc"
    run get guides/installation > "$OUT/serving.out" 2>&1
    rm "$MOUNT/filler"
    run index "$NEW" > "$OUT/after.out" 2>&1; echo "$?" > "$OUT/after.rc"
    run get guides/installation > "$OUT/served.out" 2>&1
    """
)


@pytest.mark.slow
def test_a_full_disk_ends_the_run_in_one_line_and_the_next_run_after_freeing_space_publishes(
    tmp_path: Path, corpus: Path
) -> None:
    """A real ENOSPC: the index lives on a 16 MB tmpfs, mounted in a user namespace so no
    privileges are needed, and filled to its last 4 KB before the second run."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private tmpfs")
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not available here: {probe.stderr.decode()[-300:]}")
    new = tmp_path / "new"
    shutil.copytree(corpus, new)
    change_corpus(new)
    mount, out = tmp_path / "mnt", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    env = {**os.environ, "MOUNT": str(mount), "OUT": str(out), "BIN": str(BIN), "OLD": str(corpus)}
    env["NEW"] = str(new)
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", FULL_DISK],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    if done.returncode == 99:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {done.stderr[-300:]}")

    def read(name: str) -> str:
        return (out / name).read_text(encoding="utf-8", errors="replace")

    assert read("first.rc").strip() == "0", read("first.out")
    assert read("full.rc").strip() == "1", read("full.err")
    error = read("full.err")
    assert "Traceback" not in error and len(error.strip().splitlines()) == 1, error
    assert "no space left on the disk" in error and "version 1 keeps serving" in error, error
    assert "Free some space" in error
    assert "skyline-queue" in read("serving.out") and NEW_TEXT not in read("serving.out")
    assert read("after.rc").strip() == "0", read("after.out")
    assert NEW_TEXT in read("served.out"), read("served.out")
