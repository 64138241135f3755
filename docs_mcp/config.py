"""Settings, and the only place defaults live.

Every setting comes from the first of these that sets it:

    1. a command-line flag           --port 9000
    2. an environment variable       DOCS_MCP_PORT=9000
    3. a configuration file          port = 9000
    4. the built-in default

The configuration file is `--config FILE` (or `DOCS_MCP_CONFIG`), else
`docs-mcp.toml` in the working directory, else the `[tool.docs-mcp]` table of
`./pyproject.toml`. Its keys are the field names of `Settings` (dashes or
underscores); the loader reads them from the dataclass, so a new field needs no
loader change. Unknown keys and values of the wrong type are errors that name
the key, the file and the line.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from docs_mcp.errors import ConfigError

ENV_PREFIX = "DOCS_MCP_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
CONFIG_FILE_NAME = "docs-mcp.toml"
PYPROJECT_TABLE = "docs-mcp"  # [tool.docs-mcp]

DEFAULT_MODEL = "all-MiniLM-L6-v2-int8"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TRANSPORT = "stdio"
TRANSPORTS = ("stdio", "http")
DEFAULT_LOG_LEVEL = "WARNING"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# How often a running server looks for a newly published index version.
DEFAULT_REFRESH_SECONDS = 2.0
# Bounds on `docs-mcp index URL` (remote.py): what one run may download, and how.
DEFAULT_REMOTE_MAX_PAGE_BYTES = 2 * 1024 * 1024
DEFAULT_REMOTE_MAX_LISTING_BYTES = 5 * 1024 * 1024
DEFAULT_REMOTE_MAX_PAGES = 2000
DEFAULT_REMOTE_TIMEOUT_SECONDS = 20.0
DEFAULT_REMOTE_CONCURRENCY = 4
DEFAULT_REMOTE_RETRIES = 3
DEFAULT_REMOTE_MAX_REDIRECTS = 5
DEFAULT_BODY_CACHE_MB = 32
# How long a server keeps a named collection version open with no call naming it: each open
# version holds its vectors and rows in memory, and reopening one costs ~50 ms.
DEFAULT_IDLE_VERSION_SECONDS = 600.0
# How long a superseded index version stays readable after a newer one is published: longer
# than any server takes to notice the new one (refresh_seconds) and finish its requests.
DEFAULT_RETENTION_GRACE_SECONDS = 600.0
# What one HTTP connection may hold (docs_mcp/http/connections.py). 0 connections: half the
# open-file limit, at most 1,024. A head (request line and headers) or a body that takes longer
# than its timeout is cut off; an idle keep-alive connection is closed after keep_alive_seconds.
DEFAULT_MAX_CONNECTIONS = 0
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS = 30.0
DEFAULT_KEEP_ALIVE_SECONDS = 5.0


def _xdg_dir(variable: str, fallback: str) -> Path:
    base = os.environ.get(variable)
    return Path(base) if base else Path.home() / fallback


def default_db() -> str:
    """`$XDG_DATA_HOME/docs-mcp/index`, usually `~/.local/share/docs-mcp/index`."""
    return str(_xdg_dir("XDG_DATA_HOME", ".local/share") / "docs-mcp" / "index")


def default_cache_dir() -> Path:
    """Where the offline model directory is assembled: `$XDG_CACHE_HOME/docs-mcp`."""
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "docs-mcp"


def is_remote(uri: str) -> bool:
    """An object-store URI (s3://, gs://, az://...) rather than a local folder."""
    return "://" in uri and not uri.startswith("file://")


def bundled_corpus() -> Path:
    """docs-mcp's own documentation: inside the wheel, or `corpus/` in a source checkout."""
    package_dir = Path(__file__).resolve().parent
    installed = package_dir / "_corpus"
    return installed if installed.is_dir() else package_dir.parent / "corpus"


@dataclass(frozen=True)
class Settings:
    db: str
    corpus: Path
    model: str = DEFAULT_MODEL
    cache_dir: Path = Path()
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    transport: str = DEFAULT_TRANSPORT
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    retention_grace_seconds: float = DEFAULT_RETENTION_GRACE_SECONDS
    # Markdown bodies a server keeps in memory per index version (get_doc without a storage
    # read: 10.1 -> 0.1 ms p50 on an S3 server, see corpus/guides/deploying.md); 0 turns it off.
    body_cache_mb: int = DEFAULT_BODY_CACHE_MB
    # A server closes a named collection version no call has named for this long; 0 keeps all.
    idle_version_seconds: float = DEFAULT_IDLE_VERSION_SECONDS
    # Object-store options passed to LanceDB (endpoint, region, credentials...) for an
    # s3:// gs:// az:// --db; on top of what the standard AWS_* variables give. May hold secrets.
    storage_options: dict[str, str] = field(default_factory=dict, repr=False)
    # Indexing is offline and uses every core (1.8x on 2 cores); serving keeps one
    # ONNX thread per query, which gave steadier latency.
    index_threads: int = 0  # 0: all cores
    # HTTP hardening (see corpus/guides/security.md). Hosts/origins are added to the loopback
    # ones, which are always allowed; "host:*" / "http://host:*" allow any port.
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log
    allow_unauthenticated: bool = False
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS
    keep_alive_seconds: float = DEFAULT_KEEP_ALIVE_SECONDS
    log_level: str = DEFAULT_LOG_LEVEL
    # Remote docs (`docs-mcp index URL`, see corpus/guides/remote-docs.md).
    remote_max_page_bytes: int = DEFAULT_REMOTE_MAX_PAGE_BYTES
    remote_max_listing_bytes: int = DEFAULT_REMOTE_MAX_LISTING_BYTES
    remote_max_pages: int = DEFAULT_REMOTE_MAX_PAGES
    remote_timeout_seconds: float = DEFAULT_REMOTE_TIMEOUT_SECONDS
    remote_concurrency: int = DEFAULT_REMOTE_CONCURRENCY
    remote_retries: int = DEFAULT_REMOTE_RETRIES
    remote_max_redirects: int = DEFAULT_REMOTE_MAX_REDIRECTS
    # Hosts pages may come from besides the listing's own host ("*.example.com" allowed).
    remote_allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, check in _CHECKS.items():
            problem = check(getattr(self, name))
            if problem:
                raise ConfigError(f"{name}={getattr(self, name)!r} {problem}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Defaults with the environment on top (no configuration file)."""
        return cls(**{**_defaults(), **_from_env(os.environ if environ is None else environ)})

    @classmethod
    def load(
        cls,
        config: Path | str | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        **flags: Any,
    ) -> Settings:
        """The full precedence: flags > environment > configuration file > defaults.

        `config` is an explicit file (`--config`); without it `DOCS_MCP_CONFIG`, then
        `./docs-mcp.toml`, then `[tool.docs-mcp]` in `./pyproject.toml` are looked for.
        A flag set to None counts as not given."""
        env = os.environ if environ is None else environ
        source = find_config(config, env, cwd)
        from_file = read_config(source) if source is not None else {}
        settings = cls(**{**_defaults(), **from_file, **_from_env(env)})
        return settings.with_overrides(**flags)

    @property
    def absolute_db(self) -> str:
        """The index location for another working directory: an absolute folder, or the URI."""
        return self.db if is_remote(self.db) else str(Path(self.db).expanduser().absolute())

    @property
    def embedding_threads_for_indexing(self) -> int:
        return self.index_threads if self.index_threads > 0 else (os.cpu_count() or 1)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply the CLI flags that were given (None means "not given")."""
        given = {key: value for key, value in overrides.items() if value is not None}
        if "corpus" in given:
            given["corpus"] = Path(given["corpus"])
        if "db" in given:
            given["db"] = str(given["db"])
        for key in given.keys() & _NORMALISE.keys():
            given[key] = _NORMALISE[key](given[key])
        return replace(self, **given)


# -- validation: one rule per field that needs more than its type ------------------------------


def _one_of(allowed: tuple[str, ...], flag: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"is not supported; use {' or '.join(allowed)} ({flag})"

    return check


def _at_least(minimum: float, maximum: float | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            return f"is out of range; it must be {bound}"
        return None

    return check


def _checked(label: str, key: str, given: Any, value: Any) -> Any:
    """`value` normalised and checked against the field's rule; errors name where it came from."""
    value = _NORMALISE[key](value) if key in _NORMALISE else value
    problem = _CHECKS[key](value) if key in _CHECKS else None
    if problem:
        raise ConfigError(f"{label}={given!r} {problem}")
    return value


def _flat_list(values: Any) -> tuple[str, ...]:
    """Repeated flags, comma-separated values or both: ('a', 'b,c') -> ('a', 'b', 'c')."""
    items = [values] if isinstance(values, str) else list(values)
    return tuple(part.strip() for item in items for part in str(item).split(",") if part.strip())


_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "log_level": str.upper,
    "allowed_hosts": _flat_list,
    "allowed_origins": _flat_list,
    "remote_allowed_hosts": _flat_list,
}

_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "transport": _one_of(TRANSPORTS, "--transport"),
    "log_level": _one_of(LOG_LEVELS, "--log-level"),
    "port": _at_least(1, 65535),
    "refresh_seconds": _at_least(0),
    "retention_grace_seconds": _at_least(0),
    "body_cache_mb": _at_least(0),
    "idle_version_seconds": _at_least(0),
    "index_threads": _at_least(0),
    "max_connections": _at_least(0),
    "header_timeout_seconds": _at_least(0.1),
    "body_timeout_seconds": _at_least(0.1),
    "keep_alive_seconds": _at_least(0.1),
    "remote_max_page_bytes": _at_least(1),
    "remote_max_listing_bytes": _at_least(1),
    "remote_max_pages": _at_least(1),
    "remote_timeout_seconds": _at_least(0.001),
    "remote_concurrency": _at_least(1, 64),
    "remote_retries": _at_least(0, 10),
    "remote_max_redirects": _at_least(0, 20),
}


# -- sources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSource:
    """A configuration file in use: the file, and the table inside it (None: the whole file)."""

    path: Path
    table: str | None = None

    def __str__(self) -> str:
        return f"{self.path} [tool.{self.table}]" if self.table else str(self.path)


def _defaults() -> dict[str, Any]:
    return {"db": default_db(), "corpus": bundled_corpus(), "cache_dir": default_cache_dir()}


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, kind in _field_types().items():
        variable = ENV_PREFIX + name.upper()
        text = environ.get(variable)
        if text not in (None, ""):
            values[name] = _checked(variable, name, text, _from_text(variable, text, kind))
    return values


def find_config(
    explicit: Path | str | None = None, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> ConfigSource | None:
    """The configuration file that applies, or None. An explicitly named file must exist."""
    env = os.environ if environ is None else environ
    named = explicit if explicit not in (None, "") else env.get(CONFIG_ENV) or None
    if named is not None:
        path = Path(named).expanduser()
        if not path.is_file():
            where = "--config" if explicit not in (None, "") else CONFIG_ENV
            raise ConfigError(f"configuration file {path} ({where}) does not exist")
        if path.name == "pyproject.toml":
            return ConfigSource(path.resolve(), PYPROJECT_TABLE)
        return ConfigSource(path.resolve())
    folder = cwd or Path.cwd()
    if (folder / CONFIG_FILE_NAME).is_file():
        return ConfigSource((folder / CONFIG_FILE_NAME).resolve())
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file() and PYPROJECT_TABLE in _parse_toml(pyproject).get("tool", {}):
        return ConfigSource(pyproject.resolve(), PYPROJECT_TABLE)
    return None


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read configuration file {path}: {error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if position:
            line, column = int(position[1]), int(position[2])
        elif "(at end of document)" in message:
            line, column = text.count("\n") + 1, 1
        else:
            raise ConfigError(f"{path}: invalid TOML: {message}") from None
        reason = re.sub(r"\s*\(at [^)]*\)$", "", message)
        raise ConfigError(
            f"{path}:{line}:{column}: invalid TOML: {reason} (line {line}, column {column})"
        ) from None


def read_config(source: ConfigSource) -> dict[str, Any]:
    """The settings a configuration file sets, checked against the fields of Settings.

    Relative paths in the file are relative to the file's folder, not the working directory."""
    data = _parse_toml(source.path)
    if source.table is not None:
        table = data.get("tool", {}).get(source.table, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [tool.{source.table}] must be a table")
        data = table
    text = source.path.read_text(encoding="utf-8")
    kinds = _field_types()
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = raw_key.replace("-", "_")
        where = f"{source.path}:{_line_of(text, raw_key)}"
        if key not in kinds:
            close = difflib.get_close_matches(key, list(kinds), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{where}: unknown key {raw_key!r}{hint} Known keys: {', '.join(sorted(kinds))}"
            )
        checked = _from_toml(f"{where}: {raw_key}", value, kinds[key])
        if isinstance(checked, Path) and not checked.is_absolute():
            checked = source.path.parent / checked.expanduser()
        if key == "db" and not is_remote(checked) and not Path(checked).expanduser().is_absolute():
            checked = str(source.path.parent / checked)
        values[key] = _checked(f"{where}: {raw_key}", key, value, checked)
    return values


def _line_of(text: str, key: str) -> int:
    """The line that sets `key`, for error messages (0 when it cannot be found)."""
    match = re.search(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", text, flags=re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 0


# -- conversions, by the field's declared type --------------------------------------------------


def _unwrap_optional(kind: Any) -> tuple[Any, bool]:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(members) == 1:
            return members[0], True
    return kind, False


def _from_text(name: str, text: str, kind: Any) -> Any:
    """An environment variable's text as the field's type."""
    kind, _ = _unwrap_optional(kind)
    origin = typing.get_origin(kind)
    if origin is dict:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ConfigError(
                f'{name} is not a JSON object; set it like {{"region": "eu-west-1", "endpoint": "https://..."}}'
            )
        return _string_table(name, value)
    if origin in (list, tuple, set, frozenset):
        items = [item.strip() for item in text.split(",") if item.strip()]
        return tuple(items) if origin is tuple else origin(items)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={text!r} is not a boolean; use true or false")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise ConfigError(f"{name}={text!r} is not a number; set it to {noun}") from None
    if kind is Path:
        return Path(text).expanduser()
    return text


def _from_toml(name: str, value: Any, kind: Any) -> Any:
    """A TOML value checked against the field's type (TOML already typed it)."""
    kind, optional = _unwrap_optional(kind)
    origin = typing.get_origin(kind)
    expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string", Path: "a path"}
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f'{name} must be a table of strings, like {{ region = "eu-west-1" }}')
        return _string_table(name, value)
    if origin in (list, tuple, set, frozenset):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{name} must be a list of strings, not {value!r}")
        return tuple(value) if origin is tuple else origin(value)
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        allowed = expected.get(kind, str(kind))
        raise ConfigError(f"{name} must be {allowed}{' (or absent)' if optional else ''}, not {value!r}")
    if kind is Path:
        return Path(value).expanduser()
    return value


def _string_table(name: str, table: Mapping[str, Any]) -> dict[str, str]:
    """A table of option names to string values (numbers and booleans written as strings)."""
    values: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, bool):
            values[str(key)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[str(key)] = str(value)
        else:
            raise ConfigError(f"{name}: {key!r} must be a string, number or boolean, not {value!r}")
    return values
