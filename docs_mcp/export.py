"""Pure: the indexed pages as `llms.txt` and `llms-full.txt` (https://llmstxt.org).

`llms.txt` is a Markdown index: the site's title and summary, then one section
per folder listing each page as a link with its description. `llms-full.txt`
holds every page's Markdown, front matter removed, one after another, each
under a header naming its title and source. Pages come in navigation order,
the order `list_docs` shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from docs_mcp.ids import uri_path

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n---[ \t]*\r?\n", re.S)


@dataclass(frozen=True)
class ExportPage:
    id: str
    title: str
    description: str
    source_path: str
    folder_title: str  # the navigation folder the page sits in ("" for the top level)


def page_link(page: ExportPage, base_url: str | None) -> str:
    """Where a reader opens the page: under `base_url` when given, else its source path, as a
    URL (`getting started.md` -> `getting%20started.md`, `c#-guide.md` -> `c%23-guide.md`)."""
    if base_url is None:
        return uri_path(page.source_path)
    return base_url.rstrip("/") + "/" + uri_path(page.source_path)


def llms_txt(title: str, summary: str, pages: Iterable[ExportPage], base_url: str | None = None) -> str:
    lines = [f"# {title}", ""]
    if summary:
        lines += [f"> {' '.join(summary.split())}", ""]
    section: str | None = None
    for page in pages:
        heading = page.folder_title or "Pages"
        if heading != section:
            if section is not None:
                lines.append("")
            lines += [f"## {heading}", ""]
            section = heading
        description = " ".join(page.description.split())
        entry = f"- [{page.title}]({page_link(page, base_url)})"
        lines.append(f"{entry}: {description}" if description else entry)
    return "\n".join(lines).rstrip() + "\n"


def llms_full_txt(
    pages: Iterable[ExportPage], body: Callable[[str], str], base_url: str | None = None
) -> str:
    parts = []
    for page in pages:
        text = _FRONT_MATTER.sub("", body(page.id), count=1).strip()
        parts.append(f"<!-- page: {page.id} | source: {page_link(page, base_url)} -->\n\n{text}\n")
    return "\n".join(parts)
