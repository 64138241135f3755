"""Pure: Markdown source text -> ParsedDoc.

Front matter, title, the heading tree with GitHub-style anchors, the
top-level blocks as character spans of the source, and every fenced code block
(at any depth) with its info string and line, so every chunk, section and code
example can point back to exactly where it came from. Nothing here touches the disk.

Every step is linear in the page, whatever it holds (scripts/bench_hostile_files.py
measures generated worst cases): markdown-it parses the blocks only, and the inline
syntax of headings alone, cut at MAX_HEADING_CHARS; sections close with one pass over
a stack of open headings; front matter is composed with limits and only the keys
read here are looked at, as plain values or lists of plain values.
"""

from __future__ import annotations

import math
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
# Bounds on what one page can make every chunk of it carry: a heading's text is in the
# context prefix of its section's chunks, the title in all of them.
MAX_HEADING_CHARS = 500  # of a heading's source; no real heading is that long
MAX_VALUE_CHARS = 500  # title, sidebar_label, description from front matter
MAX_TAGS = 50
# Front matter is a page's metadata, a few lines; YAML can make a few KB expand to
# millions of nodes through aliases, or nest past Python's recursion limit.
MAX_FRONT_MATTER_CHARS = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 20
MAX_FRONT_MATTER_ALIASES = 100
_TEXT_KEYS = ("title", "description", "sidebar_label")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    """Blocks only: inline syntax is parsed for headings alone (see _heading_text)."""
    parser = (
        MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).use(front_matter_plugin)
    )
    return parser.disable("inline")


@lru_cache(maxsize=1)
def _inline_parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["strikethrough"])


def slugify(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, each space a hyphen."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return slug.replace(" ", "-")


def unique_anchors(texts: Iterable[str]) -> list[str]:
    """Anchors for headings in page order; repeats get -1, -2... as GitHub does.

    Each base's counter only moves forward, so a page of N headings costs O(N) probes
    even when earlier headings took the numbered anchors (`a-1`... then `a`, `a`...)."""
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
    env: dict[str, Any] = {}  # the block parse collects link reference definitions for headings
    tokens = _parser().parse(source, env)
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
            text = _heading_text(tokens[index + 1].content, env)
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
    """Headings with their section ends: a section runs to the next heading of its level or
    higher, found in one pass with a stack of the sections still open."""
    anchors = unique_anchors(text for _, text, _, _ in raw)
    ends = [source_length] * len(raw)
    open_sections: list[int] = []
    for i, (level, _, start, _) in enumerate(raw):
        while open_sections and raw[open_sections[-1]][0] >= level:
            ends[open_sections.pop()] = start
        open_sections.append(i)
    headings = []
    for i, ((level, text, start, body_start), anchor) in enumerate(zip(raw, anchors, strict=True)):
        body_end = raw[i + 1][2] if i + 1 < len(raw) else source_length
        headings.append(Heading(level, text, anchor, start, ends[i], body_start, body_end))
    return headings


# Characters that start inline syntax in CommonMark (+ strikethrough): a heading without any
# is its own text, and skips the inline parser (most headings, and the cost of a page of them).
_INLINE_SYNTAX = re.compile(r"[\\`*_~\[\]!<&]")


def _heading_text(source: str, env: dict[str, Any]) -> str:
    """A heading's text as a reader sees it: inline markup dropped, code and image alt kept
    (`env` holds the page's link reference definitions, so `# See [the guide]` reads as a link)."""
    source = source[:MAX_HEADING_CHARS]
    if _INLINE_SYNTAX.search(source) is None:
        return re.sub(r"\s+", " ", source).strip()
    parser = _inline_parser()
    tokens: list[Token] = []
    parser.inline.parse(source, parser, env, tokens)
    parts = []
    for token in tokens:
        if token.type in ("text", "text_special", "code_inline"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif token.type == "image":
            parts.append(token.content)
    return re.sub(r"\s+", " ", "".join(parts)).strip()


class _FrontMatterLimit(Exception):
    """Front matter past one of the bounds; the message says which."""


# libyaml's event parser when PyYAML has it (7x faster than the pure-Python one here).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COMPLEX = object()  # a mapping, or a list holding more than plain values
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))


def _load_front_matter(text: str, warnings: list[str]) -> dict[str, Any]:
    """The front matter keys docs-mcp reads (title, description, sidebar_label, tags, order
    keys), each a plain value or a list of plain values; anything else is a warning."""
    if len(text) > MAX_FRONT_MATTER_CHARS:
        warnings.append(f"front matter is longer than {MAX_FRONT_MATTER_CHARS // 1024} KB; it was ignored")
        return {}
    try:
        root = _compose_plain(yaml.parse(text, Loader=_YAML_LOADER))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        warnings.append(f"front matter is not valid YAML{where}; it was ignored")
        return {}
    except _FrontMatterLimit as error:
        warnings.append(f"front matter {error}; it was ignored")
        return {}
    if root is None:
        return {}
    if not isinstance(root, dict):
        warnings.append("front matter is not a YAML mapping; it was ignored")
        return {}
    found: dict[str, Any] = {}
    for key, value in root.items():
        if key not in (*_TEXT_KEYS, *ORDER_KEYS, "tags"):
            continue  # someone else's metadata (Docusaurus, Hugo ...): not read, not judged
        if value is _COMPLEX or (isinstance(value, list) and key != "tags"):
            wanted = "a plain value or a list of plain values" if key == "tags" else "a plain value"
            warnings.append(f"front matter {key} is not {wanted}; it was ignored")
        else:
            found[key] = value
    return found


def _compose_plain(events: Iterable[yaml.Event]) -> Any:
    """The document's root from its parse events, in one pass with an explicit stack (no
    recursion): a plain value is its text as written (`2024-01-01` stays text) or None for
    YAML's null; a list of plain values is a list; every other collection is _COMPLEX, except
    the root mapping, a dict of its plain keys. An alias is the value its anchor names, never
    a copy, and there are at most MAX_FRONT_MATTER_ALIASES of them."""
    anchors: dict[str, Any] = {}
    aliases = 0
    stack: list[tuple[bool, str | None, list[Any]]] = []  # (is_mapping, anchor, items) per open node
    for event in events:
        if isinstance(event, yaml.ScalarEvent):
            plain = event.implicit[0] and event.value in _NULLS
            value: Any = None if plain else event.value
            anchor = event.anchor
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_FRONT_MATTER_ALIASES:
                raise _FrontMatterLimit(f"uses more than {MAX_FRONT_MATTER_ALIASES} aliases")
            if event.anchor not in anchors:
                raise _FrontMatterLimit(f"uses the undefined alias *{event.anchor}")
            value, anchor = anchors[event.anchor], None
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_FRONT_MATTER_DEPTH:
                raise _FrontMatterLimit(f"is nested more than {MAX_FRONT_MATTER_DEPTH} levels deep")
            stack.append((isinstance(event, yaml.MappingStartEvent), event.anchor, []))
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            is_mapping, anchor, items = stack.pop()
            if is_mapping and not stack:
                pairs = zip(items[0::2], items[1::2], strict=True)
                value = {k: v for k, v in pairs if isinstance(k, str)}
            elif is_mapping or any(isinstance(item, list) or item is _COMPLEX for item in items):
                value = _COMPLEX
            else:
                value = items
        else:
            continue  # stream and document boundaries
        if anchor is not None:
            anchors[anchor] = value
        if not stack:
            return value
        stack[-1][2].append(value)
    return None


def _text(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _order(front_matter: dict[str, Any], warnings: list[str]) -> float | None:
    for key in ORDER_KEYS:
        if key in front_matter:
            value = front_matter[key]
            try:
                number = float(str(value).replace("_", ""))
                if math.isfinite(number):
                    return number
            except ValueError:
                pass
            shown = _text(value, 40)
            warnings.append(f"front matter {key}={shown!r} is not a number; it was ignored")
    return None


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if isinstance(value, list):
        return tuple(_text(tag, 100) for tag in value[:MAX_TAGS] if tag is not None and _text(tag, 100))
    return ()


def _title_from_path(path: str) -> str:
    stem = PurePosixPath(path).stem
    if stem.lower() in ("index", "readme") and PurePosixPath(path).parent.name:
        stem = PurePosixPath(path).parent.name
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else path


# A link's text, its label and target scanned only up to the next opening bracket, so text full
# of unclosed `[` or `(` costs one pass, not one pass per bracket.
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")


def _first_paragraph(source: str, blocks: list[Block]) -> str:
    paragraph = next((b for b in blocks if b.kind == "paragraph"), None)
    if paragraph is None:
        return ""
    # The start of the paragraph is all a 200-character description can come from.
    window = source[paragraph.start : min(paragraph.end, paragraph.start + 20 * _DESCRIPTION_FALLBACK_CHARS)]
    text = re.sub(r"\s+", " ", window).strip()
    text = re.sub(r"[*_`]", "", _LINK.sub(r"\1", text))
    if len(text) <= _DESCRIPTION_FALLBACK_CHARS:
        return text
    cut = text.rfind(" ", 0, _DESCRIPTION_FALLBACK_CHARS)
    return text[: cut if cut > 0 else _DESCRIPTION_FALLBACK_CHARS] + "…"


def line_of(source: str, offset: int) -> int:
    """1-based line number of a character offset (for messages)."""
    starts = [0] + [m.end() for m in re.finditer("\n", source)]
    return bisect_right(starts, offset)
