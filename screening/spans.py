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
