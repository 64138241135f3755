"""The `docs-mcp` command, through typer's runner (and once as a real process)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docs_mcp import __version__
from docs_mcp.cli import EXIT_SKIPPED_FILES, EXIT_USAGE, app

runner = CliRunner()
COMMANDS = [
    "index",
    "serve",
    "search",
    "ask",
    "list",
    "get",
    "status",
    "collections",
    "eval",
    "config",
    "doctor",
    "export",
]


def run(*args, **env):
    return runner.invoke(app, list(args), env=env or None)


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS), ["export", "llms-txt"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_version():
    assert run("--version").output.strip() == f"docs-mcp {__version__}"


def test_index_then_search_list_get_and_status(corpus, tmp_path):
    db = str(tmp_path / "db")
    indexed = run("index", str(corpus), "--db", db)
    assert indexed.exit_code == 0, indexed.output
    assert "9 added" in indexed.output and "published version 1" in indexed.output

    found = run("search", "install with pip", "--db", db, "--json")
    assert json.loads(found.output)["hits"][0]["doc_id"] == "guides/installation"
    assert "id: guides/installation" in run("search", "install with pip", "--db", db).output

    asked = run("ask", "How do I install with pip?", "--db", db, "-n", "2")
    assert asked.exit_code == 0, asked.output
    assert asked.output.startswith("The most relevant documentation passages")
    assert (
        "[guides/installation#install-with-pip]" in asked.output
        and "pip install skyline-queue" in asked.output
    )
    answer = json.loads(run("ask", "How do I install with pip?", "--db", db, "--json").output)
    assert answer["mode"] == "extractive" and len(answer["citations"]) == 4 and answer["note"] is None
    blank = run("ask", "  ", "--db", db)
    assert (
        blank.exit_code == 1 and "the question is empty" in blank.output and "Traceback" not in blank.output
    )

    listed = run("list", "--db", db)
    assert "- Installation [guides/installation]" in listed.output

    page = run("get", "guides/installation#install-with-pip", "--db", db)
    assert "pip install skyline-queue" in page.output and page.output.startswith("<doc id=")

    status = json.loads(run("status", "--db", db, "--json").output)
    assert (status["docs"], status["index_version"], status["model"]) == (9, 1, "all-MiniLM-L6-v2-int8")


def test_options_come_from_environment_variables(corpus, tmp_path):
    db = str(tmp_path / "env-db")
    assert run("index", DOCS_MCP_CORPUS=str(corpus), DOCS_MCP_DB=db).exit_code == 0
    assert json.loads(run("status", "--json", DOCS_MCP_DB=db).output)["db"] == db


def test_a_flag_wins_over_the_environment(corpus, tmp_path):
    flag_db = str(tmp_path / "flag-db")
    assert run("index", str(corpus), "--db", flag_db, DOCS_MCP_DB=str(tmp_path / "env-db")).exit_code == 0
    assert (Path(flag_db) / "docs.lance").is_dir() and not (tmp_path / "env-db").exists()


def test_the_default_index_lives_under_xdg_data_home(corpus, tmp_path):
    assert run("index", str(corpus)).exit_code == 0
    assert (tmp_path / "xdg-data" / "docs-mcp" / "index" / "docs.lance").is_dir()


def test_index_json_reports_what_it_did(corpus, tmp_path):
    db = str(tmp_path / "db")
    run("index", str(corpus), "--db", db)
    again = json.loads(run("index", str(corpus), "--db", db, "--json").output)
    assert (again["chunks_embedded"], again["unchanged"], again["published"]) == (0, 9, False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["index", "/no/such/folder"], "does not exist"),
        (["search", "anything"], "no index found"),
        (["serve", "--transport", "carrier-pigeon"], "not supported; use stdio or http"),
        (["--log-level", "LOUD", "status"], "is not supported; use DEBUG"),
    ],
)
def test_user_mistakes_get_one_line_and_no_traceback(args, message):
    result = run(*args)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unknown_doc_exits_1_with_a_hint(corpus, tmp_path):
    db = str(tmp_path / "db")
    run("index", str(corpus), "--db", db)
    result = run("get", "guides/instal", "--db", db)
    assert result.exit_code == 1 and "did you mean" in result.output.lower()


def test_the_module_runs_as_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "docs_mcp", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"docs-mcp {__version__}"


def test_eval_indexes_the_corpus_then_reports_every_mode_with_intervals(corpus, tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            json.dumps(record)
            for record in [
                {"query": "install with pip", "relevant": ["guides/installation.md"], "kind": "setup"},
                {
                    "query": "dead letter queue after failed attempts",
                    "relevant": ["guides/retries.md"],
                    "kind": "ops",
                },
                {"query": "SKYLINE_BROKER_URL", "relevant": ["reference/configuration.md"], "kind": "ops"},
            ]
        ),
        encoding="utf-8",
    )
    metrics_file, per_query = tmp_path / "metrics.json", tmp_path / "per-query.jsonl"
    db = str(tmp_path / "db")
    result = run(
        "eval",
        str(labels),
        "--corpus",
        str(corpus),
        "--db",
        db,
        "--group-by",
        "kind",
        "--json",
        str(metrics_file),
        "--per-query",
        str(per_query),
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    assert set(metrics["modes"]) == {"hybrid", "vector", "fts"}
    assert metrics["modes"]["hybrid"]["hit@5"]["mean"] == 1.0
    assert set(metrics["modes"]["hybrid"]["groups"]) == {"kind=setup", "kind=ops"}
    assert "hybrid_vs_baselines" in metrics
    rows = [json.loads(line) for line in per_query.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 9 and rows[0]["ranked"][0] == "guides/installation.md" and rows[0]["rank"] == 1


def test_a_config_file_in_the_working_directory_configures_every_command(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs-mcp.toml").write_text(f'db = "db-from-file"\ncorpus = "{corpus}"\n', encoding="utf-8")
    assert run("index").exit_code == 0
    assert json.loads(run("status", "--json").output)["db"] == str(tmp_path / "db-from-file")
    other = tmp_path / "other.toml"
    other.write_text('db = "/no/such/index"\n', encoding="utf-8")
    assert "no index found at /no/such/index" in run("--config", str(other), "status").output


def test_a_broken_config_file_is_one_line_with_its_line_and_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs-mcp.toml").write_text("port = 8000\nport = 9000\n", encoding="utf-8")
    result = run("status")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and "docs-mcp.toml:2:" in result.output
    assert run("serve", "--help").exit_code == 0  # help still works, to find --config


def test_log_level_from_the_config_file_sends_logs_to_stderr_only(shared_db, tmp_path):
    (tmp_path / "docs-mcp.toml").write_text(f'log_level = "debug"\ndb = "{shared_db}"\n', encoding="utf-8")
    docs_mcp = str(Path(sys.executable).parent / "docs-mcp")
    result = subprocess.run(
        [docs_mcp, "search", "pip", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "DEBUG " in result.stderr and json.loads(result.stdout)["hits"]  # stdout stays pure JSON


def test_index_exits_3_and_names_each_skipped_file_when_the_rest_was_published(corpus, tmp_path):
    (corpus / "binary.md").write_bytes(b"# x\x00\x01")
    result = runner.invoke(app, ["index", str(corpus), "--db", str(tmp_path / "db")])
    assert result.exit_code == EXIT_SKIPPED_FILES == 3
    assert "skipped binary.md: binary content (NUL bytes)" in result.stderr
    listed = runner.invoke(app, ["list", "--db", str(tmp_path / "db"), "--json"])
    assert listed.exit_code == 0 and "guides/retries" in listed.stdout


def test_the_help_lists_every_command():
    listed = run("--help").output
    assert all(command in listed for command in COMMANDS)
