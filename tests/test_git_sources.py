"""Git sources: `docs-mcp index git+URL` against real git servers on 127.0.0.1.

The servers (tests/git_servers.py) are started by the tests: `git daemon` over bare
repositories the tests build, smart HTTP (`git http-backend` behind a small HTTPS
server, with Basic authentication for private repositories), and git+file:// URLs.
The repository `frob` has tags v1.0, v1.1 and v2.0 whose docs differ. Indexing runs
through the CLI with the real model; what was published is read back through the
service, the way a server answers.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.collection import Scope
from docs_mcp.config import Settings
from docs_mcp.errors import ConfigError, GitSourceError
from docs_mcp.search import DocsService
from docs_mcp.sources.git import (
    GitRemote,
    RemoteRefs,
    cache_folder,
    cache_lock,
    parse_git_url,
    parse_ls_remote,
    select_refs,
    sparse_patterns,
)
from docs_mcp.sources.spec import redact_urls
from docs_mcp.store import IndexStore
from tests import test_remote
from tests.conftest import MODEL, modules_imported_by
from tests.git_servers import (
    GitDaemon,
    Repository,
    SilentServer,
    SmartHttpServer,
    free_port,
    git,
    make_certificate,
    make_frob,
)

runner = CliRunner()
site = test_remote.site  # the fixture: a docs site with an llms.txt, for sync's website source


@pytest.fixture
def served(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    return folder


@pytest.fixture
def frob(served: Path, tmp_path: Path) -> Repository:
    return make_frob(served, tmp_path / "work")


@pytest.fixture
def daemon(served: Path, frob: Repository) -> Iterator[GitDaemon]:
    with GitDaemon(served) as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "index")


def docs_mcp(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def index_json(*args: str) -> dict:
    code, out, err = docs_mcp("index", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def service(db: str, embedder) -> DocsService:
    return DocsService(IndexStore(db), lambda: embedder, model=MODEL)


def doc_ids(db: str, collection: str, version: str) -> list[str]:
    """The doc ids a collection version publishes."""
    return sorted(IndexStore(db).scoped(Scope(collection, version)).open_snapshot(load_vectors=False).docs)


def by_version(run: dict) -> dict[str, dict]:
    return {report["version"]: report for report in run["versions"]}


def cache_repo(url: str, path: str = "") -> Path:
    settings = Settings.load()
    return cache_folder(settings.cache_dir, parse_git_url(url), path) / "repo"


# -- versions from tags -------------------------------------------------------------------------


def test_each_tag_becomes_a_version_and_a_search_in_v1_0_never_returns_text_only_v2_0_has(
    daemon, db, embedder
):
    run = index_json(daemon.url("frob"), "--refs", "v*", "--path", "docs", "--db", db)
    assert run["kind"] == "git"
    assert [r["version"] for r in run["versions"]] == ["v2.0", "v1.1", "v1.0"]
    assert {r["collection"] for r in run["versions"]} == {"frob"}  # the repository's name
    assert by_version(run)["v2.0"]["added"] == 3 and by_version(run)["v1.0"]["added"] == 2
    # Indexed newest first: the pages v1.1 and v1.0 share with a newer tag are copied, not embedded.
    assert by_version(run)["v2.0"]["chunks_reused"] == 0
    assert by_version(run)["v1.1"]["chunks_reused"] > 0 and by_version(run)["v1.0"]["chunks_reused"] > 0
    docs = service(db, embedder)
    query = "dive with the submarine ballast tanks and the quantum hydrophone periscope"
    in_v1 = docs.search(query, limit=10, collection="frob", version="v1.0")
    assert in_v1.hits, "v1.0 has pages, so a search returns some"
    for hit in in_v1.hits:
        page = docs.get_doc(hit.doc_id, collection="frob", version="v1.0").content
        assert "hydrophone" not in page and "gyroscopic" not in page and "submarine" not in hit.snippet
    in_v2 = docs.search(query, limit=3, collection="frob", version="v2.0")
    assert in_v2.hits[0].doc_id == "submarine"
    # The collection's default version is the newest tag.
    assert docs.search("steer the boat", collection="frob").version == "v2.0"
    guide_v11 = docs.get_doc("guide", collection="frob", version="v1.1").content
    assert "two hours ahead" in guide_v11 and "tiller" in guide_v11


def test_hits_pages_and_versions_say_which_repository_ref_path_and_commit_they_came_from(
    daemon, frob, db, embedder
):
    index_json(daemon.url("frob"), "--ref", "v1.1", "--path", "docs", "--db", db)
    commit = git("rev-parse", "v1.1^{commit}", cwd=frob.work).strip()
    docs = service(db, embedder)
    hit = docs.search("steer with the tiller", collection="frob", version="v1.1").hits[0]
    assert hit.origin is not None
    assert hit.origin.model_dump() == {
        "repository": f"git://127.0.0.1:{daemon.port}/frob.git",
        "ref": "v1.1",
        "commit": commit,
        "path": "docs/guide.md",
    }
    page = docs.get_doc("guide", collection="frob", version="v1.1")
    assert page.origin == hit.origin
    tree = docs.list_docs(collection="frob", version="v1.1")
    assert tree.origin is not None and tree.origin.path == "docs"
    from docs_mcp.render import render_page, render_search

    assert f"commit={commit!r}" in render_page(page) and "path='docs/guide.md'" in render_page(page)
    assert commit in render_search(docs.search("anchor", collection="frob", version="v1.1"))
    _, out, _ = docs_mcp("collections", "--db", db, "--json")
    version = json.loads(out)["collections"][0]["versions"][0]
    assert version["origin"]["commit"] == commit and version["origin"]["ref"] == "v1.1"


def test_the_default_ref_is_the_default_branch_and_the_version_its_name(daemon, frob, db):
    run = index_json(daemon.url("frob"), "--path", "docs", "--db", db)
    (report,) = run["versions"]
    assert report["version"] == "main" and report["origin"]["ref_kind"] == "branch"
    assert report["origin"]["commit"] == git("rev-parse", "main", cwd=frob.work).strip()


def test_a_commit_can_be_indexed_by_its_hash_and_a_version_named_for_it(daemon, frob, db):
    commit = git("rev-parse", "v1.0^{commit}", cwd=frob.work).strip()
    run = index_json(
        daemon.url("frob"), "--ref", commit, "--version", "1.0-final", "--db", db, "--path", "docs"
    )
    (report,) = run["versions"]
    assert report["version"] == "1.0-final" and report["origin"]["commit"] == commit


# -- incremental runs ---------------------------------------------------------------------------


def test_an_unchanged_re_run_fetches_nothing_checks_nothing_out_and_embeds_nothing(daemon, db):
    url = daemon.url("frob")
    index_json(url, "--refs", "v*", "--path", "docs", "--db", db)
    repository = cache_repo(url, "docs")
    stamps = {p: p.stat().st_mtime_ns for p in [repository / ".git" / "index", *repository.rglob("*.md")]}
    objects = sorted(str(p) for p in (repository / ".git" / "objects").rglob("*"))
    again = index_json(url, "--refs", "v*", "--path", "docs", "--db", db)
    assert again["chunks_embedded"] == 0 and again["added"] == again["changed"] == again["removed"] == 0
    assert all(not report["published"] for report in again["versions"])
    assert again["unchanged"] == 3 + 2 + 2
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # no checkout touched the files
    assert sorted(str(p) for p in (repository / ".git" / "objects").rglob("*")) == objects  # no fetch


def test_a_moved_branch_re_embeds_only_the_files_whose_content_changed(daemon, frob, db):
    url = daemon.url("frob")
    index_json(url, "--ref", "main", "--path", "docs", "--db", db)
    frob.commit("Touch only code", {"src/frob.py": "print('frob 2')\n"})
    frob.commit(
        "Weather", {"docs/guide.md": (frob.work / "docs/guide.md").read_text() + "\nFog horns too.\n"}
    )
    frob.push("main")
    run = index_json(url, "--ref", "main", "--path", "docs", "--db", db)
    (report,) = run["versions"]
    assert (report["changed"], report["added"], report["removed"]) == (1, 0, 0)
    assert report["unchanged"] == 2
    assert 0 < report["chunks_embedded"] <= 3  # the guide's chunks only
    assert report["origin"]["commit"] == git("rev-parse", "main", cwd=frob.work).strip()


def test_a_commit_that_changes_no_doc_publishes_the_new_commit_without_embedding(daemon, frob, db, embedder):
    url = daemon.url("frob")
    index_json(url, "--path", "docs", "--db", db)
    new_commit = frob.commit("Code only", {"src/frob.py": "print('frob 3')\n"})
    frob.push("main")
    (report,) = index_json(url, "--path", "docs", "--db", db)["versions"]
    assert report["chunks_embedded"] == 0 and report["unchanged"] == 3 and report["published"]
    hit = service(db, embedder).search("anchor", collection="frob", version="main").hits[0]
    assert hit.origin is not None and hit.origin.commit == new_commit


def test_a_force_pushed_branch_is_indexed_at_its_new_commit(daemon, frob, db, embedder):
    url = daemon.url("frob")
    index_json(url, "--ref", "main", "--path", "docs", "--db", db)
    # Rewrite history: main goes back to v1.0 and gets a different change on top.
    git("reset", "--quiet", "--hard", "v1.0", cwd=frob.work)
    rewritten = frob.commit("Rewritten", {"docs/guide.md": "# Sailing guide\n\nRow the boat with oars.\n"})
    frob.push("main", force=True)
    (report,) = index_json(url, "--ref", "main", "--path", "docs", "--db", db)["versions"]
    assert report["origin"]["commit"] == rewritten
    assert (report["changed"], report["removed"]) == (1, 1)
    assert doc_ids(db, "frob", "main") == ["guide", "index"]
    docs = service(db, embedder)
    assert "oars" in docs.get_doc("guide", collection="frob", version="main").content


def test_a_tag_deleted_upstream_keeps_its_published_version_and_the_run_says_so(daemon, frob, db, embedder):
    url = daemon.url("frob")
    index_json(url, "--refs", "v*", "--path", "docs", "--db", db)
    frob.delete_remote_tag("v1.1")
    code, out, err = docs_mcp("index", url, "--refs", "v*", "--path", "docs", "--db", db, "--json")
    assert code == 0, err
    run = json.loads(out)
    assert [r["version"] for r in run["versions"]] == ["v2.0", "v1.0"]
    (note,) = run["notes"]
    assert "v1.1" in note and "no longer exists" in note and "kept" in note
    # Still served as it was published.
    assert (
        "two hours ahead" in service(db, embedder).get_doc("guide", collection="frob", version="v1.1").content
    )


def test_max_versions_takes_the_newest_tags_by_version_order(daemon, frob, db):
    frob.commit("Frob 1.10", {"docs/guide.md": "# Sailing guide\n\nVersion ten of the one series.\n"})
    frob.tag("v1.10")
    frob.push()
    run = index_json(
        daemon.url("frob"), "--refs", "v1.*", "--max-versions", "2", "--path", "docs", "--db", db
    )
    assert [r["version"] for r in run["versions"]] == ["v1.10", "v1.1"]


# -- failures that say what to do ---------------------------------------------------------------


def test_a_path_that_is_not_in_the_repository_fails_naming_its_folders(daemon, db):
    code, _, err = docs_mcp("index", daemon.url("frob"), "--path", "documentation", "--db", db)
    assert code == 1
    assert "--path 'documentation' is not a folder of" in err and "assets, docs, src" in err
    assert "Traceback" not in err


def test_a_ref_that_does_not_exist_lists_branches_and_tags(daemon, db):
    code, _, err = docs_mcp("index", daemon.url("frob"), "--ref", "v9", "--db", db)
    assert code == 1 and "no branch or tag 'v9'" in err and "main" in err and "v2.0" in err


def test_an_unreachable_host_fails_fast(db):
    started = time.monotonic()
    code, _, err = docs_mcp("index", f"git+git://127.0.0.1:{free_port()}/frob.git", "--db", db)
    assert code == 1 and "cannot connect to git://127.0.0.1" in err
    assert time.monotonic() - started < 20


def test_a_server_that_never_answers_is_stopped_at_git_timeout_seconds(db, monkeypatch):
    monkeypatch.setenv("DOCS_MCP_GIT_TIMEOUT_SECONDS", "2")
    with SilentServer() as silent:
        started = time.monotonic()
        code, _, err = docs_mcp("index", f"git+git://127.0.0.1:{silent.port}/frob.git", "--db", db)
    assert code == 1 and "did not finish within 2 s" in err and "git_timeout_seconds" in err
    assert time.monotonic() - started < 15


def test_a_repository_over_git_max_bytes_is_refused_naming_the_setting(served, tmp_path, db, monkeypatch):
    repo = Repository(served, "heavy", tmp_path / "work")
    repo.commit(
        "docs and a large asset",
        {"docs/index.md": "# Heavy\n\nDocs.\n", "docs/video.mdx": os.urandom(600_000)},
    )
    repo.push()
    monkeypatch.setenv("DOCS_MCP_GIT_MAX_BYTES", "300000")
    with GitDaemon(served) as server:
        code, _, err = docs_mcp("index", server.url("heavy"), "--path", "docs", "--db", db)
    assert code == 1 and "git_max_bytes" in err and "300,000 bytes" in err


def test_only_the_four_git_transports_are_accepted():
    for url in (
        "git+ext::sh -c touch% /tmp/pwned",
        "git+http://host/repo.git",
        "git+fd::7",
        "git+ftp://h/r.git",
    ):
        with pytest.raises(ConfigError, match="git\\+https://, git\\+ssh://, git\\+git:// or git\\+file://"):
            parse_git_url(url)


def test_a_url_rewrite_to_another_transport_is_refused_by_git_itself(tmp_path, db, monkeypatch):
    """GIT_ALLOW_PROTOCOL holds even when the user's own git configuration rewrites the URL."""
    marker = tmp_path / "ext-ran"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        f'[url "ext::sh -c touch% {marker}% >&2"]\n\tinsteadOf = https://evil.example/\n', encoding="utf-8"
    )
    monkeypatch.setenv("HOME", str(home))
    code, _, err = docs_mcp("index", "git+https://evil.example/repo.git", "--db", db)
    assert code == 1 and "'ext' transport" in err
    assert not marker.exists()


# -- safety: what a repository or a configuration cannot make git do -----------------------------


def test_hooks_filters_templates_and_submodules_never_run(served, tmp_path, db, monkeypatch, embedder):
    markers = tmp_path / "markers"
    markers.mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "post-merge", "reference-transaction", "pre-auto-gc"):
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch {markers}/{hook}\n", encoding="utf-8")
        script.chmod(0o755)
    template = tmp_path / "template"
    (template / "hooks").mkdir(parents=True)
    (template / "hooks" / "post-checkout").write_text(
        f"#!/bin/sh\ntouch {markers}/template\n", encoding="utf-8"
    )
    (template / "hooks" / "post-checkout").chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    # The user's own configuration: hooks, a template, and an LFS-like smudge filter that would run.
    (home / ".gitconfig").write_text(
        f"[core]\n\thooksPath = {hooks}\n[init]\n\ttemplateDir = {template}\n"
        f'[filter "lfs"]\n\tsmudge = sh -c "touch {markers}/smudge; cat"\n\trequired = true\n'
        f'[filter "shout"]\n\tsmudge = sh -c "touch {markers}/shout; tr a-z A-Z"\n',
        encoding="utf-8",
    )
    inner = Repository(served, "inner", tmp_path / "work")
    inner.commit("inner docs", {"docs/secret.md": "# Inner\n\nThe inner submodule's page about walruses.\n"})
    inner.push()
    outer = Repository(served, "outer", tmp_path / "work")
    outer.commit(
        "docs with filters",
        {
            "docs/index.md": "# Outer\n\nPages about otters.\n",
            "docs/shouted.md": "# quiet\n\nthis text stays lower case.\n",
            ".gitattributes": "docs/shouted.md filter=shout\ndocs/index.md filter=lfs\n",
        },
    )
    with GitDaemon(served) as server:
        inner_url = f"git://127.0.0.1:{server.port}/inner.git"
        git("-c", "protocol.file.allow=always", "submodule", "add", "--quiet", str(inner.bare), "docs/inner",
            cwd=outer.work)  # fmt: skip
        git("config", "--file", ".gitmodules", "submodule.docs/inner.url", inner_url, cwd=outer.work)
        outer.commit("submodule")
        outer.push()
        monkeypatch.setenv("HOME", str(home))
        run = index_json(server.url("outer"), "--path", "docs", "--db", db)
    assert sorted(os.listdir(markers)) == []
    assert run["versions"][0]["published"]
    assert doc_ids(db, "outer", "main") == ["index", "shouted"]  # not the submodule's page
    page = service(db, embedder).get_doc("shouted", collection="outer", version="main").content
    assert "this text stays lower case" in page


def test_an_lfs_pointer_is_skipped_not_indexed(served, tmp_path, db):
    repo = Repository(served, "lfs", tmp_path / "work")
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 123456\n"
    repo.commit("lfs", {"docs/index.md": "# Docs\n\nReal text.\n", "docs/big.md": pointer})
    repo.push()
    with GitDaemon(served) as server:
        code, out, err = docs_mcp("index", server.url("lfs"), "--path", "docs", "--db", db, "--json")
    assert code == 3, err  # published, with a file left out
    (report,) = json.loads(out)["versions"]
    assert doc_ids(db, "lfs", "main") == ["index"]
    assert report["skipped"] == [
        {"path": "big.md", "reason": "a Git LFS pointer: docs-mcp does not download LFS content"}
    ]


def test_symlinks_out_of_the_checkout_are_skipped(served, tmp_path, db, embedder):
    repo = Repository(served, "links", tmp_path / "work")
    repo.commit(
        "docs", {"docs/index.md": "# Docs\n\nThe real page.\n", "README.md": "# Readme\n\nOutside docs.\n"}
    )
    (repo.work / "docs" / "passwd.md").symlink_to("/etc/passwd")
    (repo.work / "docs" / "readme.md").symlink_to("../README.md")
    (repo.work / "docs" / "same.md").symlink_to("index.md")
    repo.commit("links")
    repo.push()
    with GitDaemon(served) as server:
        code, out, err = docs_mcp("index", server.url("links"), "--path", "docs", "--db", db, "--json")
    assert code == 3, err
    (report,) = json.loads(out)["versions"]
    skipped = {s["path"] for s in report["skipped"]}
    assert {"passwd.md", "readme.md"} <= skipped
    assert "passwd" not in doc_ids(db, "links", "main") and "root:" not in out


def test_git_variables_of_a_calling_git_never_redirect_docs_mcp(daemon, db, tmp_path, monkeypatch):
    """docs-mcp run from a git hook inherits GIT_DIR and friends: they must not point its git elsewhere."""
    elsewhere = tmp_path / "elsewhere"
    git("init", "--quiet", str(elsewhere), cwd=tmp_path)
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(elsewhere))
    monkeypatch.setenv("GIT_INDEX_FILE", str(elsewhere / ".git" / "index"))
    index_json(daemon.url("frob"), "--path", "docs", "--db", db)
    assert doc_ids(db, "frob", "main") == ["guide", "index", "submarine"]
    assert git("for-each-ref", cwd=elsewhere, env={"GIT_DIR": str(elsewhere / ".git")}) == ""


def test_two_runs_on_one_cache_repository_do_not_interleave(daemon, db):
    url = daemon.url("frob")
    with cache_lock(cache_repo(url, "docs").parent):
        code, _, err = docs_mcp("index", url, "--path", "docs", "--db", db)
    assert code == 1 and "another docs-mcp run is fetching into" in err


def test_a_repository_that_does_not_exist_says_so(daemon, db):
    code, _, err = docs_mcp("index", daemon.url("nope"), "--db", db)
    assert code == 1 and "there is no repository at git://127.0.0.1" in err and "nope.git" in err


OURS = ["docs_mcp.sources", "docs_mcp.sources.git", "docs_mcp.sync", "docs_mcp.sources.website", "fastembed"]


def imported_by(*command: str) -> list[str]:
    return modules_imported_by(command, OURS)[0]


def test_reading_commands_never_import_the_sources(daemon, db):
    index_json(daemon.url("frob"), "--ref", "v1.0", "--path", "docs", "--db", db)
    for command in (["get", "guide", "--collection", "frob"], ["list", "--collection", "frob"], ["status"]):
        assert imported_by(*command, "--db", db) == [], command
    assert imported_by("collections", "--db", db) == []


def test_a_sync_whose_refs_did_not_move_never_loads_the_model(daemon, db, tmp_path):
    config = write_config(
        tmp_path, f'db = "{db}"\n\n[[sources]]\nsource = "{daemon.url("frob")}"\nref = "v1.0"\n'
    )
    assert "fastembed" in imported_by("--config", str(config), "sync")
    assert "fastembed" not in imported_by("--config", str(config), "sync")


# -- transports, credentials --------------------------------------------------------------------


def test_git_file_urls_work(frob, db):
    index_json(f"git+file://{frob.bare}", "--ref", "v2.0", "--path", "docs", "--db", db)
    assert doc_ids(db, "frob", "v2.0") == ["guide", "index", "submarine"]


def test_ssh_urls_use_the_users_ssh_command(frob, served, db, tmp_path, monkeypatch):
    """git+ssh:// goes through the user's ssh (GIT_SSH_COMMAND here: a stand-in that runs the remote
    command locally, as git's own tests do), with the login name and without a password."""
    fake_ssh = tmp_path / "fake-ssh"
    log = tmp_path / "ssh-args"
    fake_ssh.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\nshift $(($# - 1))\nexec sh -c "$1"\n', encoding="utf-8"
    )
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    run = index_json(
        f"git+ssh://git@example.invalid{served}/frob.git", "--ref", "v1.0", "--path", "docs", "--db", db
    )
    assert doc_ids(db, "frob", "v1.0") == ["guide", "index"]
    assert "git@example.invalid" in log.read_text()
    assert run["versions"][0]["origin"]["repository"] == f"ssh://example.invalid{served}/frob.git"


def test_a_collection_version_built_from_other_docs_is_replaced_only_with_replace(daemon, db, corpus):
    code, _, err = docs_mcp("index", str(corpus), "--collection", "frob", "--version", "v2.0", "--db", db)
    assert code == 0, err
    code, _, err = docs_mcp("index", daemon.url("frob"), "--ref", "v2.0", "--path", "docs", "--db", db)
    assert code == 1 and "holds the docs of" in err and "--replace" in err
    run = index_json(daemon.url("frob"), "--ref", "v2.0", "--path", "docs", "--db", db, "--replace")
    assert run["versions"][0]["published"]
    assert doc_ids(db, "frob", "v2.0") == ["guide", "index", "submarine"]


def test_watching_a_git_source_is_refused_with_what_to_do_instead(daemon, db):
    code, _, err = docs_mcp("index", daemon.url("frob"), "--watch", "--db", db)
    assert code == 1 and "docs-mcp sync" in err


def test_git_options_on_a_folder_are_refused(corpus, db):
    code, _, err = docs_mcp("index", str(corpus), "--refs", "v*", "--path", "docs", "--db", db)
    assert code == 1 and "--refs, --path apply to git sources only" in err


@pytest.fixture
def https(served: Path, frob: Repository, tmp_path: Path, monkeypatch) -> Iterator[SmartHttpServer]:
    certificate = make_certificate(tmp_path)
    if certificate is None:
        pytest.skip("openssl is not installed: no certificate for the HTTPS git server")
    private = served / "private"
    private.mkdir()
    make_frob(private, tmp_path / "private-work", name="vault")
    monkeypatch.setenv("GIT_SSL_CAINFO", str(certificate[0]))  # trust the test's own CA, as a user would
    with SmartHttpServer(served, *certificate, user="robot", password="s3cr3t-t0ken") as server:
        yield server


def test_smart_https_serves_versions_like_git_daemon(https, db):
    run = index_json(https.url("frob"), "--refs", "v*", "--max-versions", "2", "--path", "docs", "--db", db)
    assert [r["version"] for r in run["versions"]] == ["v2.0", "v1.1"]
    assert any("git-upload-pack" in path for path, _ in https.requests)


def test_a_missing_repository_over_https_says_so(https, db):
    code, _, err = docs_mcp("index", https.url("missing"), "--db", db)
    assert code == 1 and "there is no repository at https://127.0.0.1" in err


def test_a_private_repository_without_credentials_fails_at_once_with_what_to_do(https, db, tmp_path):
    # A real process with a terminal-less stdin: git would otherwise ask for a user name and wait.
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "docs_mcp", "index", https.url("private/vault"), "--db", db],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},  # no credential helper of the machine's user
    )
    assert result.returncode == 1
    assert "needs credentials that git could not find" in result.stderr
    assert "credential helper" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def test_credentials_in_the_url_reach_git_and_appear_nowhere(
    https, db, embedder, tmp_path, caplog, model_cache
):
    secret_url = https.url("private/vault", credentials="robot:s3cr3t-t0ken@")
    caplog.set_level(logging.DEBUG)
    code, out, err = docs_mcp(
        "--log-level", "DEBUG", "index", secret_url, "--refs", "v*", "--path", "docs", "--db", db, "--json"
    )
    assert code == 0, err
    run = json.loads(out)
    assert run["versions"][0]["collection"] == "vault"
    authorized = [auth for path, auth in https.requests if path.startswith("/private/") and auth]
    assert authorized, "git sent the URL's credentials"
    docs = service(db, embedder)
    texts = [out, err, caplog.text]
    texts.append(docs.search("steer", collection="vault").model_dump_json())
    texts.append(docs.get_doc("guide", collection="vault").model_dump_json())
    texts.append(json.dumps(docs_mcp("collections", "--db", db, "--json")[1]))
    for secret in ("s3cr3t-t0ken", "robot"):
        for text in texts:
            assert secret not in text
    # Nor through a real server: /health, and a search_docs call's structured result and text.
    from tests.test_transports import pick_free_port, running_http_server, server_env

    env = server_env(model_cache, tmp_path)
    with running_http_server(db, pick_free_port(), env, tmp_path / "serve.log") as base_url:
        health = httpx.get(f"{base_url}/health", timeout=10).text

        async def search() -> Any:
            async with Client(f"{base_url}/mcp", read_timeout_seconds=60) as client:
                return await client.call_tool("search_docs", {"query": "steer", "collection": "vault"})

        found = anyio.run(search)
    hit = found.structured_content["hits"][0]
    assert hit["origin"]["repository"] == f"https://127.0.0.1:{https.port}/private/vault.git"
    for text in (health, json.dumps(found.structured_content), found.content[0].text):
        assert "s3cr3t-t0ken" not in text and "robot" not in text
    # Nor on disk, in the cache repository git fetched into.
    for file in (Path(Settings.load().cache_dir) / "git").rglob("*"):
        if file.is_file() and file.stat().st_size < 1_000_000:
            assert b"s3cr3t-t0ken" not in file.read_bytes(), file


def test_a_wrong_password_in_the_url_fails_without_showing_it(https, db):
    code, out, err = docs_mcp(
        "index", https.url("private/vault", credentials="robot:wrong-pass@"), "--db", db
    )
    assert code == 1 and "needs credentials" in err
    assert "wrong-pass" not in out + err and "robot" not in out + err


def test_the_users_credential_helper_is_used(https, db, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    store = home / ".git-credentials"
    store.write_text(f"https://robot:s3cr3t-t0ken@127.0.0.1%3a{https.port}\n", encoding="utf-8")
    (home / ".gitconfig").write_text(f"[credential]\n\thelper = store --file={store}\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    index_json(https.url("private/vault"), "--ref", "v1.0", "--path", "docs", "--db", db)
    assert doc_ids(db, "vault", "v1.0") == ["guide", "index"]


# -- sync ---------------------------------------------------------------------------------------


def write_config(folder: Path, text: str) -> Path:
    config = folder / "docs-mcp.toml"
    config.write_text(text, encoding="utf-8")
    return config


def test_sync_publishes_the_sources_that_succeed_when_one_fails_and_names_it(daemon, db, tmp_path, site):
    config = write_config(
        tmp_path,
        f"""
db = "{db}"

[[sources]]
source = "{site.url}/llms.txt"
collection = "orbit"
version = "3.1"

[[sources]]
source = "{daemon.url("frob")}"
refs = "v*"
max_versions = 2
path = "docs"

[[sources]]
source = "git+git://127.0.0.1:{free_port()}/gone.git"
collection = "gone"
""",
    )
    code, out, err = docs_mcp("--config", str(config), "sync", "--json")
    assert code == 1
    runs = json.loads(out)
    assert [run["kind"] for run in runs] == ["website", "git", "git"]
    orbit, frob, gone = runs
    assert orbit["error"] is None and orbit["added"] == 3 and orbit["fetched"][0]["downloaded"] == 3
    assert [v["version"] for v in frob["versions"]] == ["v2.0", "v1.1"]
    assert gone["error"] and "cannot connect" in gone["error"]
    assert "1 of 3 sources failed: git+git://127.0.0.1:" in err and "gone.git" in err
    # What succeeded is published.
    _, out, _ = docs_mcp("collections", "--db", db, "--json")
    names = {c["name"]: [v["version"] for v in c["versions"]] for c in json.loads(out)["collections"]}
    assert names == {"orbit": ["3.1"], "frob": ["v1.1", "v2.0"]}


def test_sync_prints_one_row_per_source_and_a_re_sync_changes_nothing(daemon, db, tmp_path, corpus):
    config = write_config(
        tmp_path,
        f'db = "{db}"\n\n[[sources]]\nsource = "{corpus}"\ncollection = "handbook"\n\n'
        f'[[sources]]\nsource = "{daemon.url("frob")}"\nrefs = "v*"\npath = "docs"\n',
    )
    code, out, err = docs_mcp("--config", str(config), "sync")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.strip()]
    assert rows[0].split() == ["added", "changed", "removed", "unchanged", "seconds", "result", "source",
                               "(collection", "versions)"]  # fmt: skip
    assert len(rows) == 3 and rows[1].endswith(f"{corpus} (handbook latest)")
    assert rows[2].split()[:4] == ["7", "0", "0", "0"] and "published" in rows[2]
    assert rows[2].endswith("frob.git --path docs (frob v2.0, v1.1, v1.0)")
    code, out, err = docs_mcp("--config", str(config), "sync", "--json")
    assert code == 0, err
    assert [run["chunks_embedded"] for run in json.loads(out)] == [0, 0]
    code, out, _ = docs_mcp("--config", str(config), "sync")
    assert out.count("up to date") == 2


def test_sync_dry_run_says_what_would_change_and_changes_nothing(daemon, frob, db, tmp_path):
    config = write_config(
        tmp_path, f'db = "{db}"\n\n[[sources]]\nsource = "{daemon.url("frob")}"\nrefs = "v*"\npath = "docs"\n'
    )
    code, out, err = docs_mcp("--config", str(config), "sync", "--dry-run")
    assert code == 0, err
    assert out.count("would fetch and index tag") == 3
    assert not Path(db).exists()
    docs_mcp("--config", str(config), "sync")
    frob.commit("v2.1", {"docs/guide.md": "# Sailing guide\n\nNew.\n"})
    frob.tag("v2.1")
    frob.push()
    code, out, _ = docs_mcp("--config", str(config), "sync", "--dry-run")
    assert "frob v2.1: would fetch and index tag v2.1" in out
    assert out.count("up to date") == 3


def test_sync_dry_run_counts_what_a_folder_would_change(db, tmp_path, corpus):
    config = write_config(
        tmp_path, f'db = "{db}"\n\n[[sources]]\nsource = "{corpus}"\ncollection = "handbook"\n'
    )
    _, out, _ = docs_mcp("--config", str(config), "sync", "--dry-run")
    files = len(list(corpus.rglob("*.md")))
    assert f"handbook latest: would index {corpus}: {files} added, 0 changed, 0 removed, 0 unchanged" in out
    assert docs_mcp("--config", str(config), "sync")[0] == 0
    first = sorted(corpus.rglob("*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    _, out, _ = docs_mcp("--config", str(config), "sync", "--dry-run")
    assert f"0 added, 1 changed, 0 removed, {files - 1} unchanged" in out


def test_sync_reads_the_sources_of_pyproject_toml(daemon, db, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n\n[tool.docs-mcp]\ndb = "{db}"\n\n'
        f'[[tool.docs-mcp.sources]]\nsource = "{daemon.url("frob")}"\nref = "v1.0"\npath = "docs"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = docs_mcp("sync", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["versions"][0]["version"] == "v1.0"


def test_sync_never_shows_the_credentials_of_a_source_it_cannot_open(tmp_path):
    config = write_config(
        tmp_path,
        f'db = "{tmp_path / "index"}"\n\n[[sources]]\nsource = "git+ftp://robot:hunter22@host/r.git"\n',
    )
    for args in (["sync"], ["sync", "--dry-run"], ["sync", "--json"]):
        code, out, err = docs_mcp("--config", str(config), *args)
        assert code in (0, 1) and "ftp://host/r.git" in out + err
        assert "hunter22" not in out + err and "robot" not in out + err


def test_sync_without_sources_says_how_to_list_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = docs_mcp("sync")
    assert code == 1 and "[[sources]]" in err


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('source = "docs"\nref = "main"', "ref applies to git sources only"),
        ('collection = "x"', "say what to index"),
        ('source = "git+https://h/r.git"\nrefs = "v*"\nversion = "1"', "leave out version"),
        ('source = "docs"\ncolour = "blue"', "unknown key 'colour'"),
        ('source = "git+https://h/r.git"\nmax_versions = 0', "max_versions must be an integer, 1 or more"),
    ],
)
def test_a_bad_source_table_names_its_line_and_the_fix(tmp_path, table, message):
    config = write_config(tmp_path, f'db = "{tmp_path / "index"}"\n\n[[sources]]\n{table}\n')
    code, out, err = docs_mcp("--config", str(config), "sync")
    assert code == 1 and message in err + out and f"{config}:3" in err + out


# -- doctor -------------------------------------------------------------------------------------


def test_doctor_checks_git_when_a_git_source_is_configured(tmp_path, monkeypatch):
    config = write_config(tmp_path, '[[sources]]\nsource = "git+https://example.com/org/repo.git"\n')
    _, out, _ = docs_mcp("--config", str(config), "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert checks["git"]["status"] == "ok" and "git version" in checks["git"]["detail"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    _, out, _ = docs_mcp("--config", str(config), "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)}
    assert checks["git"]["status"] == "fail" and "install git" in checks["git"]["fix"]


def test_doctor_says_nothing_about_git_without_a_git_source(tmp_path):
    config = write_config(tmp_path, f'[[sources]]\nsource = "{tmp_path}"\n')
    _, out, _ = docs_mcp("--config", str(config), "doctor", "--json")
    assert "git" not in {c["name"] for c in json.loads(out)}


# -- pure parts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fetched", "shown", "name"),
    [
        ("git+https://github.com/org/frob.git", "https://github.com/org/frob.git", None, "frob"),
        ("git+https://tok@github.com/org/frob", "https://github.com/org/frob", None, "frob"),
        ("git+https://u:p%40ss@host:8443/a/b/frob.git/", "https://host:8443/a/b/frob.git/", None, "frob"),
        ("git+ssh://git@host/org/frob.git", "ssh://git@host/org/frob.git", "ssh://host/org/frob.git", "frob"),
        ("git+git://host:9418/frob.git", "git://host:9418/frob.git", None, "frob"),
        ("git+file:///srv/git/frob.git", "file:///srv/git/frob.git", None, "frob"),
    ],
)
def test_git_urls_are_taken_apart_without_their_credentials(url, fetched, shown, name):
    remote = parse_git_url(url)
    assert (remote.url, remote.shown, remote.name) == (fetched, shown or fetched, name)
    assert "p@ss" not in repr(remote) and "tok" not in repr(remote)


def test_credentials_in_a_git_url_come_apart_for_the_helper():
    remote = parse_git_url("git+https://robot:p%40ss@host/org/r.git")
    assert (remote.username, remote.password, remote.host) == ("robot", "p@ss", "host")
    assert remote.redact("fatal: robot p@ss https://robot:p%40ss@host/x") == "fatal: *** *** https://host/x"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("git+https://host/r.git?token=abc", "query"),
        ("git+https://", "names no host"),
        ("git+https://host/", "names no repository"),
        ("git+ssh://user:pw@host/r.git", "password in an ssh:// URL is never used"),
        ("git+git://user@host/r.git", "takes no user name"),
        ("git+file://otherhost/r.git", "folder on this machine"),
    ],
)
def test_bad_git_urls_are_refused_without_showing_credentials(url, message):
    with pytest.raises(ConfigError, match=message) as error:
        parse_git_url(url)
    assert "pw" not in str(error.value) and "abc" not in str(error.value)


def test_redact_urls_drops_user_information_of_any_scheme():
    assert redact_urls("see https://a:b@h/x and ssh://u@h:22/y") == "see https://h/x and ssh://h:22/y"


def test_ls_remote_output_peels_annotated_tags():
    commit_a, commit_b, tag_object = "a" * 40, "b" * 40, "c" * 40
    refs = parse_ls_remote(
        f"ref: refs/heads/main\tHEAD\n{commit_a}\tHEAD\n{commit_a}\trefs/heads/main\n"
        f"{tag_object}\trefs/tags/v1.0\n{commit_b}\trefs/tags/v1.0^{{}}\n{commit_a}\trefs/tags/v2.0\n"
    )
    assert refs == RemoteRefs("main", {"main": commit_a}, {"v1.0": commit_b, "v2.0": commit_a})


def test_refs_select_the_newest_tags_in_version_order_and_skip_bad_names():
    tags = {name: str(n) * 40 for n, name in enumerate(["v1.9", "v1.10", "v2.0", "nightly", "rel/3"], 1)}
    wanted, notes = select_refs(
        RemoteRefs("main", {"main": "f" * 40}, tags), "r", pattern="v*", max_versions=2
    )
    assert [w.version for w in wanted] == ["v2.0", "v1.10"]
    _, notes = select_refs(RemoteRefs(None, {}, tags), "r", pattern="*")
    assert notes == ["tag 'rel/3' matches '*' but is not a valid version name; skipped"]
    with pytest.raises(GitSourceError, match=r"are not valid version names.*--ref TAG --version NAME"):
        select_refs(RemoteRefs(None, {}, tags), "r", pattern="rel/*")


def test_refs_that_match_no_tag_say_which_tags_exist():
    with pytest.raises(GitSourceError, match="no tag of r matches --refs 'release-\\*'; its newest tags: v1"):
        select_refs(RemoteRefs("main", {"main": "f" * 40}, {"v1": "a" * 40}), "r", pattern="release-*")


def test_a_branch_name_that_is_no_version_name_asks_for_version():
    refs = RemoteRefs("main", {"feature/x": "a" * 40}, {})
    with pytest.raises(ConfigError, match="pass --version NAME"):
        select_refs(refs, "r", ref="feature/x")
    (wanted,), _ = select_refs(refs, "r", ref="feature/x", version="feature-x")
    assert (wanted.version, wanted.kind, wanted.fetch) == ("feature-x", "branch", "refs/heads/feature/x")


def test_sparse_patterns_take_the_doc_suffixes_in_any_case_under_the_path():
    patterns = sparse_patterns("docs/en").splitlines()
    assert "/docs/en/**/*.[mM][dD]" in patterns and "/docs/en/**/*.[iI][pP][yY][nN][bB]" in patterns
    assert sparse_patterns("").splitlines()[0] == "*.[mM][dD]"


def test_a_git_remote_never_shows_its_password_in_repr():
    remote = GitRemote("https://h/r.git", "https://h/r.git", "r", "h", "user", "hunter2")
    assert "hunter2" not in repr(remote) and "user" not in repr(remote)
