"""Collections and versions: several doc sets in one index, named and chosen here.

Pure: no LanceDB, no I/O. A `Scope` names one (collection, version); every table
of a scope gets its name from `table_name`, so a new kind of table is namespaced
by adding its name to `TABLE_KINDS`. The default collection keeps the plain table
names (`docs`, `chunks`, `publications`), so an index built before collections
existed is the default collection, unchanged.

Which version a request gets when it names none (`default_version`):

1. a version literally named `latest`, if one was indexed (indexing without
   `--version` stores `latest`);
2. else the highest version that starts with a digit (an optional `v` is
   ignored), compared number by number: 2.10 > 2.9 > 2.0 > 1.12;
3. else `main`, if indexed; else the greatest name in that same order.

So `main`, `dev` or `next` are never chosen over a numbered release: ask for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from docs_mcp.errors import ConfigError, UnknownCollectionError

DEFAULT_COLLECTION = "default"
LATEST = "latest"
MAIN = "main"
SEPARATOR = "--"
# Every kind of table a scope owns. A table kind added here is namespaced like the rest.
TABLE_KINDS = ("docs", "chunks", "code", "publications")
# The same errors reach an assistant (tool error) and a person (CLI): name both ways to list.
LIST_THEM = "call list_collections (from the command line: docs-mcp collections)"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Scope:
    """One (collection, version): its own tables and publications in the shared database."""

    collection: str = DEFAULT_COLLECTION
    version: str | None = None  # None for the default collection, which has no versions

    @property
    def is_default(self) -> bool:
        return self.collection == DEFAULT_COLLECTION

    @property
    def label(self) -> str:
        return self.collection if self.version is None else f"{self.collection} {self.version}"


DEFAULT_SCOPE = Scope()


def table_name(kind: str, scope: Scope) -> str:
    """`docs` for the default collection; `docs--NAME--VERSION` for any other."""
    if scope.is_default:
        return kind
    return SEPARATOR.join((kind, scope.collection, scope.version or LATEST))


def parse_table_name(name: str) -> tuple[str, Scope] | None:
    """The inverse of `table_name`, or None for a table that is not one of ours."""
    parts = name.split(SEPARATOR)
    if parts[0] not in TABLE_KINDS:
        return None
    if len(parts) == 1:
        return parts[0], DEFAULT_SCOPE
    if len(parts) == 3 and all(NAME_PATTERN.fullmatch(p) for p in parts[1:]):
        return parts[0], Scope(parts[1], parts[2])
    return None


def check_name(value: str, what: str) -> str:
    """A collection or version name, or a ConfigError that shows a valid one."""
    if NAME_PATTERN.fullmatch(value) and SEPARATOR not in value:
        return value
    shown = value if len(value) <= 80 else value[:80] + "…"
    raise ConfigError(
        f"invalid {what} name {shown!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
        f"letter or digit and without '--' (for example 'python-sdk' or '2.10')"
    )


def index_scope(collection: str | None, version: str | None) -> Scope:
    """The scope an indexing run writes: validated names; a collection without --version is `latest`."""
    if collection is None or collection == DEFAULT_COLLECTION:
        if version is not None:
            raise ConfigError(
                "--version needs --collection: the default collection has no versions; "
                "pass --collection NAME --version V"
            )
        return DEFAULT_SCOPE
    return Scope(check_name(collection, "collection"), check_name(version or LATEST, "version"))


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Compares versions number by number: '2.10' > '2.9', 'v3' > '2.10'."""
    text = version[1:] if version[:1] in "vV" and version[1:2].isdigit() else version
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in re.findall(r"\d+|\D+", text))


def is_numbered(version: str) -> bool:
    return version[:1].isdigit() or (version[:1] in "vV" and version[1:2].isdigit())


def sort_versions(versions: Iterable[str]) -> list[str]:
    """Oldest first, in the order `default_version` compares them."""
    return sorted(versions, key=lambda v: (is_numbered(v), version_key(v)))


def default_version(versions: Sequence[str]) -> str:
    """The version a request gets when it names none (see the module docstring)."""
    if LATEST in versions:
        return LATEST
    numbered = [v for v in versions if is_numbered(v)]
    if numbered:
        return max(numbered, key=version_key)
    if MAIN in versions:
        return MAIN
    return max(versions, key=version_key)


def describe(catalogue: Mapping[str, Sequence[str]]) -> str:
    """'a (1.0, 2.0), b (latest)': what an error lists as indexed."""
    if not catalogue:
        return "nothing yet"
    return ", ".join(
        name if name == DEFAULT_COLLECTION else f"{name} ({', '.join(sort_versions(versions))})"
        for name, versions in sorted(catalogue.items())
    )


def resolve(collection: str | None, version: str | None, catalogue: Mapping[str, Sequence[str]]) -> Scope:
    """The scope a request means, against what is indexed (collection name -> its versions).

    An omitted collection is the default one; an omitted version (or `latest` when no
    version is literally named so) is `default_version`. Unknown names raise an error
    that lists what exists and names list_collections.
    """
    name = DEFAULT_COLLECTION if collection is None else collection.strip()
    if name == DEFAULT_COLLECTION:
        if version is not None:
            raise UnknownCollectionError(
                f"the default collection has no versions, so version={version!r} needs a collection; "
                f"indexed: {describe(catalogue)}. {LIST_THEM.capitalize()}"
            )
        return DEFAULT_SCOPE
    versions = catalogue.get(name)
    if not versions:
        close = [c for c in catalogue if c.lower() == name.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise UnknownCollectionError(
            f"unknown collection {shown!r};{hint} indexed: {describe(catalogue)}. {LIST_THEM.capitalize()}",
            suggestions=sorted(catalogue),
        )
    wanted = None if version is None else version.strip()
    if wanted is None or (wanted == LATEST and LATEST not in versions):
        return Scope(name, default_version(versions))
    if wanted.removeprefix("v") in versions and wanted not in versions:
        wanted = wanted.removeprefix("v")
    if wanted not in versions:
        shown = wanted if len(wanted) <= 80 else wanted[:80] + "…"
        raise UnknownCollectionError(
            f"collection {name!r} has no version {shown!r}; its versions: "
            f"{', '.join(sort_versions(versions))}. Omit version for {default_version(versions)!r}, "
            f"or {LIST_THEM}",
            suggestions=sort_versions(versions),
        )
    return Scope(name, wanted)
