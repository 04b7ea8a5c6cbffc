"""Does the name a clinician gives match the legal name NPPES holds?

NPPES stores names upper-case, often without accents or the middle name;
people type them with case, accents, titles, a middle initial and their
credential. Both sides are reduced to plain word tokens (accents folded,
punctuation dropped, titles, suffixes and credentials removed), then:

* the first name and the last name must match exactly (compound last names
  included: "Garcia Lopez" needs both words);
* any middle words given must agree with the registry's middle name: the
  same word, or its initial ("Dana J Whitfield" for middle name "JANE");
  when NPPES has no middle name, a given middle name is not held against
  the clinician (the registry simply does not know it).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Words that are not part of a legal name: titles, generational suffixes, degrees.
_NOT_NAME = frozenset(
    {
        "dr", "mr", "mrs", "ms", "mx", "miss", "prof", "jr", "sr", "ii", "iii", "iv",
        "md", "do", "np", "pa", "pac", "rn", "dds", "dmd", "phd", "pharmd", "dpm", "od",
        "lcsw", "dc", "fnp", "aprn", "crna", "cnm", "facc", "facp",
    }
)


@dataclass(frozen=True, slots=True)
class NameCheck:
    ok: bool
    reason: str


def name_tokens(text: str | None) -> list[str]:
    """Lower-case ASCII words of a name, without titles, suffixes or degrees."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    ascii_only = ascii_only.replace("'", "").replace("\u2019", "").replace(".", "")
    words = re.split(r"[^a-z0-9]+", ascii_only)
    return [w for w in words if w and w not in _NOT_NAME]


def match_name(
    given: str, first: str | None, middle: str | None, last: str | None
) -> NameCheck:
    """Compare ``given`` with the registry's first, middle and last name."""
    words = name_tokens(given)
    firsts, middles, lasts = name_tokens(first), name_tokens(middle), name_tokens(last)
    if not firsts or not lasts:
        return NameCheck(False, "the registry holds no personal name for this NPI")
    if len(words) < len(firsts) + len(lasts):
        return NameCheck(False, "please give your first and last name as on your licence")
    if words[: len(firsts)] != firsts:
        return NameCheck(False, "the first name does not match the registry")
    if words[len(words) - len(lasts):] != lasts:
        return NameCheck(False, "the last name does not match the registry")
    for word in words[len(firsts): len(words) - len(lasts)]:
        if middles and not any(
            word == m or (len(word) == 1 and m.startswith(word)) for m in middles
        ):
            return NameCheck(False, "the middle name or initial does not match the registry")
    return NameCheck(True, "name matches the registry")


def display_legal_name(first: str | None, last: str | None) -> str:
    """'DANA' 'O'BRIEN' -> "Dana O'Brien": how the name is shown in rooms."""
    return " ".join(p.title() for p in (first, last) if p)


def clean_credential(text: str | None) -> str:
    """'M.D.' -> 'MD'; the registry's credential text as shown after the name."""
    return (text or "").replace(".", "").strip().upper()[:64]
