"""Compact text renderings of service results.

Assistants read the text content of a tool result; programs read the
structured content. The text is written for a model to act on: ids first,
then what the page or section is, then the next call to make.
"""

from __future__ import annotations

import re

from docs_mcp.models import CollectionList, DocFolder, DocPage, DocTree, SearchHit, SearchResult


def _scope_args(collection: str, version: str | None) -> str:
    """The arguments that keep a follow-up call in the same collection and version."""
    if version is None:
        return ""
    return f", collection={collection!r}, version={version!r}"


def _scope_words(collection: str, version: str | None) -> str:
    return "" if version is None else f" in collection {collection!r} version {version!r}"


def render_search(result: SearchResult) -> str:
    if not result.hits:
        return result.note or f"No results for {result.query!r}. Try other words, or call list_docs."
    if result.kind == "code":
        return _render_code_search(result)
    scope = _scope_words(result.collection, result.version)
    call = f"get_doc(id=...{_scope_args(result.collection, result.version)})"
    lines = [f"{len(result.hits)} results for {result.query!r}{scope} (open one with {call}):"]
    for number, hit in enumerate(result.hits, 1):
        lines.append(f"\n{number}. id: {hit.open_with}\n   {_where(hit)}{_found_by(hit)}\n   {hit.snippet}")
    if result.note:
        lines.append(f"\n{result.note}")
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


def _render_code_search(result: SearchResult) -> str:
    only = f" in {result.language}" if result.language else ""
    scope = _scope_words(result.collection, result.version)
    call = f"get_doc(id=...{_scope_args(result.collection, result.version)})"
    lines = [
        f"{len(result.hits)} code examples{only} for {result.query!r}{scope} "
        f"(each id opens the section around it with {call}):"
    ]
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
            lines.append(f"   (code cut to fit; get_doc(id={hit.open_with!r}) has all of it)")
    if result.note:
        lines.append(f"\n{result.note}")
    return "\n".join(lines)


def render_page(page: DocPage) -> str:
    # The tag keeps provenance next to the text, so documentation stays distinguishable from instructions.
    heading = f"{page.title} > {page.section_title}" if page.section_title else page.title
    scope = "" if page.version is None else f"collection={page.collection!r} version={page.version!r} "
    header = (
        f"<doc id={page.id!r} title={heading!r} source={page.source_path!r} {scope}"
        f"chars={page.start_index}-{page.end_index} of {page.total_chars}>\n"
    )
    footer = "\n</doc>"
    if page.next_start_index is not None:
        footer += (
            f"\nThis is part of the page. Continue with get_doc(id={page.id!r}, "
            f"start_index={page.next_start_index}{_scope_args(page.collection, page.version)})."
        )
    return f"{header}\n{page.content}{footer}"


def render_tree(tree: DocTree) -> str:
    lines: list[str] = []
    _render_folder(tree.root, 0, lines)
    scope = _scope_words(tree.collection, tree.version)
    call = f"get_doc(id=...{_scope_args(tree.collection, tree.version)})"
    summary = f"{tree.listed_docs} of {tree.total_docs} docs{scope}. Open one with {call}."
    if tree.note:
        summary += f" {tree.note}"
    return "\n".join([*lines, "", summary])


def _render_folder(folder: DocFolder, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    for doc in folder.docs:
        description = f": {doc.description}" if doc.description else ""
        lines.append(f"{indent}- {doc.title} [{doc.id}]{description}")
    for child in folder.folders:
        lines.append(f"{indent}{child.title}/ ({child.path})")
        _render_folder(child, depth + 1, lines)


def render_collections(listing: CollectionList) -> str:
    if not listing.collections:
        return listing.note or "Nothing is indexed yet."
    lines = []
    for collection in listing.collections:
        if collection.default_version is None:
            facts = collection.versions[0]
            lines.append(f"- {collection.name} (no collection argument needed): {facts.docs} docs")
            continue
        lines.append(f"- {collection.name} (default version {collection.default_version}):")
        for version in collection.versions:
            lines.append(
                f"    {version.version}: {version.docs} docs, published {version.published_at}, "
                f"model {version.model}"
            )
    summary = (
        "Pass collection (and version, else the default one) to search_docs, get_doc, list_docs "
        "and ask_docs (CLI: --collection, --version)."
    )
    if listing.note:
        summary += f" {listing.note}"
    return "\n".join([*lines, "", summary])
