"""llms.txt and llms-full.txt: the pure formatting, and `docs-mcp export llms-txt` on a real index."""

import json
import re

from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.export import ExportPage, llms_full_txt, llms_txt

runner = CliRunner()

PAGES = [
    ExportPage("index", "Home", "What this is.", "index.md", ""),
    ExportPage("guides/install", "Install", "Get it running.", "guides/install.md", "Guides"),
    ExportPage("guides/upgrade", "Upgrade", "", "guides/upgrade.md", "Guides"),
]


def test_llms_txt_lists_each_page_under_its_folder_with_its_description():
    text = llms_txt("Acme", "Acme's  docs\n for people.", PAGES)
    assert text == (
        "# Acme\n\n> Acme's docs for people.\n\n## Pages\n\n- [Home](index.md): What this is.\n\n"
        "## Guides\n\n- [Install](guides/install.md): Get it running.\n- [Upgrade](guides/upgrade.md)\n"
    )


def test_links_point_under_the_base_url_when_one_is_given():
    text = llms_txt("Acme", "", PAGES, base_url="https://docs.acme.dev/")
    assert "- [Install](https://docs.acme.dev/guides/install.md): Get it running." in text


def test_llms_full_txt_holds_every_page_without_its_front_matter():
    bodies = {
        "index": "---\ntitle: Home\n---\n# Home\n\nWelcome.\n",
        "guides/install": "# Install\n\n---\n\nA rule, not front matter.\n",
        "guides/upgrade": "# Upgrade\n",
    }
    text = llms_full_txt(PAGES, bodies.__getitem__)
    assert "title: Home" not in text and "Welcome." in text
    assert "---\n\nA rule, not front matter." in text
    assert [m.group(1) for m in re.finditer(r"<!-- page: (\S+) ", text)] == [p.id for p in PAGES]


def test_export_writes_both_files_in_navigation_order(shared_db, tmp_path):
    result = runner.invoke(app, ["export", "llms-txt", "--db", shared_db, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "out" / "llms.txt").read_text(encoding="utf-8")
    full = (tmp_path / "out" / "llms-full.txt").read_text(encoding="utf-8")
    listed = runner.invoke(app, ["list", "--db", shared_db, "--json"])
    tree = json.loads(listed.stdout)

    def ids(folder):
        return [d["id"] for d in folder["docs"]] + [i for f in folder["folders"] for i in ids(f)]

    in_order = ids(tree["root"])
    assert re.findall(r"<!-- page: (\S+) ", full) == in_order
    linked = re.findall(r"^- \[[^\]]+\]\(([^)]+)\)", index, re.M)
    assert len(linked) == len(in_order) and all(link.endswith(".md") for link in linked)
    assert "\n# Retrying" in full and "\ntitle:" not in full


def test_export_into_an_unwritable_place_is_one_clear_line(shared_db, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["export", "llms-txt", "--db", shared_db, "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert "pass --out with a writable folder" in result.stderr and "Traceback" not in result.output


def test_links_to_odd_file_names_are_urls_a_remote_index_maps_back_to_the_same_files():
    from docs_mcp.sources.website import mirror_path, parse_listing

    names = ["getting started.md", "c#-guide.md", "100% coverage.md", "what?.md", "api/(v2) [beta].md"]
    pages = [ExportPage(n.removesuffix(".md"), f"Page {i}", "", n, "") for i, n in enumerate(names)]
    text = llms_txt("Odd", "", pages, base_url="https://docs.acme.dev/")
    _, urls = parse_listing(text, "https://docs.acme.dev/llms.txt")
    assert [mirror_path(url) for url in urls] == names
