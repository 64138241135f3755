"""Where documents come from: one module per kind of source, behind one small interface.

    folder.py    a folder of Markdown files on this machine: the only code that reads them
    website.py   the pages an llms.txt, a sitemap or a list of URLs links to, mirrored
    git.py       a git repository at one or more refs, each ref a version

`docs-mcp index` and `docs-mcp sync` both describe what to index as a `SourceSpec`
(the arguments of one `index` command, or one `[[sources]]` table: sources/spec.py),
`open_source` turns it into a `DocSource`, and `sync.index_source` indexes each
`Checkout` the source yields: one per version, each published on its own.

A source never writes the index. It brings its documents into a folder (a mirror,
a checkout) and says which collection and version they are, what the index records
as their source (`label`, never a credential) and what a reader may cite (`origin`).
Before fetching anything it may ask `PublishedVersions` whether the version that is
published was built from exactly what it would fetch, and then yield a checkout
with no folder: nothing to do.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from docs_mcp.collection import Scope
from docs_mcp.errors import IndexLockedError
from docs_mcp.sources.spec import SourceSpec

if TYPE_CHECKING:
    from docs_mcp.config import Settings
    from docs_mcp.sources.folder import Skipped

__all__ = ["Checkout", "DocSource", "PublishedVersions", "SourceSpec", "open_source"]


@dataclass(frozen=True)
class Checkout:
    """One version of a source: a folder to index, or (root None) a version already current."""

    scope: Scope
    label: str  # what the index records as this version's source (the corpus guard compares it)
    root: Path | None  # the folder to index; None when the published version is up to date
    origin: Mapping[str, str] = field(default_factory=dict)  # what a reader may cite (git)
    skipped: tuple[Skipped, ...] = ()  # files the source itself left out (an LFS pointer)
    fetched: Any = None  # a website's remote.SyncReport: what was downloaded
    error: str | None = None  # this version could not be brought in (the others go on)


class PublishedVersions(Protocol):
    """What the index holds, as a source may ask before it fetches anything."""

    def is_current(self, scope: Scope, label: str, origin: Mapping[str, str]) -> bool:
        """Whether `scope` is published from `label` at exactly `origin`, by this model and pipeline."""
        ...

    def origins(self, collection: str, label: str) -> dict[str, dict[str, str]]:
        """version -> recorded origin, for the versions of `collection` published from `label`."""
        ...

    def changes(self, scope: Scope, root: Path) -> str:
        """What indexing `root` into `scope` would change, in words ("2 added, 1 changed, ...")."""
        ...


class DocSource(Protocol):
    kind: str  # "folder", "website" or "git"
    label: str  # what people see and the index records; never a credential
    notes: list[str]  # what a run noticed about the source as a whole (a tag deleted upstream)

    def checkouts(self, published: PublishedVersions) -> Iterator[Checkout]:
        """Each version, brought into a folder, one at a time: a folder stays as it is until the
        next one is asked for (a git checkout moves on), so index each before taking the next."""
        ...

    def plan(self, published: PublishedVersions) -> list[str]:
        """What a run would do, for --dry-run: one line per version, without changing anything."""
        ...


@contextlib.contextmanager
def alone_in(folder: Path, busy: str) -> Iterator[None]:
    """Hold `folder` (a mirror, a cache repository) for one run: a second run fails at once with
    `busy` (an IndexLockedError) instead of interleaving its writes with the first one's."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLockedError(busy) from None
            raise
        yield


def open_source(spec: SourceSpec, settings: Settings) -> DocSource:
    """The source a spec describes; a ConfigError for options that do not fit its kind."""
    spec.check()
    if spec.kind == "git":
        from docs_mcp.sources.git import GitSource

        return GitSource(spec, settings)
    if spec.kind == "website":
        from docs_mcp.sources.website import WebsiteSource  # httpx: imported for a website only

        return WebsiteSource(spec, settings)
    from docs_mcp.sources.folder import FolderSource

    return FolderSource(spec, settings)
