"""The shapes everything else passes around.

Frozen dataclasses for the pure core (a parsed doc, its headings, its chunks)
and pydantic models for what the service returns, so the MCP tools publish an
output schema and clients get structured results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field

# ---------------------------------------------------------------------------
# The pure core: markdown.py makes these, chunking.py consumes them.


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str
    start: int  # character offset of the heading line in the source
    end: int  # end of the section, subsections included
    body_start: int  # first character after the heading line
    body_end: int  # where the next heading of any level starts


@dataclass(frozen=True)
class Block:
    """A top-level Markdown block (paragraph, list, fence, table...) as a source span."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Fence:
    """A fenced code block, wherever it sits (top level, in a list item, in a quote)."""

    info: str  # the info string as written after the backticks, e.g. "python title=app.py"
    code: str  # the code between the fences, without them
    start: int  # character offset of the opening fence line
    end: int  # just past the closing fence line
    line: int  # 1-based line number of the opening fence


@dataclass(frozen=True)
class ParsedDoc:
    id: str
    path: str
    source: str
    title: str
    description: str
    order: float | None
    tags: tuple[str, ...]
    sidebar_label: str
    body_start: int  # first character after the front matter
    headings: tuple[Heading, ...]
    blocks: tuple[Block, ...]
    warnings: tuple[str, ...] = field(default=())
    fences: tuple[Fence, ...] = field(default=())

    def heading_path(self, heading: Heading) -> tuple[str, ...]:
        """Titles of the headings that enclose `heading`, outermost first, itself last."""
        return self._heading_paths[heading.start]

    @cached_property
    def _heading_paths(self) -> dict[int, tuple[str, ...]]:
        """Every heading's path by its start offset, in one pass with a stack: asking for each
        heading in turn stays linear in the page."""
        paths: dict[int, tuple[str, ...]] = {}
        path: list[Heading] = []
        for heading in self.headings:
            while path and path[-1].level >= heading.level:
                path.pop()
            path.append(heading)
            paths[heading.start] = tuple(h.text for h in path)
        return paths


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    anchor: str  # "" for the text before the first heading
    heading_path: tuple[str, ...]
    title: str
    text: str  # the Markdown source of the chunk, exactly
    start: int
    end: int
    token_count: int

    @property
    def context_prefix(self) -> str:
        """The doc title and heading path, which the embedding and the keyword index both see."""
        trail = " > ".join(h for h in self.heading_path if h != self.title)
        return f"{self.title}\n{trail}" if trail else self.title

    @property
    def embedding_text(self) -> str:
        return f"{self.context_prefix}\n\n{self.text}"


# ---------------------------------------------------------------------------
# What the service returns: the CLI prints these, the MCP tools return them.


class ResponseSize(BaseModel):
    """How big a tool's text response is, so an assistant can budget its context."""

    chars: int = Field(description="Characters in the text content of this response.")
    approx_tokens: int = Field(description="A conservative token estimate (characters / 3, rounded up).")
    max_tokens: int = Field(description="The budget this response was fitted into.")


class Origin(BaseModel):
    """Where docs from a git source came from: enough to say which version was read, and to
    open the same file at the same commit."""

    repository: str = Field(description="The repository's URL (never with credentials).")
    ref: str = Field(description="The branch, tag or commit that was asked for.")
    commit: str = Field(description="The commit that was indexed (full hash).")
    path: str = Field(
        description="Path in the repository: of the file (hits, pages), else of the folder indexed "
        "('' for the whole repository)."
    )

    @classmethod
    def of(cls, recorded: str, path: str | None = None) -> Origin | None:
        """The origin a publication recorded (JSON, see sources/git.py), None for other sources;
        `path` (relative to the folder indexed) makes it a file's."""
        record = read_origin(recorded)
        if record.get("kind") != "git" or not all(record.get(k) for k in ("repository", "ref", "commit")):
            return None
        folder = record.get("path", "")
        where = folder if path is None else "/".join(p for p in (folder, path) if p)
        return cls(repository=record["repository"], ref=record["ref"], commit=record["commit"], path=where)


def read_origin(recorded: str) -> dict[str, str]:
    """A publication's recorded origin as a dict ({} when it has none or it cannot be read)."""
    if not recorded:
        return {}
    try:
        data = json.loads(recorded)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


class SearchHit(BaseModel):
    open_with: str = Field(description="The exact `id` argument for get_doc that opens this section.")
    doc_id: str
    source_path: str = Field(description="Path of the source file, relative to the corpus root.")
    section: str | None = Field(description="Section anchor, or null for the top of the page.")
    title: str = Field(description="Title of the page.")
    heading_path: list[str] = Field(description="Headings that lead to the matching section.")
    snippet: str
    score: float = Field(description="Fused relevance score; higher is better; comparable within one query.")
    kind: Literal["prose", "code"] = Field(
        default="prose", description="'code' for a code example (search_docs with kind='code')."
    )
    language: str | None = Field(
        default=None, description="Code examples: the language, normalised (python, bash...); '' if unnamed."
    )
    code: str | None = Field(default=None, description="Code examples: the code, as written in the page.")
    code_truncated: bool = Field(
        default=False, description="True when `code` was cut to fit; get_doc(open_with) has all of it."
    )
    context: str | None = Field(
        default=None, description="Code examples: the sentence(s) right before the code in the page."
    )
    line: int | None = Field(
        default=None, description="Code examples: line of the code fence in source_path."
    )
    matched_by: list[Literal["question", "keywords", "hypothetical_answer"]] | None = Field(
        default=None,
        description="With keywords or hypothetical_answer: the texts whose own search ranks this hit "
        "among its first 10 (empty: only their fusion ranks it this high).",
    )
    origin: Origin | None = Field(
        default=None,
        description="Docs from a git repository: the repository, ref, commit and the file's path in it.",
    )


class SearchResult(BaseModel):
    query: str
    kind: Literal["prose", "code"] = "prose"
    language: str | None = Field(default=None, description="The language filter, normalised, if any.")
    hits: list[SearchHit]
    index_version: int
    note: str | None = None
    expansions_disagree: bool | None = Field(
        default=None,
        description="With keywords or hypothetical_answer: true when they and the query found "
        "different pages (the note names both).",
    )
    collection: str = Field(default="default", description="The collection these docs come from.")
    version: str | None = Field(default=None, description="Its version; null for the default collection.")
    size: ResponseSize | None = None


class DocPage(BaseModel):
    id: str = Field(description="The id that was opened: a doc id, or doc id#anchor for one section.")
    doc_id: str
    title: str
    source_path: str = Field(description="Path of the source file, relative to the corpus root.")
    section_title: str | None = None
    content: str = Field(description="Markdown text of this page of the document.")
    start_index: int
    end_index: int
    total_chars: int
    next_start_index: int | None = Field(
        description="Pass as start_index to get_doc for the rest; null when this is the end."
    )
    sections: list[str] = Field(description="Section ids (doc#anchor) inside what was opened.")
    index_version: int
    collection: str = Field(default="default", description="The collection these docs come from.")
    version: str | None = Field(default=None, description="Its version; null for the default collection.")
    size: ResponseSize | None = None
    origin: Origin | None = Field(
        default=None,
        description="Docs from a git repository: the repository, ref, commit and the file's path in it.",
    )


class DocEntry(BaseModel):
    id: str
    title: str
    description: str = ""


class DocFolder(BaseModel):
    path: str = Field(description="Folder path relative to the corpus root; '' for the root.")
    title: str
    docs: list[DocEntry] = []
    folders: list[DocFolder] = []


class DocTree(BaseModel):
    root: DocFolder
    total_docs: int = Field(description="Docs under the requested prefix, listed or not.")
    listed_docs: int
    truncated: bool
    note: str | None = None
    index_version: int
    collection: str = Field(default="default", description="The collection these docs come from.")
    version: str | None = Field(default=None, description="Its version; null for the default collection.")
    size: ResponseSize | None = None
    origin: Origin | None = Field(
        default=None,
        description="Docs from a git repository: the repository, ref, commit and folder indexed.",
    )


class VersionInfo(BaseModel):
    version: str | None = Field(description="The version name; null for the default collection.")
    docs: int = Field(description="Pages in this version.")
    chunks: int
    index_version: int = Field(description="Publication number of this version's index.")
    published_at: str
    model: str
    origin: Origin | None = Field(
        default=None,
        description="Docs from a git repository: the repository, ref, commit and folder indexed.",
    )


class CollectionInfo(BaseModel):
    name: str = Field(description="Pass as `collection` to the other tools ('default' needs no argument).")
    default_version: str | None = Field(description="The version used when a call names none.")
    versions: list[VersionInfo] = Field(description="Every indexed version, oldest first.")


class CollectionList(BaseModel):
    collections: list[CollectionInfo]
    note: str | None = None
    size: ResponseSize | None = None


AskMode = Literal["sampled", "extractive"]


class Citation(BaseModel):
    id: str = Field(description="The passage's id (doc id#anchor); pass it to get_doc to read the section.")
    title: str = Field(description="Page title > section title.")
    snippet: str = Field(description="The start of the passage; empty when cut to fit max_tokens.")


class AskResult(BaseModel):
    question: str
    mode: AskMode = Field(
        description="'sampled': written by the client's own model from the passages; "
        "'extractive': the passages themselves (no model was asked, or it failed)."
    )
    answer: str
    citations: list[Citation] = Field(
        description="Passages the answer cites (sampled) or consists of (extractive), in order."
    )
    unknown_citations: list[str] = Field(
        description="Citations in a sampled answer that name none of the passages: unverified."
    )
    note: str | None = Field(default=None, description="Why the answer is extractive, or what was cut.")
    model: str | None = Field(default=None, description="The model the client sampled, when it said.")
    index_version: int
    collection: str = Field(default="default", description="The collection the passages come from.")
    version: str | None = Field(default=None, description="Its version; null for the default collection.")
    size: ResponseSize | None = None


class IndexInfo(BaseModel):
    index_version: int
    published_at: str
    model: str
    dimension: int
    docs: int
    chunks: int
    code_examples: int = 0
    db: str
