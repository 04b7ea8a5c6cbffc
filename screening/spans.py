"""The value every screen returns: a kind of thing found at a place in the text.

Screens are measured span by span (``tests/screening/evaluation.py``), and the
redactor replaces spans, so every screen speaks this one small type.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """``text[start:end]`` is a ``kind``; ``confidence`` in (0, 1] says how sure the rule is."""

    kind: str
    start: int
    end: int
    confidence: float = 1.0

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end

    def covers(self, start: int, end: int) -> bool:
        return self.start <= start and self.end >= end


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping spans joined (the first kind wins, the highest confidence stays)."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.kind, last.start, max(last.end, span.end),
                              max(last.confidence, span.confidence))
        else:
            merged.append(span)
    return merged


def terms_pattern(terms: Iterable[str]) -> str:
    """One alternation of literal terms, longest first, whole words only."""
    ordered = sorted(set(terms), key=len, reverse=True)
    return r"(?<![\w-])(?:" + "|".join(re.escape(t) for t in ordered) + r")(?![\w])"


_TOKEN = re.compile(r"\w+(?:['\u2019-]\w+)*|[^\w\s]")


class TermIndex:
    """Whole-word, case-insensitive lookup of many literal terms, longest match first.

    A regex alternation of hundreds of terms costs a millisecond a message; looking up
    the message's word n-grams in a set costs a few microseconds a word.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self._terms: set[tuple[str, ...]] = set()
        self._longest = 1
        for term in terms:
            words = tuple(w.lower().replace("\u2019", "'") for w in _TOKEN.findall(term))
            if words:
                self._terms.add(words)
                self._longest = max(self._longest, len(words))

    def finditer(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, matched text) of each longest, non-overlapping term in ``text``."""
        tokens = list(_TOKEN.finditer(text))
        words = [t.group(0).lower().replace("\u2019", "'") for t in tokens]
        found: list[tuple[int, int, str]] = []
        index = 0
        while index < len(tokens):
            for size in range(min(self._longest, len(tokens) - index), 0, -1):
                if tuple(words[index:index + size]) in self._terms:
                    start, end = tokens[index].start(), tokens[index + size - 1].end()
                    found.append((start, end, text[start:end]))
                    index += size
                    break
            else:
                index += 1
        return found
