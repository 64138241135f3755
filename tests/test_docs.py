"""The bundled documentation cannot drift: links resolve, pages are well formed, commands exist."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.config import bundled_corpus
from docs_mcp.markdown import parse_markdown

PAGES = sorted(bundled_corpus().rglob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def parsed(path: Path):
    return parse_markdown(path.read_text(encoding="utf-8"), path.stem, path.name)


def outside_code(text: str) -> str:
    return re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(bundled_corpus())))
def test_every_relative_link_and_anchor_resolves(page):
    for target in LINK.findall(outside_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        assert linked.is_file(), f"{page.name}: broken link {target}"
        if anchor:
            anchors = {h.anchor for h in parsed(linked).headings}
            assert anchor in anchors, f"{page.name}: no #{anchor} in {linked.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(bundled_corpus())))
def test_every_page_has_front_matter_title_and_description(page):
    doc = parsed(page)
    assert not doc.warnings and doc.body_start > 0
    assert doc.title and doc.description and doc.order is not None


def test_every_cli_command_the_reference_documents_exists():
    reference = (bundled_corpus() / "reference" / "cli.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## docs-mcp ([a-z]+)", reference, flags=re.MULTILINE))
    runner = CliRunner()
    for command in documented:
        assert runner.invoke(app, [command, "--help"]).exit_code == 0, command
    assert documented >= {"index", "serve", "search", "list", "get", "status", "eval", "config", "doctor"}
