import dataclasses
import json
import os
from pathlib import Path

import pytest

from docs_mcp.config import DEFAULT_HOST, DEFAULT_MODEL, DEFAULT_PORT, Settings, bundled_corpus, find_config
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


# -- the configuration file ---------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_docs_mcp_toml_in_the_working_directory_is_read(tmp_path):
    write(tmp_path / "docs-mcp.toml", 'port = 9100\nhost = "0.0.0.0"\nrefresh-seconds = 5\n')
    settings = Settings.load(environ={}, cwd=tmp_path)
    assert (settings.port, settings.host, settings.refresh_seconds) == (9100, "0.0.0.0", 5.0)


def test_tool_docs_mcp_in_pyproject_is_read_when_there_is_no_docs_mcp_toml(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.docs-mcp]\nmodel = "other"\n')
    assert Settings.load(environ={}, cwd=tmp_path).model == "other"
    write(tmp_path / "docs-mcp.toml", 'model = "from-toml"\n')
    assert Settings.load(environ={}, cwd=tmp_path).model == "from-toml"


def test_a_pyproject_without_the_table_is_not_a_config_file(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert find_config(environ={}, cwd=tmp_path) is None


def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path):
    write(tmp_path / "docs-mcp.toml", "port = 9100\nindex_threads = 2\nrefresh_seconds = 7\n")
    env = {"DOCS_MCP_PORT": "9200", "DOCS_MCP_INDEX_THREADS": "3"}
    settings = Settings.load(environ=env, cwd=tmp_path, port=9300)
    assert settings.port == 9300  # flag
    assert settings.index_threads == 3  # environment over file
    assert settings.refresh_seconds == 7.0  # file over default
    assert settings.host == DEFAULT_HOST  # default


def test_config_names_a_file_explicitly_by_flag_or_environment(tmp_path):
    custom = write(tmp_path / "custom.toml", "port = 9400\n")
    assert Settings.load(custom, environ={}, cwd=tmp_path).port == 9400
    assert Settings.load(environ={"DOCS_MCP_CONFIG": str(custom)}, cwd=tmp_path).port == 9400


def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.toml.*does not exist"):
        Settings.load(tmp_path / "missing.toml", environ={})


def test_relative_paths_in_the_file_are_relative_to_the_file(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    write(folder / "docs-mcp.toml", 'db = ".index"\ncorpus = "docs"\ncache_dir = "/abs/cache"\n')
    settings = Settings.load(environ={}, cwd=folder)
    assert settings.db == str(folder.resolve() / ".index")
    assert settings.corpus == folder.resolve() / "docs" and settings.cache_dir == Path("/abs/cache")


def test_every_setting_can_be_set_in_the_file(tmp_path):
    values = {
        "db": '"/x/db"',
        "corpus": '"/x/docs"',
        "model": '"m"',
        "cache_dir": '"/x/cache"',
        "host": '"0.0.0.0"',
        "port": "1234",
        "transport": '"http"',
        "refresh_seconds": "0.5",
        "index_threads": "4",
        "log_level": '"info"',
        "storage_options": '{ region = "eu-west-1", allow_http = true }',
    }
    # A field added later is written with its default: the loader must take it without changes.
    for field in dataclasses.fields(Settings):
        if field.name not in values and field.default is not None:
            default = field.default
            values[field.name] = (
                str(default).lower() if isinstance(default, bool) else json.dumps(default, default=str)
            )
    write(tmp_path / "docs-mcp.toml", "".join(f"{key} = {value}\n" for key, value in values.items()))
    settings = Settings.load(environ={}, cwd=tmp_path)
    assert (settings.port, settings.transport, settings.log_level) == (1234, "http", "INFO")
    assert settings.storage_options == {"region": "eu-west-1", "allow_http": "true"}


def test_an_unknown_key_is_an_error_naming_the_key_the_file_the_line_and_a_suggestion(tmp_path):
    write(tmp_path / "docs-mcp.toml", "port = 9100\nprot = 9200\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={}, cwd=tmp_path)
    message = str(caught.value)
    assert "docs-mcp.toml:2" in message and "unknown key 'prot'" in message and "'port'" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('port = "eighty"', "port must be an integer"),
        ("host = 3", "host must be a string"),
        ('transport = "carrier-pigeon"', "not supported; use stdio or http"),
        ("port = 700000", "out of range"),
        ("refresh_seconds = true", "refresh_seconds must be a number"),
        ("idle_version_seconds = -1", "idle_version_seconds"),
    ],
)
def test_a_bad_value_in_the_file_is_an_error_naming_the_key_and_line(tmp_path, line, expected):
    write(tmp_path / "docs-mcp.toml", f"# settings\n{line}\n")
    with pytest.raises(ConfigError, match=expected) as caught:
        Settings.load(environ={}, cwd=tmp_path)
    assert "docs-mcp.toml:2" in str(caught.value)


def test_a_toml_syntax_error_reports_file_line_and_column(tmp_path):
    write(tmp_path / "docs-mcp.toml", "port = 9100\nhost = \n")
    with pytest.raises(ConfigError, match=r"docs-mcp\.toml:2:8: invalid TOML.*line 2, column 8"):
        Settings.load(environ={}, cwd=tmp_path)


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="DOCS_MCP_TRANSPORT='pigeon' is not supported"):
        Settings.from_env({"DOCS_MCP_TRANSPORT": "pigeon"})


def test_a_pyproject_named_explicitly_is_read_from_its_tool_table(tmp_path):
    pyproject = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.docs-mcp]\nport = 9500\n')
    assert Settings.load(pyproject, environ={}, cwd=Path("/")).port == 9500


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


def test_the_token_never_appears_in_the_settings_repr():
    settings = Settings.from_env({"DOCS_MCP_TOKEN": "very-secret-value"})
    assert settings.token == "very-secret-value" and "very-secret-value" not in repr(settings)


@pytest.mark.parametrize("header", ["[docs-mcp]", "[tool.docs-mcp]"])
def test_a_pyproject_table_header_in_docs_mcp_toml_names_its_line_and_where_it_belongs(tmp_path, header):
    (tmp_path / "docs-mcp.toml").write_text(f"# settings\n{header}\nport = 9000\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        Settings.load(cwd=tmp_path)
    message = str(raised.value)
    assert f"{tmp_path / 'docs-mcp.toml'}:2: a [" in message and ":0:" not in message
    assert "write the keys at the top level, without a header" in message
    assert "[tool.docs-mcp] is the form for pyproject.toml only" in message


def test_an_unknown_table_names_the_line_of_its_header(tmp_path):
    (tmp_path / "docs-mcp.toml").write_text('db = "x"\n\n[server]\nport = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"docs-mcp\.toml:3: unknown key 'server'"):
        Settings.load(cwd=tmp_path)
