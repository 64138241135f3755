"""The only code that reads source files: walk a corpus root, confined to it.

Yields each source file's doc id and its text as Markdown (docs_mcp/formats.py
converts MDX, notebooks and MyST), and reports (never raises on) files it will
not read: anything that is not a regular file (a FIFO, a device, a socket: checked
with lstat/stat before anything is opened, and again on the open descriptor),
links that lead outside the root, names that are not valid UTF-8, non-UTF-8 or
binary content, files too large to be documentation (counted while reading, not
trusted from the size the file system reports), notebooks that are not valid JSON,
and any other error while reading or converting one file: one bad file is a
skipped file, never a stopped run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from docs_mcp.collection import index_scope
from docs_mcp.errors import CorpusError, SourceFormatError
from docs_mcp.formats import SOURCE_SUFFIXES, suffix_of, to_markdown
from docs_mcp.ids import escape_doc_id
from docs_mcp.sources import Checkout, PublishedVersions
from docs_mcp.sources.spec import SourceSpec

if TYPE_CHECKING:
    from docs_mcp.config import Settings

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 5 * 1024 * 1024
# A notebook's size is mostly its outputs (images above all), which are dropped.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
# What the rest of the pipeline gets from one file, converted: about 10 s of parsing and
# chunking at worst (scripts/bench_hostile_files.py), whatever the file holds.
MAX_MARKDOWN_CHARS = MAX_FILE_BYTES
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO put in place after the check still cannot block the open
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@dataclass(frozen=True)
class SourceFile:
    doc_id: str
    path: str  # relative to the root, POSIX
    text: str  # Markdown: what the file holds, converted when it is MDX, a notebook or MyST
    content_hash: str  # of `text`, so a notebook re-run with the same output is not re-embedded


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def doc_id_for(relative: PurePosixPath) -> str:
    """The path without its suffix, escaped where it would not survive `id#anchor` (ids.py)."""
    return escape_doc_id(str(relative.with_suffix("")))


def resolve_root(root: Path) -> Path:
    if not root.exists():
        raise CorpusError(
            f"corpus folder {root} does not exist; pass the folder that holds your Markdown docs"
        )
    if not root.is_dir():
        raise CorpusError(f"{root} is a file, not a folder; pass the folder that holds your Markdown docs")
    return root.resolve()


def walk_corpus(root: Path) -> Iterator[SourceFile | Skipped]:
    """Every source file under `root` (SOURCE_SUFFIXES), sorted, hidden folders and files left out."""
    resolved_root = resolve_root(root)
    unreadable: list[OSError] = []
    for folder_path, subfolders, files in _walk(resolved_root, unreadable):
        while unreadable:
            error = unreadable.pop()
            yield Skipped(
                _shown(Path(error.filename or folder_path), resolved_root) + "/", _cannot_read(error)
            )
        kept = []
        for name in sorted(subfolders):
            if name.startswith("."):
                continue
            if not _is_utf8(name):
                yield Skipped(_shown(folder_path / name, resolved_root) + "/", _NOT_UTF8_NAME)
                continue
            kept.append(name)
        subfolders[:] = kept
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(SOURCE_SUFFIXES):
                continue
            path = folder_path / name
            if not _is_utf8(name):
                yield Skipped(_shown(path, resolved_root), _NOT_UTF8_NAME)
                continue
            relative = PurePosixPath(path.relative_to(resolved_root).as_posix())
            yield _read(path, relative, resolved_root)
    for error in unreadable:  # the root itself, if it became unreadable
        yield Skipped(_shown(Path(error.filename or resolved_root), resolved_root) + "/", _cannot_read(error))


def _walk(root: Path, errors: list[OSError]) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk(root) top-down, without following links, and without recursion: Python 3.11's
    os.walk recurses once per folder level, so a tree a thousand folders deep ended the run
    with RecursionError. The caller may prune and sort the folder list in place, as with os.walk;
    a folder that cannot be listed goes to `errors`. A link to a folder is listed as a file
    (the reader reports it), never entered."""
    pending = [root]
    while pending:
        folder = pending.pop()
        folders: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        is_folder = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_folder = False
                    (folders if is_folder else files).append(entry.name)
        except OSError as error:
            errors.append(error)
            continue
        yield folder, folders, files
        pending.extend(folder / name for name in reversed(folders))


_NOT_UTF8_NAME = "its name is not valid UTF-8; rename it to index it"


def _is_utf8(name: str) -> bool:
    """False for a name os.walk could only decode with surrogate escapes (bytes not UTF-8)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(path: Path, root: Path) -> str:
    """A path for the report: relative to the root, with undecodable bytes as \\xNN."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        relative = path
    return os.fsencode(relative.as_posix()).decode("utf-8", "backslashreplace")


def _cannot_read(error: OSError) -> str:
    return f"cannot be read ({error.strerror or type(error).__name__})"


def corpus_fingerprint(root: Path) -> frozenset[tuple[str, int, int]]:
    """(path, size, mtime) of every source file `walk_corpus` would read: cheap to take
    every second, and different whenever a file is added, removed or saved."""
    resolved_root = resolve_root(root)
    seen = set()
    for folder, subfolders, files in _walk(resolved_root, []):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(SOURCE_SUFFIXES):
                continue
            path = folder / name
            try:
                info = path.stat()
            except OSError:
                continue  # removed while we looked, or a broken link: the next look settles it
            seen.add((path.relative_to(resolved_root).as_posix(), info.st_size, info.st_mtime_ns))
    return frozenset(seen)


def _read(path: Path, relative: PurePosixPath, root: Path) -> SourceFile | Skipped:
    shown = str(relative)
    try:
        return _read_source(path, relative, root)
    except Exception as error:  # one file never stops the run: it is skipped, with the reason
        log.debug("reading %s failed", shown, exc_info=True)
        return Skipped(shown, f"could not be read ({type(error).__name__}: {str(error)[:200]})")


def _read_source(path: Path, relative: PurePosixPath, root: Path) -> SourceFile | Skipped:
    shown = str(relative)
    suffix = suffix_of(shown)
    limit = MAX_NOTEBOOK_BYTES if suffix == ".ipynb" else MAX_FILE_BYTES
    try:
        info = os.lstat(path)
        real = path
        if stat.S_ISLNK(info.st_mode):
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):
                return Skipped(shown, "broken symbolic link")
            if not real.is_relative_to(root):
                return Skipped(shown, "links outside the corpus folder")
            info = os.stat(real)
        if not stat.S_ISREG(info.st_mode):
            return Skipped(shown, f"not a regular file ({_kind(info.st_mode)}); only files are read")
        if info.st_size > limit:
            return Skipped(shown, f"larger than {limit // (1024 * 1024)} MB")
        data = _read_at_most(real, limit)
    except OSError as error:
        return Skipped(shown, _cannot_read(error))
    if data is None:
        return Skipped(shown, "not a regular file; only files are read")
    if len(data) > limit:
        return Skipped(shown, f"larger than {limit // (1024 * 1024)} MB")
    if b"\x00" in data:
        return Skipped(shown, "binary content (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return Skipped(shown, f"not valid UTF-8 (byte {error.start})")
    # Line endings are normalised so a checkout on Windows indexes the same as on Linux.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        text = to_markdown(text, suffix)
    except SourceFormatError as error:
        return Skipped(shown, str(error))
    if len(text) > MAX_MARKDOWN_CHARS:
        return Skipped(shown, f"converts to more than {MAX_MARKDOWN_CHARS // (1024 * 1024)} MB of Markdown")
    # A notebook's JSON can spell lone surrogates (\\ud800), which no UTF-8 store accepts.
    encoded = text.encode("utf-8", "replace")
    text = encoded.decode("utf-8")
    return SourceFile(doc_id_for(relative), shown, text, hashlib.sha256(encoded).hexdigest())


def _read_at_most(path: Path, limit: int) -> bytes | None:
    """Up to limit + 1 bytes of a regular file (so the caller sees it is over), or None when
    what was opened is not a regular file (it was swapped after the check)."""
    descriptor = os.open(path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        parts = []
        remaining = limit + 1
        while remaining > 0:
            part = os.read(descriptor, min(remaining, 1 << 20))
            if not part:
                break
            parts.append(part)
            remaining -= len(part)
        return b"".join(parts)
    finally:
        os.close(descriptor)


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISFIFO: "a named pipe",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
        stat.S_ISDIR: "a folder",
    }
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


class FolderSource:
    """A folder on this machine: one version, indexed as it is."""

    kind = "folder"

    def __init__(self, spec: SourceSpec, settings: Settings) -> None:
        self.scope = index_scope(spec.collection, spec.version)
        self.root = Path(spec.location).expanduser() if spec.location else settings.corpus
        self.label = str(self.root.resolve())
        self.notes: list[str] = []

    def checkouts(self, published: PublishedVersions) -> Iterator[Checkout]:
        yield Checkout(self.scope, self.label, self.root)

    def plan(self, published: PublishedVersions) -> list[str]:
        return [f"{self.scope.label}: {published.changes(self.scope, self.root)}"]
