"""Pure: which pages a name matches by their title or section headings.

An assistant's keywords are names: an API (`ray.data.read_sql`), a command
(`tar`), a setting, a concept the docs give a heading to. Documentation gives
each of those a page or a section of its own, so the strongest evidence for a
keyword is a page whose title or headings say it. This is BM25 over one short
field per page, its title and every heading, held in memory and built from the
outlines the index already stores: nothing is added to the index on disk.

Measured on the dev sets with assistant-written keywords (scripts/ranking_levers.py
--expansions): without this search, guided MRR@10 falls by 0.045 on tldr (whose pages
are titled with the command a keyword names) and by 0.003 on Ray. Matching the whole
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

import numpy as np
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
    """BM25 over each page's title and headings, with the best-matching heading of each hit.

    Each word's postings hold its pages and their whole BM25 weight (idf, term frequency and
    length normalisation do not depend on the query), so a search only adds arrays: 0.05 ms
    a keyword on the Ray docs, where a loop over the postings of "ray" took 1 ms."""

    def __init__(self, pages: Mapping[str, tuple[str, list[tuple[str, str]]]]) -> None:
        """`pages`: doc id -> (title, [(heading text, anchor), ...])."""
        self._doc_ids = list(pages)
        self._headings: list[list[tuple[str, frozenset[str]]]] = []  # per page; anchor "" is the title
        counts: list[Counter[str]] = []
        stems: dict[str, str] = {}
        for title, headings in pages.values():
            title_words = words(title, stems)
            page = Counter(title_words)
            self._headings.append([("", frozenset(title_words))])
            for text, anchor in headings:
                heading_words = words(text, stems)
                page.update(heading_words)
                self._headings[-1].append((anchor, frozenset(heading_words)))
            counts.append(page)
        lengths = np.array([sum(page.values()) for page in counts], dtype=np.float64)
        norm = K1 * (1 - B + B * lengths / max(1.0, float(lengths.mean()) if len(lengths) else 1.0))
        vocabulary: dict[str, int] = {}
        word_ids, rows, frequencies = [], [], []
        for number, page in enumerate(counts):
            for word, count in page.items():
                word_ids.append(vocabulary.setdefault(word, len(vocabulary)))
                rows.append(number)
                frequencies.append(count)
        # One array sorted by word, cut into each word's postings.
        order = np.argsort(np.array(word_ids, dtype=np.int64), kind="stable")
        by_word = np.array(word_ids, dtype=np.int64)[order]
        page_rows = np.array(rows, dtype=np.int64)[order]
        tf = np.array(frequencies, dtype=np.float64)[order]
        bounds = np.searchsorted(by_word, np.arange(len(vocabulary) + 1))
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for word, word_id in vocabulary.items():
            start, end = bounds[word_id], bounds[word_id + 1]
            idf = math.log(1 + (len(counts) - (end - start) + 0.5) / (end - start + 0.5))
            page_tf = tf[start:end]
            weights = idf * page_tf * (K1 + 1) / (page_tf + norm[page_rows[start:end]])
            self._postings[word] = (page_rows[start:end], weights)

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
        scores = np.zeros(len(self._doc_ids), dtype=np.float64)
        for word in query:
            if word in self._postings:
                rows, weights = self._postings[word]
                scores[rows] += weights  # a page appears once in a word's postings
        if only is not None:
            allowed = np.array([doc_id in only for doc_id in self._doc_ids], dtype=bool)
            scores = np.where(allowed, scores, 0.0)
        matched = np.flatnonzero(scores > 0)
        if len(matched) > limit:
            matched = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
        best = sorted(matched.tolist(), key=lambda row: (-scores[row], self._doc_ids[row]))
        return [
            HeadingMatch(self._doc_ids[row], self._best_heading(row, query), float(scores[row]))
            for row in best
        ]

    def _best_heading(self, row: int, query: set[str]) -> str:
        """The heading sharing the most words with the query; the title ("") on a tie."""
        best_anchor, best_overlap = "", -1
        for anchor, heading_words in self._headings[row]:
            overlap = len(query & heading_words)
            if overlap > best_overlap:
                best_anchor, best_overlap = anchor, overlap
        return best_anchor
