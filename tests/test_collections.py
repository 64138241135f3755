"""Collections and versions: several doc sets in one index, each searched on its own.

One database holds the sample docs as the default collection, a collection `birds` (no
version: `latest`) and a collection `broker` at versions 2.9 and 2.10, all indexed with the
real model; they are read through the service, the in-memory MCP client, the CLI runner and
a real `docs-mcp serve` process.
"""

from __future__ import annotations

import json
import shutil
import threading
import weakref
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from typer.testing import CliRunner

from docs_mcp import store as store_module
from docs_mcp.budget import fit_collections
from docs_mcp.cli import app
from docs_mcp.collection import (
    DEFAULT_SCOPE,
    TABLE_KINDS,
    Scope,
    check_name,
    default_version,
    index_scope,
    parse_table_name,
    resolve,
    sort_versions,
    table_name,
)
from docs_mcp.errors import ConfigError, IndexNotFoundError, UnknownCollectionError
from docs_mcp.indexer import index_corpus
from docs_mcp.models import CollectionInfo, CollectionList, VersionInfo
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.store import IndexStore
from tests.conftest import MODEL, SAMPLE_CORPUS, wait_for

runner = CliRunner()

BIRDS = {
    "kestrel.md": "---\ntitle: Kestrel\n---\n\n# Kestrel\n\nThe kestrel hovers and hunts voles.\n",
    "heron.md": "---\ntitle: Heron\n---\n\n# Heron\n\nThe grey heron wades in shallow water to catch fish.\n",
}
BIRDS_IDS = [name.removesuffix(".md") for name in BIRDS]
BROKER = {
    "2.9": {
        "upgrade.md": "---\ntitle: Upgrading\n---\n\n# Upgrading\n\nIn 2.9, restart the broker with the "
        "legacy-drain flag so queued messages survive the upgrade.\n",
        "retention.md": "---\ntitle: Retention\n---\n\n# Retention\n\nMessages are kept for seven days.\n",
    },
    "2.10": {
        "upgrade.md": "---\ntitle: Upgrading\n---\n\n# Upgrading\n\nIn 2.10, the broker drains queued "
        "messages by itself during a rolling upgrade; no flag is needed.\n",
        "tiered-storage.md": "---\ntitle: Tiered storage\n---\n\n# Tiered storage\n\nOld segments move "
        "to object storage.\n",
    },
}


def write_corpus(folder: Path, pages: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def index_into(
    db: str,
    corpus: Path,
    embedder: Any,
    collection: str | None = None,
    version: str | None = None,
    replace: bool = False,
):
    store = IndexStore(db).scoped(index_scope(collection, version))
    return index_corpus(corpus, store, embedder, replace=replace)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("collections-corpora")
    return {
        "birds": write_corpus(root / "birds", BIRDS),
        **{f"broker-{v}": write_corpus(root / f"broker-{v}", pages) for v, pages in BROKER.items()},
    }


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, embedder: Any, sources: dict[str, Path]) -> str:
    """Default collection + birds + broker 2.9 + broker 2.10 in one database (read-only)."""
    path = str(tmp_path_factory.mktemp("collections-index") / "index")
    index_into(path, SAMPLE_CORPUS, embedder)
    index_into(path, sources["birds"], embedder, "birds")
    index_into(path, sources["broker-2.10"], embedder, "broker", "2.10")  # the higher one first
    index_into(path, sources["broker-2.9"], embedder, "broker", "2.9")
    return path


@pytest.fixture(scope="module")
def service(db: str, embedder: Any) -> DocsService:
    return DocsService(IndexStore(db), lambda: embedder, model=MODEL)


def doc_ids(tree: dict[str, Any]) -> set[str]:
    ids = {doc["id"] for doc in tree["docs"]}
    for child in tree["folders"]:
        ids |= doc_ids(child)
    return ids


# -- names and versions (pure) --------------------------------------------------------------------


def test_the_default_collection_keeps_todays_table_names_and_others_are_namespaced():
    assert [table_name(kind, DEFAULT_SCOPE) for kind in TABLE_KINDS] == [
        "docs",
        "chunks",
        "code",
        "publications",
    ]
    assert table_name("chunks", Scope("broker", "2.10")) == "chunks--broker--2.10"
    assert {store_module.DOCS, store_module.CHUNKS, store_module.CODE, store_module.PUBLICATIONS} <= set(
        TABLE_KINDS
    )
    for kind in TABLE_KINDS:
        for scope in (DEFAULT_SCOPE, Scope("broker", "2.10"), Scope("a_b.c-d", "v1")):
            assert parse_table_name(table_name(kind, scope)) == (kind, scope)
    assert parse_table_name("other") is None and parse_table_name("docs--x") is None


def test_versions_compare_number_by_number():
    assert sort_versions(["2.9", "10.0", "2.10", "2.10.1", "v3", "1.12"]) == [
        "1.12",
        "2.9",
        "2.10",
        "2.10.1",
        "v3",
        "10.0",
    ]
    assert default_version(["2.9", "2.10"]) == "2.10"
    assert default_version(["2.10", "main", "dev"]) == "2.10"  # a branch never beats a release
    assert default_version(["2.10", "latest"]) == "latest"  # unless it is literally `latest`
    assert default_version(["dev", "main"]) == "main"


@pytest.mark.parametrize("name", ["", "-x", "a--b", "a b", "a/b", "../x", "x" * 65, "é", "a;b"])
def test_a_bad_collection_name_is_a_designed_error(name):
    with pytest.raises(ConfigError, match="letters, digits"):
        check_name(name, "collection")


def test_a_version_without_a_collection_is_refused_at_index_time():
    with pytest.raises(ConfigError, match="--version needs --collection"):
        index_scope(None, "2.0")
    assert index_scope("birds", None) == Scope("birds", "latest")
    assert index_scope(None, None) == index_scope("default", None) == DEFAULT_SCOPE


def test_resolving_a_scope():
    catalogue = {"default": [], "broker": ["2.9", "2.10"], "birds": ["latest"]}
    assert resolve(None, None, catalogue) == DEFAULT_SCOPE
    assert resolve("broker", None, catalogue) == Scope("broker", "2.10")
    assert resolve("broker", "latest", catalogue) == Scope("broker", "2.10")
    assert resolve("broker", "v2.9", catalogue) == Scope("broker", "2.9")
    with pytest.raises(UnknownCollectionError) as unknown:
        resolve("brokr", None, catalogue)
    assert str(unknown.value) == (
        "unknown collection 'brokr'; indexed: birds (latest), broker (2.9, 2.10), default. "
        "Call list_collections (from the command line: docs-mcp collections)"
    )
    with pytest.raises(UnknownCollectionError, match=r"no version '3.0'; its versions: 2.9, 2.10"):
        resolve("broker", "3.0", catalogue)
    with pytest.raises(UnknownCollectionError, match="needs a collection"):
        resolve(None, "2.9", catalogue)


def test_list_collections_is_cut_to_its_budget_and_says_so():
    listing = CollectionList(
        collections=[
            CollectionInfo(
                name=f"collection-{n}",
                default_version="1.0",
                versions=[
                    VersionInfo(
                        version=f"1.{v}", docs=3, chunks=9, index_version=1, published_at="now", model=MODEL
                    )
                    for v in range(20)
                ],
            )
            for n in range(30)
        ]
    )
    cut, text = fit_collections(listing, 500)
    assert 0 < len(cut.collections) < 30 and cut.size is not None and cut.size.approx_tokens <= 500
    assert "max_tokens=500" in text and cut.collections == listing.collections[: len(cut.collections)]


# -- the store and the service --------------------------------------------------------------------


def test_the_catalogue_lists_every_scope_with_its_publication(db):
    catalogue = IndexStore(db).catalogue()
    assert set(catalogue) == {
        DEFAULT_SCOPE,
        Scope("birds", "latest"),
        Scope("broker", "2.9"),
        Scope("broker", "2.10"),
    }
    assert catalogue[DEFAULT_SCOPE].docs == 9 and catalogue[Scope("birds", "latest")].docs == 2
    assert all(p.model == MODEL for p in catalogue.values())
    assert (Path(db) / "docs.lance").is_dir() and (Path(db) / "chunks--broker--2.10.lance").is_dir()


def test_a_search_scoped_to_a_collection_returns_only_its_docs(service):
    birds = service.search("bird that hunts voles", collection="birds")
    assert birds.hits[0].doc_id == "kestrel" and {h.doc_id for h in birds.hits} <= set(BIRDS_IDS)
    assert (birds.collection, birds.version) == ("birds", "latest")
    default = service.search("bird that hunts voles")
    assert not {h.doc_id for h in default.hits} & set(BIRDS_IDS)
    assert (default.collection, default.version) == ("default", None)
    assert service.search("install with pip").hits[0].doc_id == "guides/installation"


def test_version_omitted_searches_the_highest_version_only(service):
    result = service.search(
        "restart the broker with a flag during the upgrade", limit=10, collection="broker"
    )
    assert result.version == "2.10"
    assert {h.doc_id for h in result.hits} <= {"upgrade", "tiered-storage"}
    assert all("legacy-drain" not in h.snippet for h in result.hits)  # 2.9's text never leaks in
    page = service.get_doc("upgrade", collection="broker")
    assert "no flag is needed" in page.content and page.version == "2.10"


def test_a_named_version_is_searched_alone(service):
    result = service.search("retention of messages", limit=10, collection="broker", version="2.9")
    assert result.version == "2.9" and result.hits[0].doc_id == "retention"
    assert {h.doc_id for h in result.hits} <= {"upgrade", "retention"}
    page = service.get_doc("upgrade", collection="broker", version="2.9")
    assert "legacy-drain" in page.content and (page.collection, page.version) == ("broker", "2.9")
    tree = service.list_docs(collection="broker", version="2.9")
    assert doc_ids(tree.root.model_dump()) == {"upgrade", "retention"} and tree.version == "2.9"


def test_a_page_of_another_version_is_an_unknown_doc(service):
    from docs_mcp.errors import NotFoundError

    with pytest.raises(NotFoundError, match="unknown doc 'tiered-storage'"):
        service.get_doc("tiered-storage", collection="broker", version="2.9")


def test_unknown_collections_and_versions_are_designed_errors_listing_what_exists(service):
    with pytest.raises(
        UnknownCollectionError, match=r"unknown collection 'fish'; indexed: .*broker \(2\.9, 2\.10\)"
    ):
        service.search("anything", collection="fish")
    with pytest.raises(UnknownCollectionError, match="list_collections"):
        service.list_docs(collection="broker", version="1.0")


@pytest.mark.parametrize(
    ("collection", "version"),
    [
        ("../../etc/passwd", None),
        ("x' OR '1'='1", None),
        ("broker--2.9", None),
        ("docs", None),
        ("\x00", None),
        ("broker", "../2.9"),
        ("broker", "2.9' OR '1'='1"),
        ("broker", "2.9--x"),
    ],
)
def test_hostile_names_are_unknown_collections_never_table_names(service, collection, version):
    with pytest.raises(UnknownCollectionError, match="list_collections"):
        service.list_docs(collection=collection, version=version)


def test_each_scope_is_opened_once_and_reused(service):
    first = service.snapshot("broker", "2.9")
    assert service.snapshot("broker", "2.9") is first
    assert service.snapshot("broker", None) is service.snapshot("broker", "2.10") is not first


def test_re_indexing_one_collection_leaves_the_others_publications_untouched(tmp_path, embedder, sources):
    db = str(tmp_path / "index")
    index_into(db, SAMPLE_CORPUS, embedder)
    index_into(db, sources["birds"], embedder, "birds")
    index_into(db, sources["broker-2.9"], embedder, "broker", "2.9")
    before = IndexStore(db).catalogue()
    reader = DocsService(IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=0)
    assert reader.search("heron", collection="birds").hits[0].doc_id == "heron"

    changed = tmp_path / "birds"
    shutil.copytree(sources["birds"], changed)
    (changed / "heron.md").unlink()
    (changed / "owl.md").write_text("# Owl\n\nThe barn owl hunts at night by sound.\n", encoding="utf-8")
    report = index_into(db, changed, embedder, "birds", replace=True)  # a changed copy elsewhere
    assert report.published and report.index_version == 2 and report.collection == "birds"

    after = IndexStore(db).catalogue()
    assert after[Scope("birds", "latest")].seq == 2
    for scope in (DEFAULT_SCOPE, Scope("broker", "2.9")):
        assert after[scope] == before[scope]  # same publication, same table versions
    assert reader.search("barn owl at night", collection="birds").hits[0].doc_id == "owl"
    assert reader.search("install with pip").hits[0].doc_id == "guides/installation"


def test_a_newly_indexed_higher_version_becomes_the_default_one(tmp_path, embedder, sources):
    db = str(tmp_path / "index")
    index_into(db, sources["broker-2.9"], embedder, "broker", "2.9")
    reader = DocsService(IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=0)
    assert reader.list_docs(collection="broker").version == "2.9"
    index_into(db, sources["broker-2.10"], embedder, "broker", "2.10")
    assert reader.list_docs(collection="broker").version == "2.10"


def test_a_background_follower_reads_the_catalogue_so_no_request_does(
    tmp_path, embedder, sources, monkeypatch
):
    db = str(tmp_path / "index")
    index_into(db, sources["broker-2.9"], embedder, "broker", "2.9")
    reader = DocsService(IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=0.02)
    readers = []
    real = reader.store.catalogue

    def recorded_catalogue():
        readers.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(reader.store, "catalogue", recorded_catalogue)
    assert reader.list_docs(collection="broker").version == "2.9"  # the first read is the request's
    readers.clear()
    reader.follow_in_background()
    try:
        index_into(db, sources["broker-2.10"], embedder, "broker", "2.10")
        wait_for(lambda: reader.list_docs(collection="broker").version == "2.10", 20, "2.10 as the default")
        assert readers and set(readers) == {"docs-mcp-follow"}
    finally:
        reader.stop_following()


def test_a_server_closes_versions_nobody_names_and_reopens_them_on_the_next_call(tmp_path, embedder, sources):
    db = str(tmp_path / "index")
    index_into(db, SAMPLE_CORPUS, embedder)
    index_into(db, sources["birds"], embedder, "birds")
    reader = DocsService(
        IndexStore(db), lambda: embedder, model=MODEL, refresh_seconds=0.02, idle_version_seconds=0.2
    )
    assert reader.search("heron", collection="birds").hits[0].doc_id == "heron"
    opened = weakref.ref(reader.snapshot("birds"))
    reader.follow_in_background()
    try:

        def closed_while_the_default_is_used() -> bool:
            reader.search("install with pip")  # the default collection is never closed
            return opened() is None  # freed: nothing else holds its vectors and rows

        wait_for(closed_while_the_default_is_used, 20, "the idle version to be closed")
        assert reader.search("heron", collection="birds").hits[0].doc_id == "heron"
        assert reader.search("install with pip").hits[0].doc_id == "guides/installation"
    finally:
        reader.stop_following()


def test_an_index_of_named_collections_only_serves_them_and_explains_the_default(tmp_path, embedder, sources):
    db = str(tmp_path / "index")
    index_into(db, sources["birds"], embedder, "birds")
    reader = DocsService(IndexStore(db), lambda: embedder, model=MODEL)
    assert reader.search("heron", collection="birds").hits[0].doc_id == "heron"
    with pytest.raises(
        IndexNotFoundError, match=r"default collection is not indexed.*birds.*list_collections"
    ):
        reader.list_docs()
    assert not reader.has_default()


def test_an_empty_index_still_says_to_run_index_first(tmp_path, embedder):
    with pytest.raises(IndexNotFoundError, match="no index found"):
        DocsService(IndexStore(str(tmp_path / "nothing")), lambda: embedder, model=MODEL)


# -- through MCP ----------------------------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def server(service):
    return build_server(service)


@pytest.mark.anyio
async def test_list_collections_tool_shows_every_collection_and_its_default_version(server):
    async with Client(server) as client:
        result = await client.call_tool("list_collections", {})
    assert not result.is_error
    listed = {c["name"]: c for c in result.structured_content["collections"]}
    assert list(listed) == ["default", "birds", "broker"]
    assert listed["broker"]["default_version"] == "2.10"
    assert [v["version"] for v in listed["broker"]["versions"]] == ["2.9", "2.10"]
    assert listed["default"]["versions"][0]["docs"] == 9
    assert result.structured_content["size"]["chars"] == len(result.content[0].text)
    assert "broker (default version 2.10)" in result.content[0].text


@pytest.mark.anyio
async def test_tools_take_collection_and_version_and_say_where_answers_came_from(server):
    async with Client(server) as client:
        found = await client.call_tool(
            "search_docs", {"query": "upgrade", "collection": "broker", "version": "2.9"}
        )
        page = await client.call_tool(
            "get_doc", {"id": "upgrade", "collection": "broker", "version": "2.9", "max_chars": 500}
        )
        tree = await client.call_tool("list_docs", {"collection": "birds"})
        default = await client.call_tool("list_docs", {})
    assert not found.is_error and found.structured_content["version"] == "2.9"
    assert "get_doc(id=..., collection='broker', version='2.9')" in found.content[0].text
    assert "legacy-drain" in page.structured_content["content"]
    assert "collection='broker' version='2.9'" in page.content[0].text.splitlines()[0]
    assert doc_ids(tree.structured_content["root"]) == set(BIRDS_IDS)
    assert default.structured_content["total_docs"] == 9 and default.structured_content["version"] is None


@pytest.mark.anyio
async def test_ask_docs_answers_from_the_named_version_only(server):
    async with Client(server) as client:  # no sampling callback: the extractive answer
        older = await client.call_tool(
            "ask_docs", {"question": "How do I upgrade the broker?", "collection": "broker", "version": "2.9"}
        )
        newest = await client.call_tool(
            "ask_docs", {"question": "How do I upgrade the broker?", "collection": "broker"}
        )
    assert not older.is_error and not newest.is_error
    assert (older.structured_content["collection"], older.structured_content["version"]) == ("broker", "2.9")
    assert newest.structured_content["version"] == "2.10"
    assert "legacy-drain" in older.structured_content["answer"]
    assert "legacy-drain" not in newest.structured_content["answer"]
    assert "drains queued messages by itself" in newest.structured_content["answer"]


@pytest.mark.anyio
async def test_an_unknown_collection_is_a_tool_error_naming_list_collections(server):
    async with Client(server) as client:
        result = await client.call_tool("search_docs", {"query": "x", "collection": "fish"})
    assert result.is_error
    assert "unknown collection 'fish'" in result.content[0].text
    assert "list_collections" in result.content[0].text


@pytest.mark.anyio
async def test_the_answer_prompt_names_the_collection_to_pass_and_refuses_unknown_ones(server):
    async with Client(server) as client:
        prompt = await client.get_prompt(
            "answer_from_docs", {"question": "How do I upgrade?", "collection": "broker", "version": "2.9"}
        )
        plain = await client.get_prompt("answer_from_docs", {"question": "How do I upgrade?"})
        with pytest.raises(MCPError, match="list_collections"):
            await client.get_prompt("answer_from_docs", {"question": "x", "collection": "fish"})
    text = prompt.messages[0].content.text
    assert "pass collection='broker', version='2.9' to search_docs and get_doc" in text
    assert text.index("broker") < text.index("Question: How do I upgrade?")
    assert "collection=" not in plain.messages[0].content.text


# -- through the CLI ------------------------------------------------------------------------------


def run(*args: str):
    return runner.invoke(app, list(args))


def test_cli_indexes_lists_and_searches_collections(tmp_path, sources):
    db = str(tmp_path / "db")
    for version in ("2.9", "2.10"):
        indexed = run(
            "index",
            str(sources[f"broker-{version}"]),
            "--db",
            db,
            "--collection",
            "broker",
            "--version",
            version,
        )
        assert indexed.exit_code == 0, indexed.output
    listed = json.loads(run("collections", "--db", db, "--json").output)
    assert [(c["name"], c["default_version"]) for c in listed["collections"]] == [("broker", "2.10")]
    found = json.loads(run("search", "upgrade", "--db", db, "--collection", "broker", "--json").output)
    assert found["version"] == "2.10" and found["hits"][0]["doc_id"] == "upgrade"
    old = run("get", "upgrade", "--db", db, "--collection", "broker", "--version", "2.9")
    assert old.exit_code == 0 and "legacy-drain" in old.output
    toc = run("list", "--db", db, "--collection", "broker", "--version", "2.9")
    assert "[retention]" in toc.output and "[tiered-storage]" not in toc.output


def test_cli_errors_are_one_line_and_a_bad_name_writes_nothing(tmp_path, sources):
    db = tmp_path / "db"
    bad = run("index", str(sources["birds"]), "--db", str(db), "--collection", "a--b")
    assert bad.exit_code == 1 and "invalid collection name 'a--b'" in bad.output
    assert not db.exists()
    run("index", str(sources["birds"]), "--db", str(db), "--collection", "birds")
    unknown = run("list", "--db", str(db), "--collection", "fish")
    assert unknown.exit_code == 1 and "unknown collection 'fish'; indexed: birds (latest)" in unknown.output
    assert "Traceback" not in unknown.output and len(unknown.output.strip().splitlines()) == 1
    no_default = run("list", "--db", str(db))
    assert no_default.exit_code == 1 and "default collection is not indexed" in no_default.output


# -- a real server process ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_server_over_named_collections_only_starts_and_reports_them_on_health(
    tmp_path, embedder, sources, model_cache
):
    from tests.test_transports import pick_free_port, running_http_server, server_env

    db = str(tmp_path / "index")
    index_into(db, sources["broker-2.9"], embedder, "broker", "2.9")
    index_into(db, sources["broker-2.10"], embedder, "broker", "2.10")
    env = server_env(model_cache, tmp_path)
    with running_http_server(db, pick_free_port(), env, tmp_path / "serve.log") as base_url:
        health = httpx.get(f"{base_url}/health", timeout=10).json()
        assert health == {"status": "ok", "collections": {"broker": ["2.9", "2.10"]}}

        async def conversation() -> tuple[Any, Any]:
            async with Client(f"{base_url}/mcp", read_timeout_seconds=60) as client:
                found = await client.call_tool("search_docs", {"query": "upgrade", "collection": "broker"})
                listed = await client.call_tool("list_docs", {})
            return found, listed

        import anyio

        found, listed = anyio.run(conversation)
    assert not found.is_error and found.structured_content["version"] == "2.10"
    assert listed.is_error and "list_collections" in listed.content[0].text
    assert "collections broker (2.9, 2.10)" in (tmp_path / "serve.log").read_text(encoding="utf-8")


def test_doctor_accepts_an_index_of_named_collections_only(tmp_path, embedder, sources):
    from docs_mcp.config import Settings
    from docs_mcp.doctor import check_index

    db = str(tmp_path / "index")
    assert check_index(Settings.load(None, db=db)).failed
    index_into(db, sources["birds"], embedder, "birds")
    check = check_index(Settings.load(None, db=db))
    assert not check.failed and check.detail == f"{db}: no default collection; collections: birds latest"


def test_code_examples_are_searched_in_the_named_collection_and_version_only(tmp_path, embedder):
    db = str(tmp_path / "index")
    page = (
        "# Running\n\nStart the worker on its queue:\n\n"
        "```bash\nworker start --queue {queue}\nworker status\n```\n"
    )
    index_into(db, write_corpus(tmp_path / "a", {"run.md": page.format(queue="alpha")}), embedder)
    other = write_corpus(tmp_path / "b", {"run.md": page.format(queue="beta")})
    index_into(db, other, embedder, "workers", "1.0")
    service = DocsService(IndexStore(db), lambda: embedder, model=MODEL)

    default = service.search("start the worker", kind="code", language="sh")
    named = service.search("start the worker", kind="code", language="sh", collection="workers")

    assert [hit.code for hit in default.hits] == ["worker start --queue alpha\nworker status"]
    assert [hit.code for hit in named.hits] == ["worker start --queue beta\nworker status"]
    assert (named.collection, named.version) == ("workers", "1.0")


# -- versions share what they have in common ------------------------------------------------------


def test_a_new_version_copies_the_unchanged_pages_of_another_version_instead_of_embedding_them(
    tmp_path, fake_embedder
):
    db = str(tmp_path / "index")
    first = write_corpus(tmp_path / "1.0", {**BROKER["2.9"], "intro.md": "# Intro\n\nThe broker.\n"})
    first_report = index_into(db, first, fake_embedder, "broker", "1.0")
    embedded_before = fake_embedder.documents_embedded
    second = write_corpus(
        tmp_path / "2.0", {**BROKER["2.9"], "intro.md": "# Intro\n\nThe broker, now with tiers.\n"}
    )
    report = index_into(db, second, fake_embedder, "broker", "2.0")
    # Only the changed page was embedded; the two unchanged ones were copied with their vectors.
    assert report.added == ["intro", "retention", "upgrade"]
    assert report.chunks_embedded == 1 and fake_embedder.documents_embedded - embedded_before == 1
    assert report.chunks_reused == first_report.chunks_embedded - 1
    service = DocsService(IndexStore(db), lambda: fake_embedder, model=fake_embedder.name, refresh_seconds=0)
    for version in ("1.0", "2.0"):
        hit = service.search("legacy-drain flag restart", collection="broker", version=version).hits[0]
        assert hit.doc_id == "upgrade" and hit.score > 0
    assert "tiers" in service.get_doc("intro", collection="broker", version="2.0").content
    assert "tiers" not in service.get_doc("intro", collection="broker", version="1.0").content


def test_pages_are_never_copied_across_collections_or_models(tmp_path, fake_embedder, embedder):
    db = str(tmp_path / "index")
    pages = write_corpus(tmp_path / "pages", BIRDS)
    index_into(db, pages, fake_embedder, "birds", "1")
    assert index_into(db, pages, fake_embedder, "other-birds", "1").chunks_reused == 0
    # Another model in the same collection: its vectors cannot be copied, the real model embeds all.
    report = index_into(db, pages, embedder, "birds", "2")
    assert report.chunks_reused == 0 and report.chunks_embedded > 0
