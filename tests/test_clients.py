"""`docs-mcp config CLIENT`: the snippets are valid JSON with absolute paths, and they work."""

import json
import os
import sys
from pathlib import Path

import pytest
from mcp.client.stdio import StdioServerParameters
from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.clients import CLIENTS
from tests.test_transports import run_all_tools

runner = CliRunner()
DOCS_MCP = Path(sys.executable).parent / "docs-mcp"


def snippet(*args: str) -> dict:
    result = runner.invoke(app, ["config", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_every_client_gets_stdio_json_with_the_absolute_path_of_this_environments_docs_mcp(client, tmp_path):
    config = snippet(client, "--db", "relative-index")
    servers = config["servers" if client == "vscode" else "mcpServers"]
    entry = servers["docs"]
    assert Path(entry["command"]) == DOCS_MCP and Path(entry["command"]).is_absolute()
    assert entry["args"][:2] == ["serve", "--db"] and Path(entry["args"][2]).is_absolute()
    assert entry["args"][2] == str(Path.cwd() / "relative-index")


def test_the_note_on_stderr_says_where_the_config_file_lives():
    result = runner.invoke(app, ["config", "claude-desktop"])
    assert "claude_desktop_config.json" in result.stderr and "claude_desktop_config" not in result.stdout
    assert ".vscode/mcp.json" in runner.invoke(app, ["config", "vscode"]).stderr


def test_vscode_declares_each_servers_type():
    assert snippet("vscode")["servers"]["docs"]["type"] == "stdio"
    assert snippet("vscode", "--transport", "http")["servers"]["docs"] == {
        "type": "http",
        "url": "http://127.0.0.1:8000/mcp",
    }


@pytest.mark.parametrize(("client", "key"), [("cursor", "url"), ("windsurf", "serverUrl")])
def test_clients_with_http_support_get_the_url_under_their_own_key(client, key):
    entry = snippet(client, "--transport", "http", "--url", "https://docs.example.com/mcp")["mcpServers"][
        "docs"
    ]
    assert entry == {key: "https://docs.example.com/mcp"}


@pytest.mark.parametrize("client", ["claude-desktop", "generic"])
def test_stdio_only_clients_reach_a_remote_server_through_mcp_proxy(client):
    entry = snippet(client, "--transport", "http", "--url", "https://docs.example.com/mcp")["mcpServers"][
        "docs"
    ]
    assert (
        "--transport=streamablehttp" in entry["args"] and entry["args"][-1] == "https://docs.example.com/mcp"
    )
    assert "mcp-proxy" in entry["command"] or "mcp-proxy" in entry["args"]


def test_a_config_file_in_use_is_passed_on_with_its_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs-mcp.toml").write_text('db = "index"\n', encoding="utf-8")
    entry = snippet("cursor")["mcpServers"]["docs"]
    assert entry["args"] == [
        "--config",
        str(tmp_path / "docs-mcp.toml"),
        "serve",
        "--db",
        str(tmp_path / "index"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["notepad"], "unknown client 'notepad'; use one of: claude-desktop"),
        (["cursor", "--transport", "pigeon"], "not supported; use stdio or http"),
        (["cursor", "--url", "http://x/mcp"], "add --transport http"),
    ],
)
def test_mistakes_are_one_line_errors(args, message):
    result = runner.invoke(app, ["config", *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_the_generated_stdio_snippet_launches_a_working_server(shared_db):
    entry = snippet("generic", "--db", shared_db)["mcpServers"]["docs"]
    run_all_tools(StdioServerParameters(command=entry["command"], args=entry["args"], env=dict(os.environ)))


def test_without_mcp_proxy_the_snippet_still_names_an_absolute_command_and_the_note_says_what_to_install(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("PATH", str(tmp_path))  # no mcp-proxy, uvx or pipx anywhere
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["config", "generic", "--transport", "http", "--url", "http://h:8000/mcp"])
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["mcpServers"]["docs"]
    expected = tmp_path / "home" / ".local" / "bin" / "mcp-proxy"
    assert entry["command"] == str(expected) and Path(entry["command"]).is_absolute()
    assert "mcp-proxy is not installed: install it with `pipx install mcp-proxy`" in result.stderr
    assert f"which puts it at {expected}" in result.stderr
    assert "uvx" not in result.stdout


def test_an_installed_mcp_proxy_is_named_by_its_absolute_path(monkeypatch, tmp_path):
    installed = tmp_path / "bin" / "mcp-proxy"
    installed.parent.mkdir()
    installed.write_text("#!/bin/sh\n", encoding="utf-8")
    installed.chmod(0o755)
    monkeypatch.setenv("PATH", str(installed.parent))
    result = runner.invoke(
        app, ["config", "claude-desktop", "--transport", "http", "--url", "http://h:8000/mcp"]
    )
    assert json.loads(result.stdout)["mcpServers"]["docs"]["command"] == str(installed)
    assert "not installed" not in result.stderr
