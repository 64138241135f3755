"""What to index: one `docs-mcp index` command, or one `[[sources]]` table of the configuration.

    [[sources]]                       # in docs-mcp.toml ([[tool.docs-mcp.sources]] in pyproject.toml)
    source = "git+https://github.com/org/frob.git"
    refs = "v*"
    max_versions = 3
    path = "docs"

    [[sources]]
    source = "handbook"               # a folder, relative to the configuration file
    collection = "handbook"

    [[sources]]
    source = "https://docs.example.com/llms.txt"
    collection = "example"
    version = "2.0"

A table's keys are the `index` command's: `source` (its argument), `urls`,
`collection`, `version`, `ref`, `refs`, `max_versions` and `path`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docs_mcp.config import SOURCES_KEY, ConfigSource, parse_toml
from docs_mcp.errors import ConfigError

GIT_OPTIONS = ("ref", "refs", "max_versions", "path")
_KEYS = ("source", "urls", "collection", "version", *GIT_OPTIONS)
_FLAGS = {"max_versions": "--max-versions", "urls": "--urls"}


@dataclass(frozen=True)
class SourceSpec:
    location: str | None = None  # a folder, the http(s) URL of an llms.txt or sitemap, or a git+ URL
    urls_file: Path | None = None  # a file of page URLs (a website)
    collection: str | None = None
    version: str | None = None
    ref: str | None = None  # git: a branch, tag or commit
    refs: str | None = None  # git: a glob of tags, each one a version
    max_versions: int | None = None  # git with refs: the newest this many
    path: str | None = None  # git: the folder of the repository to index
    where: str = ""  # where a configured source is written ("docs-mcp.toml:12"), for messages

    @property
    def shown(self) -> str:
        """The source as people may see it: a URL without user name or password."""
        return redact_urls(self.location) if self.location is not None else str(self.urls_file)

    @property
    def kind(self) -> str:
        location = self.location or ""
        if location.lower().startswith("git+"):
            return "git"
        if self.urls_file is not None or "://" in location:
            return "website"
        return "folder"

    def check(self) -> None:
        """The options that do not fit this kind of source, as one ConfigError."""
        prefix = f"{self.where}: " if self.where else ""
        if self.urls_file is not None and self.location is not None:
            raise ConfigError(f"{prefix}pass either a folder or URL, or --urls FILE, not both")
        if self.kind != "git":
            given = [_flag(name, self.where) for name in GIT_OPTIONS if getattr(self, name) is not None]
            if given:
                raise ConfigError(
                    f"{prefix}{', '.join(given)} appl{'y' if len(given) > 1 else 'ies'} to git sources "
                    "only (a git+https://, git+ssh://, git+git:// or git+file:// URL)"
                )
            return
        if self.refs is not None and self.ref is not None:
            raise ConfigError(
                f"{prefix}pass {_flag('ref', self.where)} or {_flag('refs', self.where)}, not both"
            )
        if self.refs is not None and self.version is not None:
            raise ConfigError(
                f"{prefix}{_flag('refs', self.where)} makes one version per tag, named as the tag: "
                f"leave out {_flag('version', self.where)}"
            )
        if self.max_versions is not None and self.refs is None:
            raise ConfigError(
                f"{prefix}{_flag('max_versions', self.where)} limits {_flag('refs', self.where)}: "
                f"pass it with {_flag('refs', self.where)}"
            )
        if self.max_versions is not None and self.max_versions < 1:
            raise ConfigError(f"{prefix}{_flag('max_versions', self.where)} must be 1 or more")


def redact_urls(text: str) -> str:
    """Any `scheme://user[:password]@` in `text` without its user information."""
    return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\1", text)


def _flag(name: str, where: str) -> str:
    """How the user wrote an option: a command-line flag, or a key of a [[sources]] table."""
    if where:
        return name
    return _FLAGS.get(name, f"--{name.replace('_', '-')}")


def configured_sources(source: ConfigSource | None) -> list[SourceSpec]:
    """The `[[sources]]` of a configuration file, checked; [] when there are none."""
    if source is None:
        return []
    data = parse_toml(source.path)
    if source.table is not None:
        data = data.get("tool", {}).get(source.table, {})
    tables = data.get(SOURCES_KEY) if isinstance(data, dict) else None
    if tables is None:
        return []
    header = f"[[tool.{source.table}.{SOURCES_KEY}]]" if source.table else f"[[{SOURCES_KEY}]]"
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{source.path}: {SOURCES_KEY} must be a list of tables, each under {header}")
    text = source.path.read_text(encoding="utf-8")
    lines = _header_lines(text, header)
    specs = []
    for number, table in enumerate(tables):
        line = lines[number] if number < len(lines) else 0
        specs.append(_spec(table, source.path, f"{source.path}:{line} ({header} #{number + 1})"))
    return specs


def _header_lines(text: str, header: str) -> list[int]:
    pattern = (
        re.escape(header)
        .replace(r"\.", r"\s*\.\s*")
        .replace(r"\[\[", r"\[\[\s*")
        .replace(r"\]\]", r"\s*\]\]")
    )
    return [text.count("\n", 0, m.start()) + 1 for m in re.finditer(rf"^[ \t]*{pattern}", text, flags=re.M)]


def _spec(table: dict[str, Any], config_file: Path, where: str) -> SourceSpec:
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key {raw_key!r}; a source takes {', '.join(_KEYS)}")
        if key == "max_versions":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{where}: {raw_key} must be an integer, 1 or more, not {value!r}")
        elif not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {raw_key} must be a non-empty string, not {value!r}")
        values[key] = value
    if "source" not in values and "urls" not in values:
        raise ConfigError(
            f'{where}: say what to index with source = "FOLDER", "https://.../llms.txt" or '
            '"git+https://host/org/repo.git", or with urls = "FILE"'
        )
    location = values.pop("source", None)
    # Folders and URL lists are relative to the configuration file, like its other paths.
    if location is not None and "://" not in location:
        location = str(config_file.parent / Path(location).expanduser())
    urls = values.pop("urls", None)
    urls_file = config_file.parent / Path(urls).expanduser() if urls is not None else None
    return SourceSpec(location=location, urls_file=urls_file, where=where, **values)
