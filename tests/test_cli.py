"""The `docs-mcp` command, through typer's runner (and once as a real process)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docs_mcp import __version__
from docs_mcp.cli import EXIT_SKIPPED_FILES, EXIT_USAGE, app
from docs_mcp.config import bundled_corpus
from tests.conftest import modules_imported_by

runner = CliRunner()
COMMANDS = [
    "index",
    "sync",
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


# -- the first hour: what a new user meets ---------------------------------------------------------


def _help_texts(command, path=()):
    """(command path, help text) of every option and argument, walking sub-commands."""
    for param in command.params:
        if getattr(param, "help", None):
            yield path, param.help
    if hasattr(command, "commands"):  # a group (typer vendors its own click)
        for name, sub in command.commands.items():
            yield from _help_texts(sub, (*path, name))


def test_help_shows_every_option_text_whole_brackets_included():
    """Rich markup once ate `[tool.docs-mcp]` and every `[env: ...]` that looked like a style tag."""
    import typer.main

    checked = 0
    for path, text in _help_texts(typer.main.get_command(app)):
        shown = "".join(run(*path, "--help").output.split())  # wrapping may split at a hyphen
        assert "".join(text.split()) in shown, (path, text)
        checked += 1
    assert checked > 50
    top = " ".join(run("--help").output.split())
    assert "[tool.docs-mcp]" in top and "[env: DOCS_MCP_LOG_LEVEL; default: WARNING]" in top


def test_a_usage_error_and_a_run_with_skipped_files_exit_with_different_documented_codes(corpus, tmp_path):
    usage = runner.invoke(app, ["search", "x", "--no-such-option"])
    assert usage.exit_code == EXIT_USAGE == 2 and "No such option" in usage.output
    (corpus / "binary.md").write_bytes(b"# x\x00\x01")
    skipped = runner.invoke(app, ["index", str(corpus), "--db", str(tmp_path / "db")])
    assert skipped.exit_code == EXIT_SKIPPED_FILES != EXIT_USAGE
    reference = (bundled_corpus() / "reference" / "cli.md").read_text(encoding="utf-8")
    assert (
        f"| {EXIT_USAGE} | A usage error" in reference
        and f"| {EXIT_SKIPPED_FILES} | `docs-mcp index` published" in reference
    )


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["list"],
        ["get", "index"],
        ["search", "anything"],
        ["ask", "anything?"],
        ["collections"],
        ["export", "llms-txt", "--out", "EXPORT"],
        ["doctor"],
    ],
)
def test_a_read_only_command_never_creates_the_index_folder(command, tmp_path):
    db = tmp_path / "no" / "index"
    args = [str(tmp_path / "out") if part == "EXPORT" else part for part in command]
    result = run(*args, "--db", str(db))
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    assert not (tmp_path / "no").exists()
    assert not (tmp_path / "xdg-data").exists()  # nor the default index folder
    without_db = run(*args)
    assert "Traceback" not in without_db.output and not (tmp_path / "xdg-data").exists()


MCP_WORDS = re.compile(r"\b(search_docs|get_doc|list_docs|list_collections|ask_docs)\b|\bkind='code'|\(id=")


def test_cli_messages_name_commands_not_tool_calls(shared_db):
    db = ["--db", shared_db]
    said = {
        "unknown doc": run("get", "guides/instal", *db),
        "unknown section": run("get", "guides/installation#nowhere", *db),
        "prefix matches nothing": run("search", "pip", "--prefix", "nowhere/", *db),
        "list prefix matches nothing": run("list", "--prefix", "nowhere/", *db),
        "language without kind": run("search", "pip", "--language", "python", *db),
        "unknown collection": run("search", "pip", "--collection", "nope", *db),
        "listing": run("list", *db),
        "search piped": run("search", "install with pip", *db),
    }
    for what, result in said.items():
        assert not MCP_WORDS.search(result.output), (what, result.output)
    assert "Run `docs-mcp search` to find pages, or `docs-mcp list`" in said["unknown doc"].output
    assert "Run `docs-mcp get guides/installation` for the whole page" in said["unknown section"].output
    assert "run `docs-mcp list` to see the folders" in said["prefix matches nothing"].output
    assert "search with --kind code" in said["language without kind"].output
    assert "run `docs-mcp collections`" in said["unknown collection"].output.lower()
    assert "Open one with `docs-mcp get ID`" in said["listing"].output
    assert "(open one with `docs-mcp get ID`)" in said["search piped"].output


def test_a_long_page_piped_says_how_to_read_on_with_the_command(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.md").write_text("# Long\n\n" + "word " * 3000 + "\n", encoding="utf-8")
    db = str(tmp_path / "db")
    assert run("index", str(docs), "--db", db).exit_code == 0
    page = run("get", "long", "--max-chars", "1000", "--db", db).output
    assert "Continue with `docs-mcp get long --start-index " in page and not MCP_WORDS.search(page)


def test_index_refuses_the_docs_of_another_folder_unless_told_to_replace_them(corpus, tmp_path):
    db = str(tmp_path / "db")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.md").write_text("# Notes\n\nSomething else entirely.\n", encoding="utf-8")
    assert run("index", str(corpus), "--db", db).exit_code == 0

    refused = runner.invoke(app, ["index", str(other), "--db", db])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.stderr.count("\n") == 1  # the fix in one line
    assert f"holds the docs of {corpus.resolve()}, not {other.resolve()}" in refused.stderr
    assert "--replace" in refused.stderr and "--db DIR" in refused.stderr
    assert "guides/installation" in run("list", "--db", db).output  # nothing was replaced

    demo = runner.invoke(app, ["index", "--db", db])  # docs-mcp's own docs are refused too
    assert demo.exit_code == 1 and "--replace" in demo.stderr

    replaced = runner.invoke(app, ["index", str(other), "--db", db, "--replace", "--json"])
    assert replaced.exit_code == 0, replaced.output
    report = json.loads(replaced.stdout)
    assert report["published"] and report["removed"] == 9
    assert f"replaced the docs of {corpus.resolve()}" in " ".join(report["warnings"])
    again = runner.invoke(app, ["index", str(other), "--db", db, "--json"])  # now it is the index's own
    assert again.exit_code == 0 and json.loads(again.stdout)["published"] is False


def test_your_docs_replace_the_demo_without_asking_and_say_so(corpus, tmp_path):
    db = str(tmp_path / "db")
    assert run("index", "--db", db, "--json").exit_code == 0  # docs-mcp's own docs: the demo
    mine = runner.invoke(app, ["index", str(corpus), "--db", db])
    assert mine.exit_code == 0, mine.output
    assert f"replaced the docs of {bundled_corpus().resolve()}" in mine.stderr


def test_a_collection_version_remembers_its_own_folder(corpus, tmp_path):
    db = str(tmp_path / "db")
    other = tmp_path / "v2"
    shutil.copytree(corpus, other)
    assert run("index", str(corpus), "--db", db, "--collection", "sdk", "--version", "1").exit_code == 0
    assert run("index", str(other), "--db", db, "--collection", "sdk", "--version", "2").exit_code == 0
    moved = runner.invoke(app, ["index", str(other), "--db", db, "--collection", "sdk", "--version", "1"])
    assert moved.exit_code == 1 and "(collection sdk, version 1) holds the docs of" in moved.stderr


def test_the_index_summary_keeps_a_long_path_on_one_line(tmp_path):
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "docs"
    deep.mkdir(parents=True)
    (deep / "page.md").write_text("# Page\n\nText.\n", encoding="utf-8")
    db = tmp_path / ("an-equally-long-index-folder-" * 3)
    result = runner.invoke(app, ["index", str(deep), "--db", str(db)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.endswith(str(deep)) for line in lines) and any(line.endswith(str(db)) for line in lines)
    assert len(str(deep)) > 100


HEAVY = ["fastembed", "onnxruntime", "mcp.server", "uvicorn", "lance_namespace_urllib3_client.api"]


@pytest.mark.parametrize(
    ("command", "loaded"),
    [
        (["status"], []),
        (["list"], []),
        (["get", "guides/installation"], []),
        (["search", "install with pip"], ["fastembed", "onnxruntime"]),
    ],
)
def test_a_one_shot_command_imports_only_what_it_needs(shared_db, command, loaded):
    """Cold start (scripts/bench_coldstart.py measures it): listing and reading never load the
    model, no command builds the MCP server, and LanceDB's unused REST client stays unbuilt."""
    imported, printed = modules_imported_by([*command, "--db", shared_db], HEAVY)
    assert imported == loaded
    assert printed.strip()


def test_lancedbs_rest_client_still_loads_when_something_asks_for_it():
    script = (
        "import sys, docs_mcp.store; "
        "assert 'lance_namespace_urllib3_client.api' not in sys.modules; "
        "from lance_namespace_urllib3_client import TableApi, ApiClient; "
        "print(TableApi.__name__, ApiClient.__name__)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.split() == ["TableApi", "ApiClient"], result.stderr
