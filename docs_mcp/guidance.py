"""Pure: what an assistant passes beside its question, and how it joins the ranking.

The assistant calling search_docs knows the product's vocabulary far better than
the small offline model: it can name the API, command or setting a question is
about (`keywords`) and say what an answering page would read like
(`hypothetical_answer`). Each of those texts is searched like the question, and
every list joins one reciprocal rank fusion, so pages that several texts agree on
rise. A guess can be wrong, so the question keeps its own pages in reach: the
r-th page of the question's own ranking is placed no lower than QUESTION_EVERY * r.

Measured on the dev sets (corpus/guides/evaluating-retrieval.md has the tables):
real expansions lift Ray hit@5 0.670 -> 0.773 and tldr 0.551 -> 0.917; with every
question given another question's expansions, the question's pages stay in the top
ten for 59% (Ray) and 51% (tldr) of the questions instead of 4%.

This module cleans the assistant's input and holds the fusion rules that are not
plain RRF; search.py runs the searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from docs_mcp.ranking import RankedDoc, RankedList, collapse_to_documents

TextKind = Literal["question", "keywords", "hypothetical_answer"]
TEXT_KINDS: tuple[TextKind, ...] = ("question", "keywords", "hypothetical_answer")

MAX_KEYWORDS = 3
MAX_KEYWORD_CHARS = 200
MAX_HYPOTHETICAL_ANSWER_CHARS = 1000
# The question's r-th page ranks no lower than QUESTION_EVERY * r: of the top ten, at
# least three places belong to the question's own ranking, one per kind of text.
QUESTION_EVERY = 3
# The question and the expansions "disagree" when the first AGREEMENT_DEPTH pages of each
# (each side's own fused ranking) have none in common. Measured at 10: 1% of real expansions on
# Ray and 12% on tldr (where the question alone is often wrong), 83% and 94% of misleading ones.
AGREEMENT_DEPTH = 10


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
    def clean(cls, keywords: Sequence[str] | None, hypothetical_answer: str | None) -> Guidance:
        """Blank texts are dropped, repeats kept once; too many or too long are clamped, with a note.

        Nothing here is an error: an assistant that passed too much still gets its search."""
        notes = []
        kept: list[str] = []
        for keyword in keywords or ():
            text = _one_line(keyword)
            if text and text.lower() not in (k.lower() for k in kept):
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


def found_by(lists: Sequence[RankedList]) -> dict[str, list[TextKind]]:
    """Doc id -> the kinds of text whose searches found it (among their candidates), in
    TEXT_KINDS order. Each list's `source` names the kind of text it searched for."""
    found: dict[str, set[str]] = {}
    for ranked in lists:
        for doc_id in collapse_to_documents(ranked.rows):
            found.setdefault(doc_id, set()).add(ranked.source)
    return {doc_id: [kind for kind in TEXT_KINDS if kind in kinds] for doc_id, kinds in found.items()}


def disagreement_note(
    own: Sequence[RankedDoc],
    expanded: Sequence[RankedDoc],
    depth: int = AGREEMENT_DEPTH,
) -> str | None:
    """A note when the question alone and the expansions alone share none of their first
    `depth` pages: one of them is probably off, and the assistant should know which found what."""
    own_top = [doc.doc_id for doc in own[:depth]]
    expanded_top = [doc.doc_id for doc in expanded[:depth]]
    if not own_top or not expanded_top or set(own_top) & set(expanded_top):
        return None

    def named(doc_ids: list[str]) -> str:
        return ", ".join(doc_ids[:3])

    return (
        f"the question and the keywords/hypothetical_answer found different pages (none in common "
        f"among the first {depth} of each): the question alone finds {named(own_top)}; the "
        f"expansions find {named(expanded_top)}. Each hit's matched_by says which texts found it; "
        "if the expansions named the wrong things, search again with other keywords"
    )
