"""Pure: which pages a name matches by their title or section headings.

An assistant's keywords are names: an API (`ray.data.read_sql`), a command
(`tar`), a setting, a concept the docs give a heading to. Documentation gives
each of those a page or a section of its own, so the strongest evidence for a
keyword is a page whose title or headings say it. This is BM25 over one short
field per page, its title and every heading, held in memory and built from the
outlines the index already stores: nothing is added to the index on disk.

Measured on the dev sets with assistant-written keywords (scripts/ranking_levers.py
--expansions), one such list per keyword beside the chunk searches lifted tldr
MRR@10 from 0.783 to 0.830 and Ray from 0.579 to 0.593. Matching the whole
question against titles instead lowers both sets (corpus/guides/evaluating-retrieval.md):
a question is not a name.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from py_rust_stemmers import SnowballStemmer

K1 = 1.2  # BM25's usual term-saturation and length constants
B = 0.75
_WORD = re.compile(r"[^\W_]+")
# Words that say nothing about which page is meant (a keyword like "how to configure logging").
_STOP_WORDS = (
    "a an and are as at be by for from how i in is it of on or the this to use using what when "
    "where which with without you your"
)
STOP_WORDS = frozenset(_STOP_WORDS.split())


_STEMMER = SnowballStemmer("english")


def words(text: str, stems: dict[str, str] | None = None) -> list[str]:
    """Lower-case word stems, split at anything not a letter or digit (`read_sql` -> read, sql).
    `stems` memoises stemming while an index is built (its words repeat across headings)."""
    found = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
    if stems is None:
        return _STEMMER.stem_words(found)
    new = [w for w in dict.fromkeys(found) if w not in stems]
    stems.update(zip(new, _STEMMER.stem_words(new), strict=True))
    return [stems[w] for w in found]


@dataclass(frozen=True)
class HeadingMatch:
    doc_id: str
    anchor: str  # the heading that matches the name best; "" for the page title
    score: float


class HeadingIndex:
    """BM25 over each page's title and headings, with the best-matching heading of each hit."""

    def __init__(self, pages: Mapping[str, tuple[str, list[tuple[str, str]]]]) -> None:
        """`pages`: doc id -> (title, [(heading text, anchor), ...])."""
        self._postings: dict[str, list[tuple[str, int]]] = {}
        self._headings: dict[str, list[tuple[str, frozenset[str]]]] = {}  # anchor "" is the title
        length: dict[str, int] = {}
        stems: dict[str, str] = {}
        for doc_id, (title, headings) in pages.items():
            title_words = words(title, stems)
            counts = Counter(title_words)
            self._headings[doc_id] = [("", frozenset(title_words))]
            for text, anchor in headings:
                heading_words = words(text, stems)
                counts.update(heading_words)
                self._headings[doc_id].append((anchor, frozenset(heading_words)))
            length[doc_id] = sum(counts.values())
            for word, count in counts.items():
                self._postings.setdefault(word, []).append((doc_id, count))
        mean_length = sum(length.values()) / max(1, len(length))
        self._pages = len(length)
        # BM25's length normalisation, per page, computed once.
        self._norm = {doc_id: K1 * (1 - B + B * n / mean_length) for doc_id, n in length.items()}

    @classmethod
    def from_docs(cls, docs: Mapping[str, Mapping[str, Any]]) -> HeadingIndex:
        """From the index's doc rows: `title` and `outline` (JSON [[level, text, anchor, ...]])."""
        pages = {}
        for doc_id, row in docs.items():
            outline = json.loads(row.get("outline") or "[]")
            pages[doc_id] = (str(row["title"]), [(str(h[1]), str(h[2])) for h in outline])
        return cls(pages)

    def search(self, text: str, limit: int, only: Collection[str] | None = None) -> list[HeadingMatch]:
        """Pages whose title and headings match `text`, best first, each at its best heading;
        with `only`, just those doc ids."""
        query = set(words(text))
        scores: dict[str, float] = {}
        for word in query:
            postings = self._postings.get(word, ())
            if not postings:
                continue
            idf = math.log(1 + (self._pages - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc_id, frequency in postings:
                if only is None or doc_id in only:
                    gain = idf * frequency * (K1 + 1) / (frequency + self._norm[doc_id])
                    scores[doc_id] = scores.get(doc_id, 0.0) + gain
        best = sorted(scores, key=lambda d: (-scores[d], d))[:limit]
        return [HeadingMatch(d, self._best_heading(d, query), scores[d]) for d in best]

    def _best_heading(self, doc_id: str, query: set[str]) -> str:
        """The heading sharing the most words with the query; the title ("") on a tie."""
        best_anchor, best_overlap = "", -1
        for anchor, heading_words in self._headings[doc_id]:
            overlap = len(query & heading_words)
            if overlap > best_overlap:
                best_anchor, best_overlap = anchor, overlap
        return best_anchor
