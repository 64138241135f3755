"""Pure: what an assistant passes beside its question, and how it joins the ranking.

The assistant calling search_docs knows the product's vocabulary far better than
the small offline model: it can name the API, command or setting a question is
about (`keywords`) and say what an answering page would read like
(`hypothetical_answer`). Each of those texts is searched like the question, and
every list joins one reciprocal rank fusion, so pages that several texts agree on
rise. A guess can be wrong, so the question keeps its own pages in reach: the
r-th page of the question's own ranking is placed no lower than QUESTION_EVERY * r.

Measured on the dev sets (corpus/guides/evaluating-retrieval.md has the tables):
real expansions lift Ray hit@5 0.670 -> 0.773 and tldr 0.551 -> 0.909; with every
question given another question's expansions, the question's pages stay in the top
ten for 58% (Ray) and 51% (tldr) of the questions instead of 4%.

This module cleans the assistant's input and holds the fusion rules that are not
plain RRF; search.py runs the searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from docs_mcp.ranking import RankedDoc, RankedList

TextKind = Literal["question", "keywords", "hypothetical_answer"]
TEXT_KINDS: tuple[TextKind, ...] = ("question", "keywords", "hypothetical_answer")

# The hypothetical answer's vector is embedded from its first ANSWER_VECTOR_TOKENS tokens (BM25
# reads all of it): about its opening sentence, which names the subject. Embedding costs about
# 0.25 ms a token here, and a 1,000-character answer is about 250 tokens. Ray hit@5 / MRR@10 and
# tldr hit@5 / MRR@10 by cap: 8: 0.763/0.575, 0.909/0.832; 12: 0.773/0.590, 0.909/0.831;
# 16: 0.773/0.588, 0.909/0.831; 32: 0.773/0.589, 0.911/0.832; whole: 0.768/0.589, 0.917/0.833.
# Flat from 12 up, so 16 keeps a margin above the knee at half the cost of 32.
ANSWER_VECTOR_TOKENS = 16
MAX_KEYWORDS = 3
MAX_KEYWORD_CHARS = 200
MAX_HYPOTHETICAL_ANSWER_CHARS = 1000
# The question's r-th page ranks no lower than QUESTION_EVERY * r: of the top ten, at
# least three places belong to the question's own ranking, one per kind of text.
QUESTION_EVERY = 3
# A text "found" a page when one of its searches ranks the page among its first FOUND_DEPTH
# (matched_by). Counting a page found anywhere among a search's candidates (50 chunks), a
# third of the control's hits that the question did not find would have claimed it had.
FOUND_DEPTH = 10
# The question and the expansions "disagree" when none of the first BEST pages of either's own
# ranking is among the first FOUND_DEPTH of the other's. Measured: the note fires for 3% of the
# real expansions on Ray and 16% on tldr (where the question alone is often wrong), and for 89%
# and 95% of misleading ones (each question given another's expansions).
BEST = 3


@dataclass(frozen=True)
class Guidance:
    """The keywords and hypothetical answer of one call, cleaned; notes say what was cut."""

    keywords: tuple[str, ...] = ()
    hypothetical_answer: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.keywords and self.hypothetical_answer is None

    @classmethod
    def clean(cls, keywords: Sequence[str] | str | None, hypothetical_answer: str | None) -> Guidance:
        """Blank texts are dropped, repeats kept once; too many or too long are clamped, with a note.
        One string for `keywords` is one keyword.

        Nothing here is an error: an assistant that passed too much still gets its search."""
        notes = []
        kept: list[str] = []
        seen: set[str] = set()
        for keyword in [keywords] if isinstance(keywords, str) else keywords or ():
            text = _one_line(keyword)
            if text and text.lower() not in seen:
                seen.add(text.lower())
                kept.append(text)
        if len(kept) > MAX_KEYWORDS:
            notes.append(
                f"used the first {MAX_KEYWORDS} of {len(kept)} keywords; pass at most {MAX_KEYWORDS}"
            )
            kept = kept[:MAX_KEYWORDS]
        if any(len(k) > MAX_KEYWORD_CHARS for k in kept):
            notes.append(
                f"keywords cut to {MAX_KEYWORD_CHARS} characters each; a keyword is a name or a few words"
            )
            kept = [_cut(k, MAX_KEYWORD_CHARS) for k in kept]
        answer = _one_line(hypothetical_answer or "") or None
        if answer is not None and len(answer) > MAX_HYPOTHETICAL_ANSWER_CHARS:
            notes.append(
                f"hypothetical_answer cut to {MAX_HYPOTHETICAL_ANSWER_CHARS} characters; 1-3 sentences "
                "are enough"
            )
            answer = _cut(answer, MAX_HYPOTHETICAL_ANSWER_CHARS)
        return cls(tuple(kept), answer, tuple(notes))

    def texts(self) -> list[tuple[TextKind, str]]:
        """Each text to search beside the question, with its kind."""
        kinds: list[tuple[TextKind, str]] = [("keywords", k) for k in self.keywords]
        if self.hypothetical_answer is not None:
            kinds.append(("hypothetical_answer", self.hypothetical_answer))
        return kinds


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, at a word boundary when there is one in the second half."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit + 1)
    return text[: space if space > limit // 2 else limit].rstrip()


def keep_question_in_reach(
    fused: Sequence[RankedDoc], own: Sequence[RankedDoc], every: int = QUESTION_EVERY
) -> list[RankedDoc]:
    """`fused`, except that the r-th page of the question's `own` ranking is placed no lower
    than `every` * r. Each page keeps its fused score and section; only the order changes.

    Every page of `own` is in `fused` (the question's lists are part of the fusion)."""
    by_id = {doc.doc_id: doc for doc in fused}
    ordered: list[RankedDoc] = []
    placed: set[str] = set()
    next_fused = next_own = 0
    while len(ordered) < len(fused):
        while next_own < len(own) and own[next_own].doc_id in placed:
            next_own += 1
        due = next_own < len(own) and every * (next_own + 1) <= len(ordered) + 1
        if due:
            doc = by_id[own[next_own].doc_id]
        else:
            while fused[next_fused].doc_id in placed:
                next_fused += 1
            doc = fused[next_fused]
        ordered.append(doc)
        placed.add(doc.doc_id)
    return ordered


def found_by(lists: Sequence[RankedList], depth: int = FOUND_DEPTH) -> dict[str, list[TextKind]]:
    """Doc id -> the kinds of text with a search that ranks it among its first `depth` pages,
    in TEXT_KINDS order. Each list's `source` names the kind of text it searched for."""
    found: dict[str, set[str]] = {}
    for ranked in lists:
        for doc_id in ranked.documents[:depth]:
            found.setdefault(doc_id, set()).add(ranked.source)
    return {doc_id: [kind for kind in TEXT_KINDS if kind in kinds] for doc_id, kinds in found.items()}


def disagreement_note(own: Sequence[RankedDoc], expanded: Sequence[RankedDoc], pages: int) -> str | None:
    """A note when none of the best pages of the question alone or of the expansions alone is
    among the other's first ones: one of them is probably off, and the assistant should know
    which found what. "First" is the first tenth of the `pages` searched, from BEST up to
    FOUND_DEPTH: in a small doc set every search reaches most pages, by chance."""
    depth = max(BEST, min(FOUND_DEPTH, pages // 10))
    own_ids = [doc.doc_id for doc in own[:depth]]
    expanded_ids = [doc.doc_id for doc in expanded[:depth]]
    if not own_ids or not expanded_ids:
        return None
    if set(own_ids[:BEST]) & set(expanded_ids) or set(expanded_ids[:BEST]) & set(own_ids):
        return None
    return (
        "the question and the keywords/hypothetical_answer found different pages: the question "
        f"alone finds {', '.join(own_ids[:BEST])}; the expansions find {', '.join(expanded_ids[:BEST])}. "
        "Each hit's matched_by says which texts found it; if the expansions named the wrong "
        "things, search again with other keywords"
    )
