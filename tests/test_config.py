import os
from pathlib import Path

import pytest

from docs_mcp.config import DEFAULT_MODEL, DEFAULT_PORT, Settings, bundled_corpus
from docs_mcp.errors import ConfigError


def test_defaults_are_stable_and_documented_locations():
    settings = Settings.from_env({"HOME": "/home/me"})
    assert settings.db.endswith("docs-mcp/index") and settings.port == DEFAULT_PORT
    assert settings.model == DEFAULT_MODEL and settings.corpus == bundled_corpus()
    assert (bundled_corpus() / "index.md").is_file()


def test_environment_variables_are_read():
    settings = Settings.from_env(
        {
            "DOCS_MCP_DB": "/tmp/x",
            "DOCS_MCP_PORT": "9001",
            "DOCS_MCP_CORPUS": "/docs",
            "DOCS_MCP_INDEX_THREADS": "3",
        }
    )
    assert (settings.db, settings.port, settings.corpus) == ("/tmp/x", 9001, Path("/docs"))
    assert settings.embedding_threads_for_indexing == 3


def test_indexing_uses_every_core_by_default():
    assert Settings.from_env({}).embedding_threads_for_indexing == (os.cpu_count() or 1)


def test_flags_override_environment_and_none_means_not_given():
    settings = Settings.from_env({"DOCS_MCP_PORT": "9001"}).with_overrides(port=None, host="0.0.0.0")
    assert (settings.port, settings.host) == (9001, "0.0.0.0")


@pytest.mark.parametrize("name", ["DOCS_MCP_PORT", "DOCS_MCP_REFRESH_SECONDS", "DOCS_MCP_INDEX_THREADS"])
def test_a_non_numeric_value_is_an_error_naming_the_variable(name):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: "lots"})


def test_allowed_hosts_and_origins_are_comma_separated_and_flags_replace_the_environment():
    settings = Settings.from_env(
        {"DOCS_MCP_ALLOWED_HOSTS": "docs.example.com:*, ,docs", "DOCS_MCP_ALLOWED_ORIGINS": "https://a.b"}
    )
    assert settings.allowed_hosts == ("docs.example.com:*", "docs")
    assert settings.allowed_origins == ("https://a.b",)
    flagged = settings.with_overrides(allowed_hosts=["x.example", "y.example,z.example"])
    assert flagged.allowed_hosts == ("x.example", "y.example", "z.example")


def test_the_token_and_the_unauthenticated_opt_out_come_from_the_environment():
    settings = Settings.from_env({"DOCS_MCP_TOKEN": "t", "DOCS_MCP_ALLOW_UNAUTHENTICATED": "1"})
    assert (settings.token, settings.allow_unauthenticated) == ("t", True)
    assert Settings.from_env({}).token is None and not Settings.from_env({}).allow_unauthenticated
    with pytest.raises(ConfigError, match="DOCS_MCP_ALLOW_UNAUTHENTICATED"):
        Settings.from_env({"DOCS_MCP_ALLOW_UNAUTHENTICATED": "maybe"})
