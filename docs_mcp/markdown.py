"""Pure: Markdown source text -> ParsedDoc.

Front matter, title, the heading tree with GitHub-style anchors, the
top-level blocks as character spans of the source, and every fenced code block
(at any depth) with its info string and line, so every chunk, section and code
example can point back to exactly where it came from. Nothing here touches the disk.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from docs_mcp.models import Block, Fence, Heading, ParsedDoc

ORDER_KEYS = ("sidebar_position", "order", "weight", "nav_order", "position")
_DESCRIPTION_FALLBACK_CHARS = 200


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return (
        MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).use(front_matter_plugin)
    )


def slugify(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, each space a hyphen."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return slug.replace(" ", "-")


def unique_anchors(texts: Iterable[str]) -> list[str]:
    """Anchors for headings in page order; repeats get -1, -2... as GitHub does."""
    seen: dict[str, int] = {}
    anchors = []
    for text in texts:
        base = slugify(text) or "section"
        anchor = base
        while anchor in seen:
            seen[base] += 1
            anchor = f"{base}-{seen[base]}"
        seen.setdefault(anchor, 0)
        anchors.append(anchor)
    return anchors


def parse_markdown(source: str, doc_id: str, path: str) -> ParsedDoc:
    tokens = _parser().parse(source)
    line_starts = [0] + [match.end() for match in re.finditer("\n", source)]

    def offset(line: int) -> int:
        return line_starts[line] if line < len(line_starts) else len(source)

    warnings: list[str] = []
    front_matter: dict[str, Any] = {}
    body_start = 0
    blocks: list[Block] = []
    raw_headings: list[tuple[int, str, int, int]] = []  # level, text, start, body_start
    fences: list[Fence] = []

    for index, token in enumerate(tokens):
        if token.type == "fence" and token.map is not None:
            fence_start, fence_end = offset(token.map[0]), offset(token.map[1])
            fences.append(Fence(token.info.strip(), token.content, fence_start, fence_end, token.map[0] + 1))
        if token.level != 0 or token.map is None or token.nesting == -1:
            continue
        start, end = offset(token.map[0]), offset(token.map[1])
        if token.type == "front_matter":
            body_start = end
            front_matter = _load_front_matter(token.content, warnings)
            continue
        kind = token.type.removesuffix("_open")
        blocks.append(Block(kind=kind, start=start, end=end))
        if token.type == "heading_open":
            text = _inline_text(tokens[index + 1])
            raw_headings.append((int(token.tag[1]), text, start, end))

    headings = _build_headings(raw_headings, len(source))
    first_h1 = next((h.text for h in headings if h.level == 1), None)
    title = _text(front_matter.get("title")) or first_h1 or _title_from_path(path)
    description = _text(front_matter.get("description")) or _first_paragraph(source, blocks)
    return ParsedDoc(
        id=doc_id,
        path=path,
        source=source,
        title=title,
        description=description,
        order=_order(front_matter, warnings),
        tags=_tags(front_matter.get("tags")),
        sidebar_label=_text(front_matter.get("sidebar_label")) or title,
        body_start=body_start,
        headings=tuple(headings),
        blocks=tuple(b for b in blocks if b.kind != "heading"),
        warnings=tuple(warnings),
        fences=tuple(fences),
    )


def _build_headings(raw: list[tuple[int, str, int, int]], source_length: int) -> list[Heading]:
    anchors = unique_anchors(text for _, text, _, _ in raw)
    headings = []
    for i, ((level, text, start, body_start), anchor) in enumerate(zip(raw, anchors, strict=True)):
        later = raw[i + 1 :]
        body_end = later[0][2] if later else source_length
        end = next((s for lvl, _, s, _ in later if lvl <= level), source_length)
        headings.append(Heading(level, text, anchor, start, end, body_start, body_end))
    return headings


def _inline_text(inline: Token) -> str:
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _load_front_matter(text: str, warnings: list[str]) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        warnings.append(f"front matter is not valid YAML{where}; it was ignored")
        return {}
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        warnings.append("front matter is not a YAML mapping; it was ignored")
        return {}
    return loaded


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) else ""


def _order(front_matter: dict[str, Any], warnings: list[str]) -> float | None:
    for key in ORDER_KEYS:
        if key in front_matter:
            try:
                return float(front_matter[key])
            except (TypeError, ValueError):
                warnings.append(f"front matter {key}={front_matter[key]!r} is not a number; it was ignored")
    return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(tag.strip() for tag in value.split(",") if tag.strip())
    if isinstance(value, list):
        return tuple(str(tag).strip() for tag in value if str(tag).strip())
    return ()


def _title_from_path(path: str) -> str:
    stem = PurePosixPath(path).stem
    if stem.lower() in ("index", "readme") and PurePosixPath(path).parent.name:
        stem = PurePosixPath(path).parent.name
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path


def _first_paragraph(source: str, blocks: list[Block]) -> str:
    paragraph = next((b for b in blocks if b.kind == "paragraph"), None)
    if paragraph is None:
        return ""
    text = re.sub(r"\s+", " ", source[paragraph.start : paragraph.end]).strip()
    text = re.sub(r"[*_`]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text))
    if len(text) <= _DESCRIPTION_FALLBACK_CHARS:
        return text
    cut = text.rfind(" ", 0, _DESCRIPTION_FALLBACK_CHARS)
    return text[: cut if cut > 0 else _DESCRIPTION_FALLBACK_CHARS] + "…"


def line_of(source: str, offset: int) -> int:
    """1-based line number of a character offset (for messages)."""
    starts = [0] + [m.end() for m in re.finditer("\n", source)]
    return bisect_right(starts, offset)
