"""`docs-mcp doctor`: each problem users trip over is reported with a fix, and the exit code says so."""

import json
import os
import socket

import pytest
from typer.testing import CliRunner

from docs_mcp.cli import app
from tests.conftest import SAMPLE_CORPUS
from tests.test_transports import running_http_server

runner = CliRunner()


def doctor(*args: str, **env: str):
    result = runner.invoke(app, ["doctor", *args], env=env or None)
    assert "Traceback" not in result.output
    return result


def checks(*args: str, **env: str) -> dict[str, dict]:
    return {check["name"]: check for check in json.loads(doctor(*args, "--json", **env).stdout)}


def test_a_healthy_setup_passes_every_check_and_exits_0(shared_db):
    result = doctor("--db", shared_db)
    assert result.exit_code == 0, result.output
    assert "All checks passed." in result.output and "FAIL" not in result.output
    found = checks("--db", shared_db)
    assert found["model"]["detail"].endswith("sha256 verified; tokenizer present")
    assert "9 docs" in found["index"]["detail"] and found["port"]["status"] == "skip"


def test_a_missing_index_fails_with_the_command_that_builds_it(tmp_path):
    result = doctor("--db", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert (
        "FAIL index: no index at" in result.output and "fix: build it: `docs-mcp index PATH" in result.output
    )


def test_an_index_built_with_another_model_is_a_failure_naming_both_models(shared_db):
    index = checks("--db", shared_db, "--model", "BAAI/bge-small-en-v1.5")["index"]
    assert index["status"] == "fail" and "all-MiniLM-L6-v2-int8" in index["detail"]
    assert "--model all-MiniLM-L6-v2-int8" in index["fix"]


def test_a_missing_corpus_folder_is_reported(shared_db, tmp_path):
    corpus = checks("--db", shared_db, DOCS_MCP_CORPUS=str(tmp_path / "no-docs"))["corpus"]
    assert corpus["status"] == "fail" and "is not a folder" in corpus["detail"]


def test_a_broken_config_file_is_reported_with_line_and_column_and_the_other_checks_still_run(
    shared_db, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs-mcp.toml").write_text('model = "x"\ncorpus = [\n', encoding="utf-8")
    result = doctor("--db", shared_db)
    assert result.exit_code == 1
    assert "FAIL config file:" in result.output and "docs-mcp.toml:3:1: invalid TOML" in result.output
    assert "ok   index:" in result.output  # checked with the defaults, not the broken file


def test_an_unknown_key_in_the_config_file_is_reported(shared_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs-mcp.toml").write_text("colour = 1\n", encoding="utf-8")
    config = checks("--db", shared_db)["config file"]
    assert config["status"] == "fail" and "unknown key 'colour'" in config["detail"]


def test_a_port_already_in_use_is_reported_for_http(shared_db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = doctor("--db", shared_db, "--transport", "http", "--port", port)
    assert result.exit_code == 1 and f"FAIL port: cannot listen on 127.0.0.1:{port}" in result.output
    assert "no docs-mcp server answers there" in result.output and "--port" in result.output


def test_a_free_port_passes(shared_db, free_port):
    assert (
        checks("--db", shared_db, "--transport", "http", "--port", str(free_port))["port"]["status"] == "ok"
    )


def test_an_index_folder_that_is_a_file_is_reported(tmp_path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    folder = checks("--db", str(tmp_path / "file" / "index"))["index folder"]
    assert folder["status"] == "fail" and "is a file, not a folder" in folder["detail"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_an_index_folder_without_write_permission_is_reported(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        folder = checks("--db", str(locked / "index"))["index folder"]
    finally:
        locked.chmod(0o700)
    assert folder["status"] == "fail" and "not writable" in folder["detail"]


def test_with_no_corpus_set_the_corpus_check_says_which_docs_the_index_holds(shared_db):
    corpus = checks("--db", shared_db)["corpus"]
    assert (
        corpus["status"] == "ok"
        and f"the index holds the docs of {SAMPLE_CORPUS.resolve()}" in corpus["detail"]
    )
    assert "docs-mcp's own docs" not in corpus["detail"]


def test_a_configured_corpus_other_than_the_indexs_is_a_failure_saying_index_would_refuse_it(
    shared_db, corpus
):
    check = checks("--db", shared_db, DOCS_MCP_CORPUS=str(corpus))["corpus"]
    assert check["status"] == "fail" and f"holds the docs of {SAMPLE_CORPUS.resolve()}" in check["detail"]
    assert "--replace" in check["fix"]


def test_a_port_held_by_a_running_docs_mcp_server_is_that_server_not_a_failure(
    shared_db, tmp_path, free_port
):
    log = tmp_path / "server.log"
    with running_http_server(shared_db, free_port, dict(os.environ), log):
        port = checks("--db", shared_db, "--transport", "http", "--port", str(free_port))["port"]
    assert port["status"] == "ok", port
    assert (
        f"127.0.0.1:{free_port} is in use by a running docs-mcp server (index version 1, 9 docs)"
        in port["detail"]
    )
