"""Notebooks, MDX and MyST: each construct converted to Markdown, plain Markdown left byte for byte,
and a mixed folder indexed with the real model and found through the MCP surface."""

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from typer.testing import CliRunner

from docs_mcp.cli import EXIT_SKIPPED_FILES, app
from docs_mcp.errors import SourceFormatError
from docs_mcp.formats import (
    OUTPUT_MAX_CHARS,
    OUTPUT_MAX_LINES,
    OUTPUT_TRUNCATED,
    SOURCE_SUFFIXES,
    to_markdown,
    uses_myst,
)
from docs_mcp.indexer import index_corpus
from docs_mcp.markdown import parse_markdown
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.sources.folder import Skipped, corpus_fingerprint, walk_corpus
from docs_mcp.store import IndexStore
from tests.conftest import MODEL, SAMPLE_CORPUS

FORMATS_CORPUS = Path(__file__).parent / "data" / "formats-docs"
PRODUCT_CORPUS = Path(__file__).parent.parent / "corpus"


def notebook(*cells: dict, metadata: dict | None = None, nbformat: int = 4) -> str:
    return json.dumps({"nbformat": nbformat, "nbformat_minor": 5, "metadata": metadata or {}, "cells": cells})


def markdown_cell(source: str | list[str]) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def code_cell(source: str | list[str], outputs: list[dict] | None = None) -> dict:
    return {
        "cell_type": "code",
        "metadata": {},
        "execution_count": 1,
        "source": source,
        "outputs": outputs or [],
    }


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


# -- notebooks ------------------------------------------------------------------------------


def test_notebook_markdown_cells_are_prose_and_code_cells_fences_in_the_kernel_language():
    text = notebook(
        markdown_cell(["# Loading data\n", "\n", "Read the CSV first."]),
        code_cell(["df <- read.csv('a.csv')\n", "summary(df)"]),
        metadata={"kernelspec": {"name": "ir", "language": "R"}, "language_info": {"name": "python"}},
    )
    assert to_markdown(text, ".ipynb") == (
        "# Loading data\n\nRead the CSV first.\n\n```r\ndf <- read.csv('a.csv')\nsummary(df)\n```\n"
    )


@pytest.mark.parametrize(
    ("metadata", "language"),
    [({"language_info": {"name": "julia"}}, "julia"), ({}, "python"), ({"kernelspec": {}}, "python")],
)
def test_notebook_language_falls_back_to_language_info_then_python(metadata, language):
    assert (
        to_markdown(notebook(code_cell("x = 1"), metadata=metadata), ".ipynb")
        == f"```{language}\nx = 1\n```\n"
    )


def test_short_text_outputs_are_kept_as_output_fences_and_images_html_and_errors_dropped():
    outputs = [
        stream("loaded 3 rows\n"),
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": "iVBOR", "text/plain": "<Figure>"},
        },
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "metadata": {},
            "data": {"text/html": "<table></table>", "text/plain": ["   a\n", "0  1"]},
        },
        {"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": ["\x1b[31mValueError"]},
    ]
    converted = to_markdown(notebook(code_cell("run()", outputs)), ".ipynb")
    assert converted == "```python\nrun()\n```\n\n```output\nloaded 3 rows\n   a\n0  1\n```\n"


def test_a_progress_bar_output_keeps_only_what_it_showed_last():
    bar = stream("epoch 1:  10%|#         |\repoch 1: 100%|##########|\nloss 0.12\r\n")
    converted = to_markdown(notebook(code_cell("train()", [bar])), ".ipynb")
    assert converted.endswith("```output\nepoch 1: 100%|##########|\nloss 0.12\n```\n")


def test_long_outputs_are_capped_in_lines_and_characters_and_marked_truncated():
    many_lines = to_markdown(
        notebook(code_cell("go()", [stream("".join(f"step {i}\n" for i in range(100)))])), ".ipynb"
    )
    output = many_lines.split("```output\n", 1)[1].removesuffix("\n```\n").split("\n")
    assert output[:-1] == [f"step {i}" for i in range(OUTPUT_MAX_LINES)] and output[-1] == OUTPUT_TRUNCATED

    one_long_line = to_markdown(notebook(code_cell("go()", [stream("x" * 10_000)])), ".ipynb")
    output = one_long_line.split("```output\n", 1)[1].removesuffix("\n```\n")
    assert output == "x" * OUTPUT_MAX_CHARS + "\n" + OUTPUT_TRUNCATED


def test_a_code_cell_holding_a_fence_gets_a_longer_fence():
    converted = to_markdown(notebook(code_cell('doc = """\n```bash\nls\n```\n"""')), ".ipynb")
    assert converted.startswith("````python\n") and converted.endswith("\n````\n")
    assert parse_markdown(converted, "n", "n.ipynb").blocks[0].kind == "fence"


def test_notebook_title_is_its_first_heading_else_the_file_name():
    titled = to_markdown(notebook(markdown_cell("# Training a model\n\nText.")), ".ipynb")
    assert parse_markdown(titled, "nb/train", "nb/train.ipynb").title == "Training a model"
    untitled = to_markdown(notebook(code_cell("1 + 1")), ".ipynb")
    assert parse_markdown(untitled, "nb/data-prep", "nb/data-prep.ipynb").title == "Data prep"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"cells": [', "not a valid notebook: JSON error at line 1 column 12"),
        ("[1, 2]", "not a Jupyter notebook"),
        ('{"nbformat": 3, "worksheets": []}', "nbformat 3 notebook; convert it with `jupyter nbconvert"),
    ],
)
def test_a_malformed_notebook_raises_a_format_error_that_says_what_is_wrong(text, reason):
    with pytest.raises(SourceFormatError, match=reason.replace("[", r"\[")):
        to_markdown(text, ".ipynb")


# -- MDX ------------------------------------------------------------------------------------


def test_mdx_imports_and_exports_are_dropped_but_prose_and_code_mentioning_import_are_kept():
    text = (
        "import Tabs from '@theme/Tabs';\n"
        "export const meta = {\n  version: 2,\n};\n"
        "\n"
        "# Modules\n\nYou can\nimport it lazily.\n\n"
        "```js\nimport x from 'y';\nexport default x;\n```\n"
    )
    assert to_markdown(text, ".mdx") == (
        "# Modules\n\nYou can\nimport it lazily.\n\n```js\nimport x from 'y';\nexport default x;\n```\n"
    )


def test_mdx_components_are_unwrapped_to_their_text_with_tab_labels_kept():
    text = '<Tabs><TabItem value="py" label="Python">pip install orchard</TabItem></Tabs>\n'
    assert to_markdown(text, ".mdx") == "**Python** pip install orchard\n"


def test_mdx_indented_component_content_is_dedented_so_it_does_not_become_a_code_block():
    text = (
        "<Tabs>\n"
        '  <TabItem value="a" label="Debian">\n'
        "    Use apt.\n\n"
        "    ```bash\n    sudo apt install orchard\n    ```\n"
        "  </TabItem>\n"
        "</Tabs>\n"
    )
    converted = to_markdown(text, ".mdx")
    assert converted == "**Debian**\n\nUse apt.\n\n```bash\nsudo apt install orchard\n```\n"
    assert [b.kind for b in parse_markdown(converted, "x", "x.mdx").blocks] == [
        "paragraph",
        "paragraph",
        "fence",
    ]


def test_mdx_self_closing_components_and_expressions_are_dropped_and_string_literals_kept():
    text = (
        "Before <Figure src={require('./a.png').default} alt=\"a > b\" /> after.\n\n"
        "Needs Python {props.version} or later,{' '}really.\n\n"
        "{/* a comment */}\n\n<!-- truncate -->\n\n"
        "Keep `{literal}` and `<Tag />` in code, and \\{escaped}.\n"
    )
    assert to_markdown(text, ".mdx") == (
        "Before after.\n\nNeeds Python or later, really.\n\n"
        "Keep `{literal}` and `<Tag />` in code, and \\{escaped}.\n"
    )


def test_mdx_admonitions_keep_their_text_under_a_bold_label():
    text = ":::note Custom title\nA note.\n:::\n\n::::tip[Nested]\nOuter.\n:::danger\nInner.\n:::\n::::\n"
    assert to_markdown(text, ".mdx") == (
        "**Note: Custom title**\n\nA note.\n\n**Tip: Nested**\n\nOuter.\n\n**Danger:**\n\nInner.\n"
    )


def test_mdx_code_fences_and_front_matter_are_left_byte_for_byte():
    fence = (
        "```tsx title=\"App.tsx\"\nimport {x} from 'y';\n\n"
        "<Tabs>{items.map(i => <Tab />)}</Tabs>\n:::note\n```\n"
    )
    front_matter = "---\ntitle: Hello {world}\nimport: not ESM\n---\n"
    assert to_markdown(front_matter + fence, ".mdx") == front_matter + fence


# -- MyST -----------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [PRODUCT_CORPUS, SAMPLE_CORPUS], ids=["corpus", "sample-docs"])
def test_plain_markdown_passes_through_byte_for_byte(folder):
    pages = [p for p in folder.rglob("*") if p.suffix in (".md", ".markdown")]
    assert len(pages) >= 9
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not uses_myst(text), page
        assert to_markdown(text, page.suffix) == text, page


def test_myst_syntax_shown_inside_code_fences_or_inline_code_is_not_mistaken_for_myst():
    text = "Write ``{ref}`target` `` for a link.\n\n````markdown\n```{note}\nText\n```\n:::{tip}\n:::\n````\n"
    assert not uses_myst(text) and to_markdown(text, ".md") == text


def test_myst_admonitions_keep_their_text_with_their_label_and_title():
    text = (
        "```{note}\nRounded up.\n```\n\n"
        "```{warning} Root access\n:class: big\nUse sudo.\n```\n\n"
        "```{admonition} Custom\nOwn title.\n```\n\n"
        ":::{seealso}\nThe CLI page.\n:::\n"
    )
    assert to_markdown(text, ".md") == (
        "**Note:**\n\nRounded up.\n\n**Warning: Root access**\n\nUse sudo.\n\n"
        "**Custom**\n\nOwn title.\n\n**See also:**\n\nThe CLI page.\n"
    )


def test_myst_code_directives_become_code_fences_with_their_language():
    text = (
        "```{code-block} python\n:linenos:\n:caption: Sizing\nsize_crew(rate=42)\n```\n\n"
        "```{code-cell} ipython3\n---\ntags: [hide-input]\n---\nprint(1)\n```\n"
    )
    assert to_markdown(text, ".md") == "```python\nsize_crew(rate=42)\n```\n\n```python\nprint(1)\n```\n"


def test_myst_structural_directives_and_targets_are_dropped():
    text = (
        "(install-page)=\n# Install\n\n```{toctree}\n:maxdepth: 2\nsetup\nusage\n```\n\n"
        "```{contents}\n```\n\nText.\n"
    )
    assert to_markdown(text, ".md") == "# Install\n\nText.\n"


def test_myst_roles_are_unwrapped_to_their_text():
    text = (
        "See {ref}`the guide <guide-target>`, {doc}`install`, "
        "{py:func}`~orchard.plan.size_crew` and {term}`rate`.\n"
    )
    assert to_markdown(text, ".md") == "See the guide, install, `size_crew` and rate.\n"


def test_myst_directives_nest_and_a_code_fence_inside_a_colon_fence_stays_whole():
    text = (
        "::::{tip} Rainy days\nStretch the plan:\n```bash\necho ':::'\n```\n"
        ":::{note}\nInner.\n:::\n::::\n\nAfter.\n"
    )
    assert to_markdown(text, ".md") == (
        "**Tip: Rainy days**\n\nStretch the plan:\n```bash\necho ':::'\n```\n\n"
        "**Note:**\n\nInner.\n\nAfter.\n"
    )


# -- hostile input ---------------------------------------------------------------------------

PATHOLOGICAL = {
    "a line of backticks": ("`" * 200_000, ".md"),
    "role-like runs": ("{a}`" * 50_000, ".md"),
    "unclosed directives": (":::{note}\n" * 20_000 + "```{tip}\n" * 20_000, ".md"),
    "unclosed braces": ("{" * 200_000, ".mdx"),
    "unclosed tags and quotes": ("<a {'" * 50_000, ".mdx"),
    "unclosed comments": ("<!-- x" * 50_000, ".mdx"),
    "deeply nested notebook JSON": ("[" * 100_000 + "]" * 100_000, ".ipynb"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "suffix"), PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_sources_convert_in_bounded_time_or_fail_as_a_format_error(text, suffix):
    try:
        converted = to_markdown(text, suffix)
    except SourceFormatError as error:
        assert suffix == ".ipynb" and "nested too deeply" in str(error)
    else:
        assert len(converted) <= len(text) + 100


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="`{}<>:/\\'\"\n =~aT#*!()[]", max_size=200), st.sampled_from(SOURCE_SUFFIXES))
def test_any_text_converts_or_is_reported_as_a_format_error(text, suffix):
    try:
        converted = to_markdown(text, suffix)
    except SourceFormatError:
        assert suffix == ".ipynb"
    else:
        assert isinstance(converted, str)
        if suffix in (".md", ".markdown") and not uses_myst(text):
            assert converted == text


# -- the corpus walk, the watcher's fingerprint and the indexer -----------------------------


def test_every_source_suffix_is_walked_with_its_path_kept_and_fingerprinted_for_the_watcher(tmp_path):
    found = {s.doc_id: s.path for s in walk_corpus(FORMATS_CORPUS) if not isinstance(s, Skipped)}
    assert found == {
        "index": "index.md",
        "guides/install": "guides/install.mdx",
        "notebooks/forecasting": "notebooks/forecasting.ipynb",
        "reference/scheduling": "reference/scheduling.md",
    }
    fingerprinted = {path for path, _, _ in corpus_fingerprint(FORMATS_CORPUS)}
    assert fingerprinted == set(found.values())
    assert {Path(p).suffix for p in fingerprinted} | {".markdown"} == set(SOURCE_SUFFIXES)


def test_a_malformed_notebook_and_a_colliding_id_are_reported_and_the_rest_is_indexed(
    tmp_path, fake_embedder
):
    corpus = tmp_path / "docs"
    shutil.copytree(FORMATS_CORPUS, corpus)
    (corpus / "notebooks" / "broken.ipynb").write_text('{"cells": [{"cell_type": ', encoding="utf-8")
    (corpus / "notebooks" / "forecasting.md").write_text("# Paired copy\n", encoding="utf-8")
    report = index_corpus(corpus, IndexStore(str(tmp_path / "db")), fake_embedder)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["notebooks/broken.ipynb"].startswith("not a valid notebook: JSON error at line 1")
    assert reasons["notebooks/forecasting.md"] == (
        "same doc id as notebooks/forecasting.ipynb ('notebooks/forecasting'); "
        "notebooks/forecasting.ipynb was indexed, rename or remove one of the two"
    )
    assert sorted(report.added) == [
        "guides/install",
        "index",
        "notebooks/forecasting",
        "reference/scheduling",
    ]


def test_a_malformed_notebook_is_skipped_with_exit_3_and_doctor_counts_pages_by_suffix(tmp_path):
    corpus = tmp_path / "docs"
    shutil.copytree(FORMATS_CORPUS, corpus)
    (corpus / "broken.ipynb").write_text("not json", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["index", str(corpus), "--db", str(tmp_path / "db")])
    assert result.exit_code == EXIT_SKIPPED_FILES and "Traceback" not in result.output
    assert "skipped broken.ipynb: not a valid notebook: JSON error at line 1 column 1" in result.stderr

    db = str(tmp_path / "db")  # the index of this corpus: another one's would be a failed check
    doctor = runner.invoke(app, ["doctor", "--db", db, "--json"], env={"DOCS_MCP_CORPUS": str(corpus)})
    check = next(c for c in json.loads(doctor.stdout) if c["name"] == "corpus")
    assert check["detail"] == f"{corpus}: 5 pages (2 .md, 1 .mdx, 2 .ipynb)"


# -- end to end: the real model, through the in-memory MCP client ---------------------------


@pytest.fixture(scope="module")
def formats_server(tmp_path_factory, embedder):
    db = str(tmp_path_factory.mktemp("formats-index") / "index")
    report = index_corpus(FORMATS_CORPUS, IndexStore(db), embedder)
    assert not report.skipped and len(report.added) == 4
    return build_server(DocsService(IndexStore(db), lambda: embedder, model=MODEL))


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_notebook_code_is_found_by_search_and_opened_by_doc_id_or_source_path(formats_server):
    async with Client(formats_server) as client:
        found = await client.call_tool("search_docs", {"query": "fit_seasonal_yield period=52", "limit": 3})
        top = found.structured_content["hits"][0]
        opened = await client.call_tool("get_doc", {"id": top["open_with"]})
        by_path = await client.call_tool("get_doc", {"id": "notebooks/forecasting.ipynb"})
        listed = await client.call_tool("list_docs", {})
    assert top["doc_id"] == "notebooks/forecasting"
    page = opened.structured_content
    assert page["title"] == "Forecasting the harvest" and page["source_path"] == "notebooks/forecasting.ipynb"
    assert "```python\nimport pandas as pd\n" in page["content"]
    assert "```output\nseasonal yield model: period=52, rmse=3.1\n```" in page["content"]
    assert "iVBOR" not in page["content"] and "<table>" not in page["content"]
    assert not by_path.is_error and by_path.structured_content["doc_id"] == "notebooks/forecasting"
    assert "Forecasting the harvest" in listed.content[0].text


@pytest.mark.anyio
async def test_mdx_tab_text_and_myst_admonitions_are_found_by_search_and_read_back(formats_server):
    async with Client(formats_server) as client:
        tab = await client.call_tool(
            "search_docs", {"query": "greenhouse calendar daemon homebrew", "limit": 3}
        )
        install = await client.call_tool("get_doc", {"id": "guides/install"})
        note = await client.call_tool(
            "search_docs", {"query": "crew sizes rounded up before dusk", "limit": 3}
        )
        scheduling = await client.call_tool("get_doc", {"id": "reference/scheduling.md"})
    assert tab.structured_content["hits"][0]["doc_id"] == "guides/install"
    content = install.structured_content["content"]
    assert "**macOS**\n\nHomebrew keeps the greenhouse calendar daemon updated" in content
    assert "import Tabs" not in content and "<TabItem" not in content and "minimumVersion" not in content
    assert note.structured_content["hits"][0]["doc_id"] == "reference/scheduling"
    content = scheduling.structured_content["content"]
    assert "**Note:**\n\nCrew sizes are rounded up" in content and "{note}" not in content
    assert "```python\nfrom orchard.plan import size_crew" in content and "toctree" not in content
