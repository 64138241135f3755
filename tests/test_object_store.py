"""One index on object storage, served by many stateless replicas (issue 8).

A real S3-compatible server (moto's `moto_server`, on 127.0.0.1) stands in for S3:
the index is written to `s3://...` by the real indexer, and real `docs-mcp serve
--transport http` processes read it. Nothing is mocked; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.config import Settings
from docs_mcp.errors import ConfigError, IndexLockedError
from docs_mcp.indexer import index_corpus
from docs_mcp.store import IndexStore, IndexWriter, retired, storage_options_for
from tests.conftest import HashingEmbedder
from tests.test_transports import DOCS_MCP, pick_free_port, server_env, stop_process, tail

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
STARTUP_SECONDS = 30
# Three replicas load the model at once on a shared 2-core machine: allow for it.
REPLICA_STARTUP_SECONDS = 180
CONVERGE_SECONDS = 60  # a re-index (model load + embed) and every replica switching to it
REFRESH_SECONDS = "0.5"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
NEW_PAGE = "guides/zebra-crossing"
NEW_WORD = "quaggaflux"


# -- the object store -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port, for this module."""
    pytest.importorskip("moto.server", reason='moto[server] is not installed: pip install "moto[server]"')
    port = pick_free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode}:\n{tail(log)}")
            try:
                httpx.get(endpoint, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer within {STARTUP_SECONDS} s:\n{tail(log)}")
                time.sleep(0.1)
        yield endpoint
    finally:
        stop_process(process)


def s3_env(endpoint: str) -> dict[str, str]:
    """The standard variables a deployment sets: credentials, region and the endpoint."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket for one test: its `s3://` URI prefix."""
    import boto3

    name = f"docs-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)
    return f"s3://{name}"


def s3_store(uri: str, endpoint: str, grace: timedelta = timedelta(minutes=10)) -> IndexStore:
    options = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return IndexStore(uri, storage_options_for(uri, options, s3_env(endpoint)), retention_grace=grace)


# -- settings: where the URI and its options come from ------------------------------------------


def test_aws_endpoint_and_region_become_storage_options_and_an_http_endpoint_allows_http() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert storage_options_for("s3://b/p", None, env) == {
        "endpoint": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "allow_http": "true",
    }
    explicit = {"endpoint": "https://minio.internal", "region": "us-east-2"}
    assert storage_options_for("s3://b/p", explicit, env) == explicit
    assert storage_options_for("/srv/index", None, env) == {}  # a local folder ignores AWS_*


def test_storage_options_come_from_json_in_the_environment_and_bad_json_says_how_to_write_it() -> None:
    settings = Settings.from_env(
        {"DOCS_MCP_DB": "s3://b/p", "DOCS_MCP_STORAGE_OPTIONS": '{"region": "eu-west-1", "allow_http": true}'}
    )
    assert settings.db == "s3://b/p" and settings.absolute_db == "s3://b/p"
    assert settings.storage_options == {"region": "eu-west-1", "allow_http": "true"}
    assert "aws_secret" not in repr(Settings.from_env({"DOCS_MCP_STORAGE_OPTIONS": '{"aws_secret": "x"}'}))
    with pytest.raises(ConfigError, match="DOCS_MCP_STORAGE_OPTIONS is not a JSON object"):
        Settings.from_env({"DOCS_MCP_STORAGE_OPTIONS": "region=eu-west-1"})


def test_the_db_flag_keeps_an_object_store_uri_intact() -> None:
    assert Settings.from_env({}).with_overrides(db="s3://bucket/a/b").db == "s3://bucket/a/b"


def test_a_db_uri_with_no_index_is_one_line_and_exit_1(
    bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["list", "--db", f"{bucket}/nothing-here"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: no index found at {bucket}/nothing-here; "
        f"run `docs-mcp index PATH --db {bucket}/nothing-here` first"
    )


def test_doctor_reads_an_object_store_index_with_json_storage_options_and_skips_the_folder_check(
    bucket: str, s3_endpoint: str, corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    from docs_mcp.doctor import run_checks

    uri = f"{bucket}/index"
    index_corpus(corpus, s3_store(uri, s3_endpoint), fake_embedder)
    options = {"endpoint": s3_endpoint, "region": "us-east-1", "aws_access_key_id": "testing"}
    environ = {"DOCS_MCP_STORAGE_OPTIONS": json.dumps({**options, "aws_secret_access_key": "testing"})}
    checks = {check.name: check for check in run_checks(environ=environ, db=uri, model=fake_embedder.name)}
    assert checks["index"].status == "ok", checks["index"].detail
    assert checks["index"].detail.startswith(f"{uri}: version 1, ")
    assert checks["index folder"].status == "skip"
    assert "testing" not in json.dumps([check.as_dict() for check in checks.values()])


# -- the writer: one at a time, and retention ---------------------------------------------------


def test_a_writer_refuses_to_publish_over_a_version_published_while_it_ran(
    bucket: str, s3_endpoint: str, corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    uri = f"{bucket}/index"
    store = s3_store(uri, s3_endpoint)
    index_corpus(corpus, store, fake_embedder)
    slow = IndexWriter(store, fake_embedder.name, fake_embedder.dim)  # started, not yet published
    (corpus / "guides" / "installation.md").write_text("# Installation\n\nChanged.\n", encoding="utf-8")
    assert index_corpus(corpus, s3_store(uri, s3_endpoint), fake_embedder).index_version == 2

    slow.remove_docs(["guides/retries"])
    with pytest.raises(IndexLockedError, match=r"published version 2 .* while this run was writing"):
        slow.publish()
    latest = store.latest_publication()
    assert latest is not None and latest.seq == 2
    snapshot = store.open_snapshot()
    assert "guides/retries" in snapshot.docs  # the refused run's delete never became visible


def test_the_serving_version_is_kept_and_older_ones_only_after_the_grace_period(
    bucket: str, s3_endpoint: str, corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    def publish(grace: timedelta, n: int) -> IndexStore:
        (corpus / "extra.md").write_text(f"# Extra {n}\n\nVersion {n}.\n", encoding="utf-8")
        store = s3_store(f"{bucket}/index", s3_endpoint, grace)
        index_corpus(corpus, store, fake_embedder)
        return store

    publish(timedelta(minutes=10), 1)
    reader = s3_store(f"{bucket}/index", s3_endpoint).open_snapshot()  # a replica on version 1
    store = publish(timedelta(minutes=10), 2)
    tags = store._db.open_table("chunks").tags.list()
    assert set(tags) == {"pub-1", "pub-2"}  # version 1 was superseded just now: kept
    assert reader.keyword_search("installation", 3)  # and its reader keeps working

    store = publish(timedelta(0), 3)  # no grace: everything superseded goes, the latest stays
    for table in ("docs", "chunks"):
        assert set(store._db.open_table(table).tags.list()) == {"pub-3"}
    assert store.open_snapshot().version == 3


def test_a_superseded_publication_retires_only_once_its_successor_is_older_than_the_grace() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    published = {1: now - timedelta(days=30), 2: now - timedelta(minutes=5), 3: now - timedelta(minutes=1)}
    grace = timedelta(minutes=10)
    # Version 1 is a month old but was superseded only 5 minutes ago: a replica may still read it.
    assert not retired(1, published, published[1], now, grace)
    assert retired(1, published, published[1], now, timedelta(minutes=4))
    assert not retired(2, published, published[2], now, timedelta(minutes=4))
    assert retired(2, published, published[2], now, timedelta(0))


# -- replicas ---------------------------------------------------------------------------------


def start_replica(db: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = pick_free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(DOCS_MCP), "serve", "--transport", "http", "--port", str(port), "--db", db],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    """GET /health until it answers 200 (bounded); fail early if the replica dies."""
    deadline = time.monotonic() + REPLICA_STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"replica exited with {process.returncode}:\n{tail(log)}")
        try:
            response = httpx.get(f"{url}/health", timeout=5)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(f"no 200 from {url}/health within {REPLICA_STARTUP_SECONDS} s:\n{tail(log)}")


def search(client: Client, query: str) -> Any:
    return client.call_tool("search_docs", {"query": query, "limit": 3})


@pytest.mark.slow
def test_three_replicas_answer_alike_and_follow_a_reindex_with_no_failed_call(
    bucket: str,
    s3_endpoint: str,
    corpus: Path,
    embedder: Any,
    model_cache: Path,
    tmp_path: Path,
) -> None:
    uri = f"{bucket}/docs-index"
    index_corpus(corpus, s3_store(uri, s3_endpoint), embedder)
    env = {
        **server_env(model_cache, tmp_path),
        **s3_env(s3_endpoint),
        "DOCS_MCP_REFRESH_SECONDS": REFRESH_SECONDS,
    }
    replicas = [start_replica(uri, env, tmp_path / f"replica-{n}.log") for n in range(3)]
    try:
        for n, (process, url) in enumerate(replicas):
            assert wait_healthy(url, process, tmp_path / f"replica-{n}.log")["index_version"] == 1
        urls = [f"{url}/mcp" for _, url in replicas]
        (corpus / "guides" / "zebra-crossing.md").write_text(
            f"---\ntitle: Zebra crossing\n---\n\n# Zebra crossing\n\nThe {NEW_WORD} setting tunes stripes.\n",
            encoding="utf-8",
        )
        outcome = anyio.run(_round_robin_through_a_reindex, urls, corpus, uri, env, tmp_path)
    finally:
        for process, _ in replicas:
            stop_process(process)
    # Identical answers from every replica, before and after the publish.
    for answers in outcome["before"], outcome["after"]:
        assert answers[0] == answers[1] == answers[2]
    assert NEW_PAGE in [hit["doc_id"] for hit in outcome["after"][0]["hits"]]
    # No failed call while the new version was published and picked up.
    assert outcome["failures"] == []
    assert outcome["calls"] >= 30
    for versions in outcome["versions"]:
        assert versions == sorted(versions), "a replica went back to an older version"
        assert versions[0] == 1 and versions[-1] == 2
    # A replica started after the publish serves the new version straight away.
    late_process, late_url = start_replica(uri, env, tmp_path / "late.log")
    try:
        assert wait_healthy(late_url, late_process, tmp_path / "late.log")["index_version"] == 2

        async def late_answer() -> Any:
            async with Client(f"{late_url}/mcp", read_timeout_seconds=60) as client:
                return (await search(client, NEW_WORD)).structured_content

        answer = anyio.run(late_answer)
    finally:
        stop_process(late_process)
    assert answer["index_version"] == 2
    assert answer["hits"][0]["doc_id"] == NEW_PAGE


async def _round_robin_through_a_reindex(
    urls: list[str], corpus: Path, uri: str, env: dict[str, str], tmp_path: Path
) -> dict[str, Any]:
    """Call the replicas in turn while `docs-mcp index` publishes version 2, until every replica
    answers from it; record every failure and the version each answer came from."""
    queries = ["install with pip", "configure the port", NEW_WORD]
    failures: list[str] = []
    versions: list[list[int]] = [[] for _ in urls]
    calls = 0
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(Client(url, read_timeout_seconds=60)) for url in urls]
        before = [(await search(client, queries[0])).structured_content for client in clients]
        log = (tmp_path / "index.log").open("wb")
        indexer = subprocess.Popen(
            [str(DOCS_MCP), "index", str(corpus), "--db", uri],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + CONVERGE_SECONDS
        try:
            while time.monotonic() < deadline:
                n = calls % len(clients)
                try:
                    result = await search(clients[n], queries[calls % len(queries)])
                    if result.is_error:
                        failures.append(str(result.content))
                    else:
                        versions[n].append(result.structured_content["index_version"])
                except Exception as error:  # any transport or protocol failure counts
                    failures.append(repr(error))
                calls += 1
                settled = indexer.poll() is not None and all(v and v[-1] == 2 for v in versions)
                if settled and calls % len(clients) == 0:
                    break
        finally:
            if indexer.poll() is None:
                indexer.kill()
            indexer.wait(timeout=30)
            log.close()
        assert indexer.returncode == 0, tail(tmp_path / "index.log")
        assert all(v and v[-1] == 2 for v in versions), f"not every replica converged: {versions}"
        after = [(await search(client, NEW_WORD)).structured_content for client in clients]
    return {"before": before, "after": after, "failures": failures, "versions": versions, "calls": calls}


# -- the replica's body cache -----------------------------------------------------------------


def test_a_cached_page_belongs_to_its_index_version_and_matches_an_uncached_read(
    tmp_path: Path, corpus: Path, fake_embedder: HashingEmbedder
) -> None:
    db = str(tmp_path / "index")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    cached = IndexStore(db, body_cache_bytes=1024 * 1024)
    old = cached.open_snapshot()
    uncached = IndexStore(db).open_snapshot()
    tiny = IndexStore(db, body_cache_bytes=10).open_snapshot()  # too small for any page
    for doc_id in old.docs:
        assert old.body(doc_id) == old.body(doc_id) == uncached.body(doc_id) == tiny.body(doc_id)
    (corpus / "guides" / "installation.md").write_text("# Installation\n\nChanged.\n", encoding="utf-8")
    index_corpus(corpus, IndexStore(db), fake_embedder)
    new = cached.open_snapshot()
    assert new.body("guides/installation") == "# Installation\n\nChanged.\n"
    assert "Changed." not in old.body("guides/installation")  # the old version keeps its own page
