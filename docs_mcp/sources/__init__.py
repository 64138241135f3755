"""Where documents come from: one module per kind of source, behind one small interface.

    folder    a folder of Markdown files on this machine
    website   the pages an llms.txt, a sitemap or a list of URLs links to, mirrored
    git       sources/git.py: a git repository at one or more refs, each ref a version

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

from docs_mcp.collection import Scope, index_scope
from docs_mcp.errors import IndexLockedError
from docs_mcp.sources.folder import Skipped
from docs_mcp.sources.spec import SourceSpec

if TYPE_CHECKING:
    from docs_mcp.config import Settings

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
        return WebsiteSource(spec, settings)
    return FolderSource(spec, settings)


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


class WebsiteSource:
    """An llms.txt, a sitemap or a list of URLs: the pages are mirrored, then indexed as a folder."""

    kind = "website"

    def __init__(self, spec: SourceSpec, settings: Settings) -> None:
        from docs_mcp.sources.website import RemoteLimits, mirror_dir, remote_source

        self.scope = index_scope(spec.collection, spec.version)
        self.source = remote_source(spec.location, spec.urls_file)
        self.label = self.source.key
        self.mirror = mirror_dir(settings.cache_dir, self.source)
        self.limits = RemoteLimits.from_settings(settings)
        self.notes: list[str] = []

    def checkouts(self, published: PublishedVersions) -> Iterator[Checkout]:
        from docs_mcp.sources.website import mirror_lock, pages_dir, sync_mirror

        with mirror_lock(self.mirror):  # held while the pages are indexed
            fetched = sync_mirror(self.source, self.mirror, self.limits)
            yield Checkout(self.scope, self.label, pages_dir(self.mirror), fetched=fetched)

    def plan(self, published: PublishedVersions) -> list[str]:
        return [
            f"{self.scope.label}: would fetch {self.source.listing_url or self.label} and download the "
            "pages that changed since the last run"
        ]
