"""Code examples: extraction (pure), the code table, search_docs(kind="code") through the service,
the in-memory MCP client and the CLI, with the real model on a small corpus written here."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from mcp import Client
from typer.testing import CliRunner

from docs_mcp.budget import fit_search
from docs_mcp.cli import app
from docs_mcp.codeblocks import code_units, normalize_language
from docs_mcp.errors import DocsMcpError, IndexStateError
from docs_mcp.indexer import index_corpus
from docs_mcp.markdown import parse_markdown
from docs_mcp.models import SearchHit, SearchResult
from docs_mcp.search import MAX_CODE_CHARS, DocsService
from docs_mcp.server import build_server
from docs_mcp.store import CODE, PUBLICATIONS, IndexStore
from tests.conftest import MODEL

QUEUES = """\
---
title: Queues
---

# Queues

A queue holds jobs until a worker runs them.

## Enqueue a job

Jobs are plain function calls. Enqueue a job from Python with `enqueue`:

```python
from skyline import enqueue
enqueue("emails.send", user_id=42)
```

The call prints the job id:

```output
job 1 queued
```

## Start a worker

1. Install the worker package:

   ```bash
   pip install "skyline-worker[redis]"
   ```

2. Start it from a shell; it stops on **Ctrl-C**:

   ```sh
   skyline worker --queue emails --concurrency 4
   ```

## Architecture

```mermaid
graph TD; producer-->queue; queue-->worker
```

```
ok
```
"""

CONFIG = """\
# Configuration

## Retry policy

Set how often a failing job is retried in `skyline.yaml`:

```yml
queues:
  emails:
    max_attempts: 5
    backoff_seconds: 30
```

Or from Python, when you create the queue:

```py
from skyline import Queue
Queue("emails", max_attempts=5, backoff_seconds=30)
```
"""

LONG = (
    "# Generated client\n\n## Every call\n\nThe whole client, one method per endpoint:\n\n```python\n"
    + "".join(
        f"def endpoint_{n}(session, payload):\n    return session.post('/v1/endpoint/{n}', json=payload)\n\n"
        for n in range(120)
    )
    + "```\n"
)


def write_corpus(root: Path) -> Path:
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "queues.md").write_text(QUEUES, encoding="utf-8")
    (root / "reference").mkdir()
    (root / "reference" / "config.md").write_text(CONFIG, encoding="utf-8")
    (root / "reference" / "client.md").write_text(LONG, encoding="utf-8")
    (root / "index.md").write_text("# Skyline\n\nA job queue. No code on this page.\n", encoding="utf-8")
    return root


def units_of(source: str, doc_id: str = "guides/queues"):
    return code_units(parse_markdown(source, doc_id, f"{doc_id}.md"))


# -- pure: languages and units ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "language"),
    [
        ("python", "python"),
        ("py", "python"),
        ("Python3", "python"),
        ("{code-cell} ipython3", "python"),
        ('python title="app.py"', "python"),
        ("{.python}", "python"),
        ("sh", "bash"),
        ("shell", "bash"),
        ("console", "bash"),
        ("bash", "bash"),
        ("js", "javascript"),
        ("jsx {1,4-6}", "jsx"),
        ("js{1,3}", "javascript"),
        ("ts", "typescript"),
        ("yml", "yaml"),
        ("language-yaml", "yaml"),
        ("Dockerfile", "dockerfile"),
        ("COBOL", "cobol"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_languages_are_normalised_to_one_spelling(info, language):
    assert normalize_language(info) == language


def test_each_example_keeps_its_language_section_anchor_intro_and_line():
    units = units_of(QUEUES)
    enqueue = units[0]
    assert enqueue.id == "guides/queues#enqueue-a-job~code-1"
    assert (enqueue.language, enqueue.anchor, enqueue.citation) == (
        "python",
        "enqueue-a-job",
        "guides/queues#enqueue-a-job",
    )
    assert enqueue.heading_path == ("Queues", "Enqueue a job")
    assert enqueue.code == 'from skyline import enqueue\nenqueue("emails.send", user_id=42)'
    assert enqueue.context == "Jobs are plain function calls. Enqueue a job from Python with enqueue:"
    assert QUEUES.splitlines()[enqueue.line - 1] == "```python"


def test_fences_in_list_items_are_examples_introduced_by_their_item():
    install, start = [u for u in units_of(QUEUES) if u.anchor == "start-a-worker"]
    assert (install.language, start.language) == ("bash", "bash")  # sh -> bash
    assert install.code == 'pip install "skyline-worker[redis]"'
    assert install.context == "Install the worker package:"
    assert start.context == "Start it from a shell; it stops on Ctrl-C:"
    assert (install.id, start.id) == (
        "guides/queues#start-a-worker~code-1",
        "guides/queues#start-a-worker~code-2",
    )


def test_outputs_diagrams_and_trivially_short_fences_are_not_examples():
    units = units_of(QUEUES)
    assert [u.language for u in units] == ["python", "bash", "bash"]
    assert not any("job 1 queued" in u.code or "graph TD" in u.code or u.code == "ok" for u in units)
    kept = units_of("# T\n\n```\nsome one-line command --flag\n```\n\n```sql\nSELECT 1;\n```\n")
    assert [u.code for u in kept] == ["some one-line command --flag"]  # 20+ chars on one line: kept


def test_a_long_intro_is_cut_to_its_last_sentences():
    intro = "First sentence is background. " * 20 + "Run this to start:"
    [unit] = units_of(f"# T\n\n{intro}\n\n```bash\nskyline worker --queue default\n```\n")
    assert unit.context.endswith("Run this to start:") and len(unit.context) <= 300
    assert unit.context.startswith("First sentence")


def test_example_ids_do_not_move_when_another_section_changes():
    before = {u.id: u.code for u in units_of(QUEUES)}
    edited = QUEUES.replace(
        "## Enqueue a job\n", "## Enqueue a job\n\n```python\nimport skyline\nskyline.ping()\n```\n"
    )
    after = {u.id: u.code for u in units_of(edited)}
    worker_ids = [i for i in before if "start-a-worker" in i]
    assert worker_ids and all(after[i] == before[i] for i in worker_ids)


def test_a_budget_shortens_a_lone_code_example_instead_of_dropping_it():
    code = "\n".join(f"print({n})" for n in range(1000))
    hit = SearchHit(
        open_with="a#b", doc_id="a", source_path="a.md", section="b", title="A", heading_path=["A", "B"],
        snippet="print(0)", score=1.0, kind="code", language="python", code=code, context="Print:", line=3,
    )  # fmt: skip
    result, text = fit_search(SearchResult(query="q", kind="code", hits=[hit], index_version=1), 500)
    [kept] = result.hits
    assert kept.code_truncated and code.startswith(kept.code) and kept.code.endswith(")")
    assert result.size is not None and result.size.approx_tokens <= 500 and "has all of it" in text


# -- end to end, real model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def code_db(tmp_path_factory, embedder) -> str:
    corpus = write_corpus(tmp_path_factory.mktemp("code-corpus"))
    db = str(tmp_path_factory.mktemp("code-index") / "index")
    index_corpus(corpus, IndexStore(db), embedder)
    return db


@pytest.fixture(scope="module")
def docs(code_db, embedder) -> DocsService:
    return DocsService(IndexStore(code_db), lambda: embedder, model=MODEL)


def test_code_search_returns_the_example_with_its_context_and_citation(docs):
    result = docs.search("enqueue a job from python", kind="code")
    top = result.hits[0]
    assert (result.kind, top.kind, top.language) == ("code", "code", "python")
    assert top.code == 'from skyline import enqueue\nenqueue("emails.send", user_id=42)'
    assert top.context.endswith("Enqueue a job from Python with enqueue:")
    assert (top.open_with, top.source_path, top.line) == (
        "guides/queues#enqueue-a-job",
        "guides/queues.md",
        13,
    )
    assert docs.info().code_examples == 6


def test_the_language_filter_keeps_only_that_language_in_any_spelling(docs):
    for spelling in ("python", "py", "Python3"):
        hits = docs.search("set max attempts for retries", kind="code", language=spelling, limit=10).hits
        assert hits and {h.language for h in hits} == {"python"}
        assert hits[0].doc_id == "reference/config"
    yaml = docs.search("set max attempts for retries", kind="code", language="yml").hits
    assert [h.language for h in yaml] == ["yaml"] and "max_attempts: 5" in yaml[0].code
    shell = docs.search("worker concurrency on the emails queue", kind="code", language="shell").hits
    assert shell[0].code == "skyline worker --queue emails --concurrency 4"


def test_a_code_hit_opens_with_get_doc_at_the_section_that_holds_it(docs):
    for hit in docs.search("install the worker package", kind="code", limit=5).hits:
        page = docs.get_doc(hit.open_with)
        # Fences in list items are indented in the page: compare line by line.
        assert all(line.strip() in page.content for line in hit.code.splitlines())
        assert page.section_title == hit.heading_path[-1]


def test_an_unknown_language_lists_the_languages_there_are(docs):
    result = docs.search("anything", kind="code", language="cobol")
    assert result.hits == []
    assert "'cobol'" in result.note and "python (3)" in result.note and "bash (2)" in result.note


@pytest.mark.parametrize(
    "language", ["x' OR '1'='1", "python' OR language = 'bash", "%", "*", "\x00", "py" * 25]
)
def test_a_hostile_language_matches_nothing_and_never_reaches_a_query(docs, language):
    result = docs.search("enqueue a job", kind="code", language=language)
    assert result.hits == [] and "languages in this index" in result.note


def test_language_without_kind_code_is_a_clear_error_and_kind_is_checked(docs):
    with pytest.raises(DocsMcpError, match="kind='code'"):
        docs.search("start a worker", language="bash")
    with pytest.raises(DocsMcpError, match=r"'prose'.*'code'"):
        docs.search("start a worker", kind="snippets")  # type: ignore[arg-type]


def test_prose_search_is_the_default_and_carries_no_code_fields(docs):
    default = docs.search("how do retries work")
    assert default == docs.search("how do retries work", kind="prose")
    assert default.kind == "prose" and all(h.kind == "prose" and h.code is None for h in default.hits)
    assert len({h.doc_id for h in default.hits}) == len(default.hits)  # still one hit per page


def test_a_prefix_limits_code_examples_to_a_folder(docs):
    hits = docs.search("python", kind="code", prefix="reference/", limit=10).hits
    assert hits and all(h.doc_id.startswith("reference/") for h in hits)


def test_a_long_example_is_cut_at_a_line_and_says_where_the_rest_is(docs):
    [hit] = docs.search("generated client endpoint session post", kind="code", prefix="reference/client").hits
    assert hit.code_truncated and len(hit.code) <= MAX_CODE_CHARS and hit.code.endswith("\n")
    assert hit.code.startswith("def endpoint_0(session, payload):")


@pytest.mark.parametrize(
    ("query", "language", "prefix"),
    [
        ("enqueue a job from python", None, None),
        ("enqueue a job from python", "python", None),
        ("start the worker", "bash", None),
        ("configure the queue", None, "guides/"),
    ],
)
def test_code_vectors_in_memory_give_the_same_examples_as_lancedb(
    code_db, embedder, monkeypatch, query, language, prefix
):
    import docs_mcp.store as store_module

    in_memory = DocsService(IndexStore(code_db), lambda: embedder, model=MODEL)
    assert in_memory.snapshot()._code_matrix is not None
    monkeypatch.setattr(store_module, "IN_MEMORY_VECTOR_BYTES", 0)
    on_disk = DocsService(IndexStore(code_db), lambda: embedder, model=MODEL)
    assert on_disk.snapshot()._code_matrix is None
    assert in_memory.snapshot().code_languages == on_disk.snapshot().code_languages

    for mode in ("vector", "hybrid"):
        got = in_memory.search(query, 10, prefix, mode, kind="code", language=language)
        expected = on_disk.search(query, 10, prefix, mode, kind="code", language=language)
        assert [(h.open_with, h.code, h.language) for h in got.hits] == [
            (h.open_with, h.code, h.language) for h in expected.hits
        ]
        assert [h.score for h in got.hits] == pytest.approx([h.score for h in expected.hits], abs=1e-6)
        assert got.hits and all(language in (None, h.language) for h in got.hits)


def test_reindexing_one_changed_page_rewrites_only_its_code_examples(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "docs")
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), embedder)
    before = IndexStore(db).open_snapshot()._code.to_arrow().to_pylist()
    page = corpus / "reference" / "config.md"
    page.write_text(
        CONFIG.replace("max_attempts=5", "max_attempts=9, dead_letter='failed'"), encoding="utf-8"
    )

    report = index_corpus(corpus, IndexStore(db), embedder)
    assert report.changed == ["reference/config"] and report.code_embedded == 2
    after = IndexStore(db).open_snapshot()._code.to_arrow().to_pylist()
    assert len(after) == len(before)
    untouched = lambda rows: {r["id"]: r for r in rows if r["doc_id"] != "reference/config"}  # noqa: E731
    assert untouched(after) == untouched(before)  # same rows, vectors included: not re-embedded
    service = DocsService(IndexStore(db), lambda: embedder, model=MODEL)
    top = service.search("dead letter queue for failed jobs", kind="code", language="python").hits[0]
    assert "dead_letter='failed'" in top.code

    page.unlink()
    index_corpus(corpus, IndexStore(db), embedder)
    service.refresh()
    assert "reference/config" not in {h.doc_id for h in service.search("max attempts", kind="code").hits}


def test_an_index_from_before_code_examples_is_refused_then_rebuilt(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "docs")
    db = str(tmp_path / "db")
    index_corpus(corpus, IndexStore(db), embedder)
    # Make it what the previous version wrote: format 2, no code table, no code columns.
    import lancedb

    connection = lancedb.connect(db)
    log = connection.open_table(PUBLICATIONS).to_arrow()
    old = log.drop_columns(["code_version", "code"]).set_column(
        log.schema.get_field_index("format"), "format", pa.array([2] * len(log), pa.int64())
    )
    connection.create_table(PUBLICATIONS, data=old, mode="overwrite")
    connection.drop_table(CODE)

    with pytest.raises(IndexStateError, match=r"another version of docs-mcp.*run `docs-mcp index` again"):
        IndexStore(db).open_snapshot()
    refused = CliRunner().invoke(app, ["search", "enqueue", "--kind", "code", "--db", db])
    assert refused.exit_code == 1 and refused.output.count("\n") == 1 and "docs-mcp index" in refused.output

    report = index_corpus(corpus, IndexStore(db), embedder)
    assert report.rebuilt and report.code_embedded == 6
    service = DocsService(IndexStore(db), lambda: embedder, model=MODEL)
    assert service.search("enqueue a job from python", kind="code").hits[0].language == "python"


def test_a_corpus_without_code_publishes_an_empty_code_table_and_says_so(tmp_path, embedder):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Prose only\n\nNothing to run here.\n", encoding="utf-8")
    db = str(tmp_path / "db")
    assert index_corpus(tmp_path / "docs", IndexStore(db), embedder).code_embedded == 0
    service = DocsService(IndexStore(db), lambda: embedder, model=MODEL)
    result = service.search("run", kind="code")
    assert result.hits == [] and "no code examples" in result.note
    assert service.search("prose").hits[0].doc_id == "index"


# -- through the MCP client and the CLI ----------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_search_docs_with_kind_code_through_the_mcp_client(docs):
    async with Client(build_server(docs)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        found = await client.call_tool(
            "search_docs", {"query": "start a worker from a shell", "kind": "code", "language": "bash"}
        )
        wrong = await client.call_tool("search_docs", {"query": "x", "kind": "snippets"})
        cut = await client.call_tool(
            "search_docs", {"query": "generated client endpoint", "kind": "code", "max_tokens": 500}
        )
    schema = tools["search_docs"].input_schema["properties"]
    assert schema["kind"]["enum"] == ["prose", "code"] and schema["kind"]["default"] == "prose"
    assert not found.is_error
    hits = found.structured_content["hits"]
    assert {h["language"] for h in hits} == {"bash"} and hits[0]["kind"] == "code"
    assert "```bash\nskyline worker --queue emails --concurrency 4\n```" in found.content[0].text
    assert f"id: {hits[0]['open_with']}" in found.content[0].text
    assert wrong.is_error
    assert cut.structured_content["size"]["approx_tokens"] <= 500
    assert cut.structured_content["hits"][0]["code_truncated"]


def test_cli_search_kind_code_prints_code_blocks_and_json(code_db):
    runner = CliRunner()
    plain = runner.invoke(
        app, ["search", "retry policy yaml", "--kind", "code", "--language", "yaml", "--db", code_db]
    )
    assert plain.exit_code == 0, plain.output
    assert "```yaml\nqueues:\n  emails:\n    max_attempts: 5" in plain.output
    as_json = runner.invoke(
        app, ["search", "enqueue", "--kind", "code", "--language", "py", "--db", code_db, "--json"]
    )
    result = json.loads(as_json.output)
    assert result["language"] == "python" and {h["language"] for h in result["hits"]} == {"python"}
    bad = runner.invoke(app, ["search", "enqueue", "--kind", "snippets", "--db", code_db])
    assert bad.exit_code == 1 and bad.output.startswith("error: unknown kind 'snippets'")


def test_index_reports_how_many_code_examples_it_embedded(tmp_path):
    corpus = write_corpus(tmp_path / "docs")
    report = json.loads(
        CliRunner().invoke(app, ["index", str(corpus), "--db", str(tmp_path / "db"), "--json"]).output
    )
    assert report["code_embedded"] == 6 and report["chunks_embedded"] > 0
