"""Settings, and the only place defaults live.

Every option can come from a CLI flag or from a `DOCS_MCP_*` environment
variable; the flag wins. `Settings.from_env()` reads the environment, and the CLI
passes its flags on top with `Settings.with_overrides()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from docs_mcp.errors import ConfigError

ENV_PREFIX = "DOCS_MCP_"

DEFAULT_MODEL = "all-MiniLM-L6-v2-int8"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_TRANSPORT = "stdio"
# How often a running server looks for a newly published index version.
DEFAULT_REFRESH_SECONDS = 2.0


def _xdg_dir(variable: str, fallback: str) -> Path:
    base = os.environ.get(variable)
    return Path(base) if base else Path.home() / fallback


def default_db() -> str:
    """`$XDG_DATA_HOME/docs-mcp/index`, usually `~/.local/share/docs-mcp/index`."""
    return str(_xdg_dir("XDG_DATA_HOME", ".local/share") / "docs-mcp" / "index")


def default_cache_dir() -> Path:
    """Where the offline model directory is assembled: `$XDG_CACHE_HOME/docs-mcp`."""
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "docs-mcp"


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
    # Indexing is offline and uses every core (1.8x on 2 cores); serving keeps one
    # ONNX thread per query, which gave steadier latency.
    index_threads: int = 0  # 0: all cores
    # HTTP hardening (see corpus/guides/security.md). Hosts/origins are added to the loopback
    # ones, which are always allowed; "host:*" / "http://host:*" allow any port.
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    token: str | None = None
    allow_unauthenticated: bool = False

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value not in (None, "") else None

        port_text = get("PORT")
        refresh_text = get("REFRESH_SECONDS")
        threads_text = get("INDEX_THREADS")
        return cls(
            db=get("DB") or default_db(),
            corpus=Path(get("CORPUS") or bundled_corpus()),
            model=get("MODEL") or DEFAULT_MODEL,
            cache_dir=Path(get("CACHE_DIR") or default_cache_dir()),
            host=get("HOST") or DEFAULT_HOST,
            port=_parse_number(ENV_PREFIX + "PORT", port_text, int) if port_text else DEFAULT_PORT,
            transport=get("TRANSPORT") or DEFAULT_TRANSPORT,
            refresh_seconds=(
                _parse_number(ENV_PREFIX + "REFRESH_SECONDS", refresh_text, float)
                if refresh_text
                else DEFAULT_REFRESH_SECONDS
            ),
            index_threads=_parse_number(ENV_PREFIX + "INDEX_THREADS", threads_text, int)
            if threads_text
            else 0,
            allowed_hosts=_split_list(get("ALLOWED_HOSTS")),
            allowed_origins=_split_list(get("ALLOWED_ORIGINS")),
            token=get("TOKEN"),
            allow_unauthenticated=_parse_bool(
                ENV_PREFIX + "ALLOW_UNAUTHENTICATED", get("ALLOW_UNAUTHENTICATED")
            ),
        )

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
        for name in ("allowed_hosts", "allowed_origins"):
            if name in given:
                given[name] = _split_list(",".join(given[name])) or getattr(self, name)
        return replace(self, **given)


def _parse_number(name: str, text: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number; set it to a {kind.__name__}") from None


def _split_list(text: str | None) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): comma-separated lists in env variables and repeated flags."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def _parse_bool(name: str, text: str | None) -> bool:
    if text is None:
        return False
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={text!r} is not a boolean; set it to 1 or 0")
