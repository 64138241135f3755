"""Configuration snippets for MCP clients: `docs-mcp config CLIENT`.

Every path in a snippet is absolute. Clients launch servers without the user's
shell, so a bare `docs-mcp` (or `uvx`) is the usual cause of "spawn ENOENT".
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docs_mcp.config import DEFAULT_MODEL, ConfigSource, Settings
from docs_mcp.errors import ConfigError

SERVER_NAME = "docs"


@dataclass(frozen=True)
class Client:
    name: str
    title: str
    config_file: str  # where the user pastes the snippet
    top_key: str  # "mcpServers" for most, "servers" for VS Code
    url_key: str | None  # how the client names a remote server's URL; None: stdio only
    needs_type: bool = False  # VS Code: every server says "stdio" or "http"


CLIENTS: dict[str, Client] = {
    client.name: client
    for client in (
        Client(
            "claude-desktop",
            "Claude Desktop",
            "~/Library/Application Support/Claude/claude_desktop_config.json (macOS) or "
            r"%APPDATA%\Claude\claude_desktop_config.json (Windows), opened by Settings > Developer > "
            "Edit Config; quit and restart Claude Desktop after editing",
            "mcpServers",
            None,
        ),
        Client(
            "cursor",
            "Cursor",
            ".cursor/mcp.json in the project, or ~/.cursor/mcp.json for every project",
            "mcpServers",
            "url",
        ),
        Client(
            "vscode",
            "VS Code",
            ".vscode/mcp.json in the workspace (top-level key `servers`, not `mcpServers`)",
            "servers",
            "url",
            needs_type=True,
        ),
        Client(
            "windsurf",
            "Windsurf",
            "~/.codeium/windsurf/mcp_config.json; refresh the server list after editing",
            "mcpServers",
            "serverUrl",
        ),
        Client(
            "generic",
            "A client that reads mcpServers JSON",
            "the client's MCP configuration file, under `mcpServers`",
            "mcpServers",
            None,
        ),
    )
}


def docs_mcp_command() -> list[str]:
    """How to launch this environment's docs-mcp: its console script next to sys.executable,
    or `python -m docs_mcp` when the script is not there (a source tree on PYTHONPATH)."""
    python = Path(sys.executable).absolute()
    for name in ("docs-mcp", "docs-mcp.exe"):
        if (python.parent / name).is_file():
            return [str(python.parent / name)]
    return [str(python), "-m", "docs_mcp"]


# Where `pipx install mcp-proxy` and `uv tool install mcp-proxy` both put the command.
PROXY_INSTALL_HINT = "`pipx install mcp-proxy` (or `uv tool install mcp-proxy`)"


def proxy_command(url: str, token: str | None = None) -> tuple[str, list[str]]:
    """mcp-proxy as a stdio server forwarding to `url`, by absolute path: installed mcp-proxy, else
    uvx, else pipx, else where installing it (PROXY_INSTALL_HINT) will put it; proxy_missing()
    tells the last case apart, so the caller can say what to install."""
    auth = ["--headers", "Authorization", f"Bearer {token}"] if token else []
    # At its default INFO level mcp-proxy logs every request's headers, auth headers included.
    proxy_args = ["--transport=streamablehttp", "--log-level=WARNING", *auth, url]
    if found := shutil.which("mcp-proxy"):
        return str(Path(found).absolute()), proxy_args
    if found := shutil.which("uvx"):
        return str(Path(found).absolute()), ["mcp-proxy", *proxy_args]
    if found := shutil.which("pipx"):
        return str(Path(found).absolute()), ["run", "mcp-proxy", *proxy_args]
    return str(Path.home() / ".local" / "bin" / "mcp-proxy"), proxy_args


def proxy_missing(command: str) -> str | None:
    """What to say when the snippet names an mcp-proxy that is not installed yet, else None."""
    if Path(command).is_file():
        return None
    return (
        f"mcp-proxy is not installed: install it with {PROXY_INSTALL_HINT}, which puts it at "
        f"{command}, the command in this snippet."
    )


def server_entry(
    client: Client,
    settings: Settings,
    transport: str,
    url: str | None,
    config_source: ConfigSource | None = None,
) -> dict[str, Any]:
    """One server's entry for `client`."""
    if transport == "stdio":
        args = []
        if config_source is not None:  # the client's working directory is not ours
            args += ["--config", str(config_source.path)]
        args += ["serve", "--db", settings.absolute_db]
        if settings.model != DEFAULT_MODEL:
            args += ["--model", settings.model]
        command, *prefix = docs_mcp_command()
        entry: dict[str, Any] = {"command": command, "args": [*prefix, *args]}
    elif transport == "http":
        remote = url or f"http://{settings.host}:{settings.port}/mcp"
        if client.url_key is not None:
            entry = {client.url_key: remote}
            if settings.token:
                entry["headers"] = {"Authorization": f"Bearer {settings.token}"}
        else:
            command, args = proxy_command(remote, settings.token)
            entry = {"command": command, "args": args}
    else:
        raise ConfigError(f"--transport {transport!r} is not supported; use stdio or http")
    if client.needs_type:
        entry = {"type": "stdio" if "command" in entry else "http", **entry}
    return entry


def client_config(
    name: str,
    settings: Settings,
    transport: str = "stdio",
    url: str | None = None,
    server_name: str = SERVER_NAME,
    config_source: ConfigSource | None = None,
) -> tuple[str, str]:
    """The JSON snippet for client `name`, and a note saying where it goes."""
    client = CLIENTS.get(name)
    if client is None:
        raise ConfigError(f"unknown client {name!r}; use one of: {', '.join(CLIENTS)}")
    if url is not None and transport != "http":
        raise ConfigError("--url is for a remote server; add --transport http")
    entry = server_entry(client, settings, transport, url, config_source)
    snippet = json.dumps({client.top_key: {server_name: entry}}, indent=2)
    note = f"{client.title}: put this in {client.config_file}."
    missing = proxy_missing(entry["command"]) if "command" in entry else None
    if missing:
        note += " " + missing
    elif transport == "http" and client.url_key is None:
        note += " This client only launches stdio servers, so mcp-proxy forwards to the HTTP server."
    if transport == "http" and settings.token:
        note += " The snippet holds the server's bearer token: keep the file private."
    return snippet, note
