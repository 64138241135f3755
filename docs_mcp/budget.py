"""Response budgets: every tool's text fits in `max_tokens`, and says how big it is.

Clients cap what a tool may return (Claude Code warns above 10k tokens and
stops at 25k by default), and an answer cut off by the client is worse than
one that was fitted and says how to get the rest. Tokens are estimated from
characters, conservatively: prose runs near 4 characters per token, code and
ids nearer 3, so 3 is used and the estimate errs high.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from docs_mcp.models import CollectionList, DocPage, DocTree, ResponseSize, SearchHit, SearchResult
from docs_mcp.render import render_collections, render_page, render_search, render_tree

CHARS_PER_TOKEN = 3
DEFAULT_MAX_TOKENS = 20_000  # stays under the 25k-token tool-output limit of common clients
MIN_MAX_TOKENS = 500
MAX_MAX_TOKENS = 25_000
# get_doc's <doc ...> header and continuation footer, on top of the page text.
PAGE_FRAME_CHARS = 600


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _size(text: str, max_tokens: int) -> ResponseSize:
    return ResponseSize(chars=len(text), approx_tokens=estimate_tokens(text), max_tokens=max_tokens)


def page_chars(max_chars: int, max_tokens: int) -> int:
    """The page length get_doc may return: the smaller of both budgets, less the frame."""
    return min(max_chars, max_tokens * CHARS_PER_TOKEN - PAGE_FRAME_CHARS)


def sized_page(page: DocPage, max_tokens: int) -> tuple[DocPage, str]:
    text = render_page(page)
    return page.model_copy(update={"size": _size(text, max_tokens)}), text


def fit_search(result: SearchResult, max_tokens: int) -> tuple[SearchResult, str]:
    """Drop the lowest-ranked hits until the rendering fits; a last code example is shortened instead."""
    text = render_search(result)
    dropped = 0
    note = result.note  # what the search said; a cut is added to it, never put in its place
    while estimate_tokens(text) > max_tokens and result.hits:
        if len(result.hits) == 1:
            excess = (estimate_tokens(text) - max_tokens) * CHARS_PER_TOKEN
            shorter = _shorter_code(result.hits[0], excess)
            if shorter is not None:
                result = result.model_copy(update={"hits": [shorter]})
                text = render_search(result)
                continue
        dropped += 1
        cut = f"{dropped} lower-ranked hits left out to stay within max_tokens={max_tokens}"
        result = result.model_copy(
            update={"hits": result.hits[:-1], "note": "; ".join(n for n in (note, cut) if n)}
        )
        text = render_search(result)
    return result.model_copy(update={"size": _size(text, max_tokens)}), text


def _shorter_code(hit: SearchHit, chars: int) -> SearchHit | None:
    """`hit` with at least `chars` fewer characters of code, cut at a line break; None if it cannot be."""
    if not hit.code:
        return None
    cut = hit.code.rfind("\n", 0, max(0, len(hit.code) - chars))
    if cut <= 0:
        return None
    return hit.model_copy(update={"code": hit.code[:cut], "code_truncated": True})


def fit_tree(list_docs: Callable[[int], DocTree], limit: int, max_tokens: int) -> tuple[DocTree, str]:
    """List fewer docs until the rendering fits; `list_docs(limit)` lists the first `limit`."""
    tree = list_docs(limit)
    text = render_tree(tree)
    while estimate_tokens(text) > max_tokens and limit > 1:
        limit = max(1, min(limit - 1, int(limit * max_tokens / estimate_tokens(text) * 0.95)))
        tree = list_docs(limit)
        note = (
            f"listed {tree.listed_docs} of {tree.total_docs} docs to stay within max_tokens={max_tokens}; "
            "pass a prefix such as a folder path to see the rest"
        )
        tree = tree.model_copy(update={"note": note})
        text = render_tree(tree)
    return tree.model_copy(update={"size": _size(text, max_tokens)}), text


def fit_collections(listing: CollectionList, max_tokens: int) -> tuple[CollectionList, str]:
    """List fewer collections until the rendering fits, and say so."""
    text = render_collections(listing)
    total = len(listing.collections)
    while estimate_tokens(text) > max_tokens and len(listing.collections) > 1:
        kept = listing.collections[:-1]
        note = (
            f"listed {len(kept)} of {total} collections to stay within max_tokens={max_tokens}; "
            "raise max_tokens to see the rest"
        )
        listing = listing.model_copy(update={"collections": kept, "note": note})
        text = render_collections(listing)
    return listing.model_copy(update={"size": _size(text, max_tokens)}), text
