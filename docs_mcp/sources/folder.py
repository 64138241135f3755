"""The only code that reads source files: walk a corpus root, confined to it.

Yields each source file's doc id and its text as Markdown (docs_mcp/formats.py
converts MDX, notebooks and MyST), and reports (never raises on) files it will
not read: links that lead outside the root, non-UTF-8 or binary content, files
too large to be documentation, notebooks that are not valid JSON.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from docs_mcp.collection import index_scope
from docs_mcp.errors import CorpusError, SourceFormatError
from docs_mcp.formats import SOURCE_SUFFIXES, suffix_of, to_markdown
from docs_mcp.sources import Checkout, PublishedVersions
from docs_mcp.sources.spec import SourceSpec

if TYPE_CHECKING:
    from docs_mcp.config import Settings

MAX_FILE_BYTES = 5 * 1024 * 1024
# A notebook's size is mostly its outputs (images above all), which are dropped.
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


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
    return str(relative.with_suffix(""))


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
    for folder, subfolders, files in os.walk(resolved_root, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        folder_path = Path(folder)
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(SOURCE_SUFFIXES):
                continue
            path = folder_path / name
            relative = PurePosixPath(path.relative_to(resolved_root).as_posix())
            yield _read(path, relative, resolved_root)


def corpus_fingerprint(root: Path) -> frozenset[tuple[str, int, int]]:
    """(path, size, mtime) of every source file `walk_corpus` would read: cheap to take
    every second, and different whenever a file is added, removed or saved."""
    resolved_root = resolve_root(root)
    seen = set()
    for folder, subfolders, files in os.walk(resolved_root, followlinks=False):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(SOURCE_SUFFIXES):
                continue
            path = Path(folder) / name
            try:
                stat = path.stat()
            except OSError:
                continue  # removed while we looked, or a broken link: the next look settles it
            seen.add((path.relative_to(resolved_root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return frozenset(seen)


def _read(path: Path, relative: PurePosixPath, root: Path) -> SourceFile | Skipped:
    shown = str(relative)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return Skipped(shown, "broken symbolic link")
    if not real.is_relative_to(root):
        return Skipped(shown, "links outside the corpus folder")
    try:
        size = real.stat().st_size
        suffix = suffix_of(shown)
        limit = MAX_NOTEBOOK_BYTES if suffix == ".ipynb" else MAX_FILE_BYTES
        if size > limit:
            return Skipped(shown, f"larger than {limit // (1024 * 1024)} MB")
        data = real.read_bytes()
    except OSError as error:
        return Skipped(shown, f"cannot be read ({error.strerror})")
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
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return SourceFile(doc_id_for(relative), shown, text, digest)


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
