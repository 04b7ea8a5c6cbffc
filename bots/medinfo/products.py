"""Recognising the products a clinician names, by brand or generic name.

    question ──words and word pairs──> fuzzy match against every brand and generic
             ──> Mention(name as written, [candidate products]) per product named

A brand names one sponsor's product; a generic may be marketed by several
sponsors, and then the mention is *ambiguous* and the clinician is asked which
one they mean. Matching is fuzzy (rapidfuzz ratio) so "cardiovva" still finds
Cardiova, with a high cutoff so ordinary words do not match drug names.

Unsolicited by construction: this module only ever reports products the
clinician's own words name; nothing here suggests a product or a topic.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bots.medinfo.sponsors import Directory, Product

CUTOFF = 88.0
MIN_LENGTH = 5  # shorter words are too easy to confuse with drug names
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")


@dataclass(frozen=True, slots=True)
class Offer:
    """One sponsor's product as a candidate for a mention."""

    sponsor_key: str
    sponsor_name: str
    product: Product


@dataclass(frozen=True, slots=True)
class Mention:
    written: str
    candidates: tuple[Offer, ...]

    @property
    def ambiguous(self) -> bool:
        return len({c.sponsor_key for c in self.candidates}) > 1


class Catalog:
    """Every brand and generic name of every sponsor, ready for matching."""

    def __init__(self, directory: Directory) -> None:
        self._by_name: dict[str, list[Offer]] = {}
        for sponsor in directory.sponsors:
            for product in sponsor.products:
                offer = Offer(sponsor.key, sponsor.name, product)
                self._by_name.setdefault(product.brand.lower(), []).append(offer)
                self._by_name.setdefault(product.generic.lower(), []).append(offer)
        self._names = list(self._by_name)

    def recognise(self, text: str) -> list[Mention]:
        """Products named in ``text``, in order of first appearance, one mention each."""
        found: dict[str, Mention] = {}
        for word in _candidate_words(text):
            if len(word) < MIN_LENGTH:
                continue
            best = process.extractOne(word.lower(), self._names, scorer=fuzz.ratio,
                                      score_cutoff=CUTOFF)
            if best is None:
                continue
            name = best[0]
            if name not in found:
                found[name] = Mention(word, tuple(self._by_name[name]))
        return _merge_same_product(found.values())


def _candidate_words(text: str) -> Iterable[str]:
    words = _WORD.findall(text)
    yield from words
    for first, second in itertools.pairwise(words):
        yield f"{first} {second}"


def _merge_same_product(mentions: Iterable[Mention]) -> list[Mention]:
    """Brand and generic of one product named together are one mention, the brand's."""
    merged: list[Mention] = []
    for mention in mentions:
        if not mention.ambiguous:
            product = mention.candidates[0]
            duplicate = next(
                (m for m in merged if product in m.candidates and not m.ambiguous), None
            )
            if duplicate is not None:
                continue
            ambiguous_twin = next((m for m in merged if m.ambiguous and product in m.candidates),
                                  None)
            if ambiguous_twin is not None:
                merged[merged.index(ambiguous_twin)] = mention
                continue
        elif any(not m.ambiguous and m.candidates[0] in mention.candidates for m in merged):
            continue
        merged.append(mention)
    return merged
