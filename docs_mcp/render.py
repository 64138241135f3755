"""Compact text renderings of service results.

Assistants read the text content of a tool result; programs read the
structured content. The text is written for a model to act on: ids first,
then what the page or section is, then the next call to make.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from docs_mcp.models import CollectionList, DocFolder, DocPage, DocTree, Origin, SearchHit, SearchResult


def _scope_args(collection: str, version: str | None) -> str:
    """The arguments that keep a follow-up call in the same collection and version."""
    if version is None:
        return ""
    return f", collection={collection!r}, version={version!r}"


class ToolCalls:
    """How a rendering names the next step for an assistant: the MCP tool call to make."""

    def open(self, doc_id: str | None, collection: str, version: str | None, start: int | None = None) -> str:
        arguments = "id=..." if doc_id is None else f"id={doc_id!r}"
        if start is not None:
            arguments += f", start_index={start}"
        return f"get_doc({arguments}{_scope_args(collection, version)})"

    def browse(self) -> str:
        return "call list_docs"

    def message(self, text: str) -> str:
        """A message of the service, as written: the service speaks to assistants."""
        return text


class Commands(ToolCalls):
    """The same steps for a person at a terminal: the docs-mcp command to run."""

    def open(self, doc_id: str | None, collection: str, version: str | None, start: int | None = None) -> str:
        command = f"docs-mcp get {'ID' if doc_id is None else shlex.quote(doc_id)}"
        if start is not None:
            command += f" --start-index {start}"
        if version is not None:
            command += f" --collection {shlex.quote(collection)} --version {shlex.quote(version)}"
        return f"`{command}`"

    def browse(self) -> str:
        return "run `docs-mcp list`"

    def message(self, text: str) -> str:
        return cli_message(text)


TOOL_CALLS = ToolCalls()
COMMANDS = Commands()

_COMMAND_OF_TOOL = {
    "search_docs": "docs-mcp search",
    "get_doc": "docs-mcp get",
    "list_docs": "docs-mcp list",
    "list_collections": "docs-mcp collections",
    "ask_docs": "docs-mcp ask",
}
_TOOL = "|".join(_COMMAND_OF_TOOL)
_QUOTED = r"'([^']*)'|\"([^\"]*)\""  # a Python repr of a string: 'x' or "x"


def _command(match: re.Match[str]) -> str:
    return f"`{_COMMAND_OF_TOOL[match[1]]}`"


def cli_message(text: str) -> str:
    """A service message (an error, a note) as the CLI says it: the service names the tool calls an
    assistant makes next (`call list_docs`, `get_doc with id='x'`, `kind='code'`); a person at
    the terminal runs commands and passes flags (`docs-mcp list`, `docs-mcp get x`, `--kind code`).
    Applied to our messages only, never to documentation text."""
    # Hints meant for the command line already: keep what they say, drop the wrapper.
    text = re.sub(r"\s*\((?:CLI|from the command line):\s*[^)]*\)", "", text)
    text = re.sub(r"\(([^()]*?) on the command line\)", r"(\1)", text)
    text = re.sub(rf"\b({_TOOL}) \(`docs-mcp [^`]*`\)", r"\1", text)
    # Calls with arguments, then the arguments named on their own.
    text = re.sub(
        rf"\bget_doc with id=(?:{_QUOTED})",
        lambda m: f"`docs-mcp get {shlex.quote(m[1] if m[1] is not None else m[2])}`",
        text,
    )
    text = re.sub(
        rf"\b(kind|language|prefix|collection|version)=(?:{_QUOTED})",
        lambda m: f"--{m[1]} {shlex.quote(m[2] if m[2] is not None else m[3])}",
        text,
    )
    text = re.sub(r"\bwithout a prefix\b", "without --prefix", text)
    # Guided search's parameters and fields (guidance.py).
    text = re.sub(r"\bkeywords/hypothetical_answer\b", "--keyword/--hypothetical-answer texts", text)
    text = re.sub(r"\bhypothetical_answer\b", "--hypothetical-answer", text)
    text = re.sub(r"\bmatched_by\b", "matched by", text)
    text = re.sub(rf"\b({_TOOL})\b", _command, text)
    return re.sub(r"\b([Cc])all `docs-mcp", lambda m: ("R" if m[1] == "C" else "r") + "un `docs-mcp", text)


def _scope_words(collection: str, version: str | None) -> str:
    return "" if version is None else f" in collection {collection!r} version {version!r}"


def _from_git(origin: Origin | None) -> str:
    """Which commit of which repository the docs were read from, for a citation."""
    if origin is None:
        return ""
    return f"From {origin.repository} at {origin.ref} (commit {origin.commit})."


def render_search(result: SearchResult, steps: ToolCalls = TOOL_CALLS) -> str:
    if not result.hits:
        if result.note:
            return steps.message(result.note)
        return f"No results for {result.query!r}. Try other words, or {steps.browse()}."
    if result.kind == "code":
        return _render_code_search(result, steps)
    scope = _scope_words(result.collection, result.version)
    call = steps.open(None, result.collection, result.version)
    lines = [f"{_count(result.hits, 'result')} for {result.query!r}{scope} (open one with {call}):"]
    if result.hits[0].origin is not None:
        lines.append(_from_git(result.hits[0].origin))
    for number, hit in enumerate(result.hits, 1):
        lines.append(f"\n{number}. id: {hit.open_with}\n   {_where(hit)}{_found_by(hit)}\n   {hit.snippet}")
    if result.note:
        lines.append(f"\n{steps.message(result.note)}")
    return "\n".join(lines)


def _found_by(hit: SearchHit) -> str:
    """For a guided search: which texts found the hit."""
    return (
        ""
        if hit.matched_by is None
        else f"\n   matched by: {', '.join(hit.matched_by) or 'the texts together'}"
    )


def _where(hit: SearchHit) -> str:
    trail = " > ".join(hit.heading_path[1:] if hit.heading_path[:1] == [hit.title] else hit.heading_path)
    return f"{hit.title} > {trail}" if trail else hit.title


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _render_code_search(result: SearchResult, steps: ToolCalls) -> str:
    only = f" in {result.language}" if result.language else ""
    scope = _scope_words(result.collection, result.version)
    call = steps.open(None, result.collection, result.version)
    lines = [
        f"{_count(result.hits, 'code example')}{only} for {result.query!r}{scope} "
        f"(each id opens the section around it with {call}):"
    ]
    if result.hits[0].origin is not None:
        lines.append(_from_git(result.hits[0].origin))
    for number, hit in enumerate(result.hits, 1):
        code = hit.code or ""
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", code)), default=0))
        lines.append(
            f"\n{number}. id: {hit.open_with} ({hit.language or 'no language'}, "
            f"{hit.source_path} line {hit.line})\n   {_where(hit)}{_found_by(hit)}"
        )
        if hit.context:
            lines.append(f"   {hit.context}")
        lines.append(f"{fence}{hit.language or ''}\n{code}\n{fence}")
        if hit.code_truncated:
            lines.append(
                f"   (code cut to fit; {steps.open(hit.open_with, result.collection, result.version)} "
                "has all of it)"
            )
    if result.note:
        lines.append(f"\n{steps.message(result.note)}")
    return "\n".join(lines)


def render_page(page: DocPage, steps: ToolCalls = TOOL_CALLS) -> str:
    # The tag keeps provenance next to the text, so documentation stays distinguishable from instructions.
    heading = f"{page.title} > {page.section_title}" if page.section_title else page.title
    scope = "" if page.version is None else f"collection={page.collection!r} version={page.version!r} "
    if page.origin is not None:
        origin = page.origin
        scope += f"repository={origin.repository!r} ref={origin.ref!r} commit={origin.commit!r} "
        scope += f"path={origin.path!r} "
    header = (
        f"<doc id={page.id!r} title={heading!r} source={page.source_path!r} {scope}"
        f"chars={page.start_index}-{page.end_index} of {page.total_chars}>\n"
    )
    footer = "\n</doc>"
    if page.next_start_index is not None:
        more = steps.open(page.id, page.collection, page.version, page.next_start_index)
        footer += f"\nThis is part of the page. Continue with {more}."
    return f"{header}\n{page.content}{footer}"


def render_tree(tree: DocTree, steps: ToolCalls = TOOL_CALLS) -> str:
    lines: list[str] = []
    _render_folder(tree.root, 0, lines)
    scope = _scope_words(tree.collection, tree.version)
    call = steps.open(None, tree.collection, tree.version)
    summary = f"{tree.listed_docs} of {tree.total_docs} docs{scope}. Open one with {call}."
    if tree.origin is not None:
        summary += f" {_from_git(tree.origin)}"
    if tree.note:
        summary += f" {steps.message(tree.note)}"
    return "\n".join([*lines, "", summary])


def _render_folder(folder: DocFolder, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    for doc in folder.docs:
        description = f": {doc.description}" if doc.description else ""
        lines.append(f"{indent}- {doc.title} [{doc.id}]{description}")
    for child in folder.folders:
        lines.append(f"{indent}{child.title}/ ({child.path})")
        _render_folder(child, depth + 1, lines)


def render_collections(listing: CollectionList, steps: ToolCalls = TOOL_CALLS) -> str:
    if not listing.collections:
        return steps.message(listing.note or "Nothing is indexed yet.")
    lines = []
    for collection in listing.collections:
        if collection.default_version is None:
            facts = collection.versions[0]
            lines.append(f"- {collection.name} (no collection argument needed): {facts.docs} docs")
            continue
        lines.append(f"- {collection.name} (default version {collection.default_version}):")
        for version in collection.versions:
            origin = version.origin
            source = (
                "" if origin is None else f", from {origin.repository} {origin.ref} ({origin.commit[:12]})"
            )
            lines.append(
                f"    {version.version}: {version.docs} docs, published {version.published_at}, "
                f"model {version.model}{source}"
            )
    summary = (
        "Pass collection (and version, else the default one) to search_docs, get_doc, list_docs and ask_docs."
        if steps is TOOL_CALLS
        else "Pass --collection (and --version, else the default one) to docs-mcp search, get, list and ask."
    )
    if listing.note:
        summary += f" {steps.message(listing.note)}"
    return "\n".join([*lines, "", summary])
