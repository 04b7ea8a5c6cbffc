"""Patient and relative names in chat: the part of the identifier screen that knows people.

    "Mrs. Delgado" · "pt JR" · "patient M.T." · "J. Whitfield" · "Tanya's 34" ·
    "Sofia is 2" · "(Walter, 91)" · "Name is Linda Park"

A capitalised word is a first name when the US Census lists it (the `names`
package ships the 1990 Census first-name lists, public domain), it is no
common word, month, drug or eponym, and it is not the clinician signing off
("- Kevin, PharmD", "Dr. Patel"). A surname is taken after a first name, a
title or an initial. Initials count only after "pt"/"patient" or before a
surname: "MK" alone is as often a lab or a unit.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

from screening.spans import Span

TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Mister)"
CLINICIAN_TITLES = r"(?:Dr|Doctor|Prof|Nurse|NP|PA|RN|PharmD)"
CREDENTIALS = r"(?:MD|DO|RN|NP|PA|PA-C|PharmD|RPh|APRN|FNP|CNP|MSN|BSN|DNP|PhD|MSL)"

MONTHS_AND_DAYS = frozenset({
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
})
# Census first names that are ordinary words, units or clinical shorthand in chat.
COMMON_WORDS = frozenset({
    "will", "mark", "bill", "hope", "joy", "faith", "grace", "sunny", "max", "pat", "don",
    "art", "chase", "hunter", "jack", "dawn", "rose", "iris", "ivy", "jade", "ruby",
    "pearl", "summer", "autumn", "winter", "storm", "rich", "sky", "king", "guy", "ray",
    "gene", "penny", "holly", "glen", "dale", "cliff", "lane", "page", "bob", "sue", "ed",
    "al", "val", "eve", "else", "long", "young", "brown", "white", "love", "major", "bee",
    "an", "in", "so", "my", "no", "ok", "lou", "dot", "kit", "lee", "see", "ma", "pa", "le",
    "la", "lot", "lots", "ty", "tu", "mi", "son", "cat", "dee", "sam", "tim",
    "amber", "angel", "crystal", "destiny", "precious", "mercy", "charity", "honey",
    "camellia", "august", "june", "april", "may", "lilly", "ali", "allegra",
    "kay", "carey", "bell", "sherry", "brandy", "candy", "cherry", "miles", "wade", "reid",
    "asa", "sol", "ken", "royal", "noble", "gale", "lacy", "gay", "more",
})
# Possessive surnames that name diseases, signs and scores, never patients.
EPONYMS = frozenset({
    "parkinson", "crohn", "bell", "cushing", "hashimoto", "huntington", "graves", "addison",
    "alzheimer", "hodgkin", "raynaud", "sjogren", "sjögren", "wilson", "kaposi", "paget",
    "barrett", "bright", "tourette", "down", "marfan", "meniere", "ménière", "reiter",
    "still", "whipple", "stevens", "johnson", "guillain", "barre", "barré", "child",
    "pugh", "apgar", "glasgow", "wells", "gilbert", "wernicke", "korsakoff", "lyme",
    "kawasaki", "behcet", "behçet", "bowen", "burkitt", "dupuytren", "fanconi", "horner",
    "lou", "gehrig", "tay", "sachs", "von", "willebrand", "hirschsprung", "ewing",
})
# Capitalised chat words that open sentences and are never names.
SENTENCE_WORDS = frozenset({
    "the", "this", "that", "these", "those", "my", "our", "your", "his", "her", "their",
    "a", "an", "is", "are", "was", "were", "has", "have", "what", "when", "which", "who",
    "how", "why", "does", "do", "did", "can", "could", "should", "would", "will", "any",
    "in", "on", "at", "for", "with", "after", "before", "during", "since", "patient",
    "patients", "pt", "pts", "hi", "hey", "hello", "thanks", "thank", "please", "pls",
    "question", "dear", "also", "just", "got", "found", "she", "he", "they", "we", "i",
    "it", "so", "but", "and", "or", "if", "not", "no", "yes", "ok", "okay", "fyi", "sorry",
})
# Makers, pharmacies, payers and references whose names look like people's.
ORGANISATIONS = frozenset({
    "pfizer", "merck", "lilly", "novartis", "roche", "genentech", "amgen", "abbvie", "gsk",
    "sanofi", "astrazeneca", "novo", "nordisk", "bayer", "takeda", "gilead", "biogen",
    "regeneron", "moderna", "janssen", "teva", "viatris", "mylan", "sandoz", "boehringer",
    "vertex", "otsuka", "astellas", "eisai", "daiichi", "lundbeck", "ipsen", "alexion",
    "seagen", "incyte", "jazz", "cvs", "walgreens", "costco", "walmart", "kroger", "rite",
    "optum", "humana", "aetna", "cigna", "anthem", "kaiser", "medicare", "medicaid", "epic",
    "uptodate", "lexicomp", "micromedex", "pubmed", "medline", "cochrane", "fda", "cdc",
    "nih", "ema", "nejm", "lancet", "jama", "mayo", "cleveland", "hopkins",
    "pyxis", "omnicell", "accuchek", "dexcom", "libre", "omnipod", "tandem", "medtronic",
})
_TITLE_CASE = r"(?:[A-Z]['\u2019]|Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"


@cache
def first_names() -> frozenset[str]:
    """Census first names (female and male), lower case, less the common words."""
    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `names` package is not installed (see pyproject.toml)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found: set[str] = set()
    for file in ("dist.female.first", "dist.male.first"):
        with (folder / file).open(encoding="ascii") as handle:
            found.update(line.split()[0].lower() for line in handle if line.strip())
    return frozenset(found - COMMON_WORDS - MONTHS_AND_DAYS - SENTENCE_WORDS)


@cache
def last_names() -> frozenset[str]:
    """The 5,000 most frequent Census surnames, lower case (rarer ones are mostly words
    already covered by other rules, or noise at a sentence start)."""
    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `names` package is not installed (see pyproject.toml)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    with (folder / "dist.all.last").open(encoding="ascii") as handle:
        ranked = [line.split()[0].lower() for _, line in zip(range(5000), handle, strict=False)]
    return frozenset(ranked) - COMMON_WORDS - MONTHS_AND_DAYS - SENTENCE_WORDS


@cache
def english_words() -> frozenset[str]:
    """English words (Webster's Second, as the english-words package ships it). Proper
    nouns keep their capital there, so a lower-case lookup finds only common words: a
    capitalised word whose lower case is not among them may be a person."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2"], alpha=True))


def _unknown(word: str, drugs: frozenset[str]) -> bool:
    """A capitalised word that is no English word, drug, eponym or organisation."""
    stem = _stem(word).lower()
    return not (stem in english_words() or stem in drugs or stem in EPONYMS
                or stem in ORGANISATIONS or stem in SENTENCE_WORDS or len(stem) < 3)


_TITLED = re.compile(rf"\b{TITLES}\.?\s+{_TITLE_CASE}(?:\s+{_TITLE_CASE})?")
_CLINICIAN = re.compile(rf"\b{CLINICIAN_TITLES}\.?\s+(?:[A-Z]\.\s*)?{_TITLE_CASE}"
                        rf"(?:\s+{_TITLE_CASE})?(?:['\u2019]s)?")
_INITIALS_AFTER_PT = re.compile(
    r"\b(?i:pt|patient|pts|resident|client)\b[:,]?\s*\(?"
    r"(?P<name>[A-Z]\.\s?[A-Z]\.(?:\s?[A-Z]\.)?|[A-Z]{2,3}(?![A-Za-z0-9]))\)?")
_NAME_AFTER_PT = re.compile(
    r"\b(?i:pt|patient|named|called|name is|name's|names? are|case of|son|daughter|wife|"
    r"husband|mother|father|mom|dad|brother|sister|grandson|granddaughter|baby)\b[:,]?\s+"
    rf"(?P<name>{_TITLE_CASE}(?:\s+{_TITLE_CASE})?)")
_INITIAL_SURNAME = re.compile(rf"\b[A-Z]\.\s?{_TITLE_CASE}\b")
# Chat in lower case: "pt maria", "named jose", "her son kevin".
_LOWER_AFTER_CUE = re.compile(
    r"\b(?:pt|patient|named|called|name is|son|daughter|wife|husband|mom|dad|brother|"
    r"sister|baby)[:,]?\s+(?P<name>[a-z]{3,})\b")
_IN_PARENTHESES = re.compile(rf"\((?P<name>{_TITLE_CASE})(?=\s*[,)])")
_CAPITALISED = re.compile(
    rf"(?<![\w@./-])(?<!Saint )(?<!St\. ){_TITLE_CASE}(?:['\u2019]s\b|['\u2019](?=\s))?")
_SIGN_OFF = re.compile(
    rf"(?:^|[-\u2013\u2014~]\s*|\b(?:thanks|thx|cheers|best|regards)[,!]?\s+){_TITLE_CASE}"
    rf"(?:\s+{_TITLE_CASE})?\s*(?:[,(]\s*{CREDENTIALS}\b|$)"
    rf"|{_TITLE_CASE}(?:\s+{_TITLE_CASE})?\s*[,(]?\s*{CREDENTIALS}\b", re.M)
# A first name that is a place or an institution here ("Austin clinic", "Jackson Memorial").
_PLACE_AFTER = re.compile(r"\s+(?:clinic|hospital|medical|memorial|center|centre|health|"
                          r"pharmacy|county|university|general|regional|street|st\b|ave|road|"
                          r"campus|office|practice|family medicine)", re.I)
# Dotted initials anywhere ("J.S. is on apixaban"), less abbreviations that look so.
_DOTTED_INITIALS = re.compile(r"(?<![\w.])[A-Z]\.\s?[A-Z]\.(?:\s?[A-Z]\.)?(?![\w])")
NOT_INITIALS = frozenset({"U.S.", "P.O.", "A.M.", "P.M.", "M.D.", "D.O.", "N.P.", "R.N.",
                          "U.K.", "E.R.", "I.V.", "O.D.", "O.S.", "O.U.", "B.P.", "P.A."})
# A capitalised word with an age after it ("Priya, 34," "Priya (34)" "Priya is 34").
_WITH_AGE = re.compile(
    rf"(?P<name>{_TITLE_CASE})(?:,\s*|\s*\(|\s+is\s+|\s+aged?\s+)\d{{1,3}}(?:\s*(?:yo|y/o|M|F)|"
    r"\s*[,)]|\s+(?:and|with|on|who|years?))")
_POSSESSIVE = re.compile(rf"(?<![\w@./-])(?P<name>{_TITLE_CASE})['\u2019]s\b")
# A name opening a sentence and doing something ("Gonzalez has been vomiting").
_SURNAME_SUBJECT = re.compile(
    rf"(?:^|(?<=[.!?;]\s))(?P<name>{_TITLE_CASE})(?:['\u2019]s)?\s+(?:has|had|is|was|got|"
    r"developed|started|says|said|reports|reported|called|came|went|took|takes|needs|wants|"
    r"complains|complained|presented|been|now|also|just|still)\b", re.M)


def _stem(word: str) -> str:
    return re.sub(r"['\u2019]s?$", "", word)


def _is_name_word(word: str, drugs: frozenset[str]) -> bool:
    stem = _stem(word).lower()
    return (stem in first_names() and stem not in EPONYMS and stem not in drugs)


def find(text: str, drugs: frozenset[str] = frozenset()) -> list[Span]:
    """Spans of patients' and relatives' names (``drugs`` holds names never to take as people)."""
    protected = [(m.start(), m.end()) for m in _CLINICIAN.finditer(text)]
    protected += [(m.start(), m.end()) for m in _SIGN_OFF.finditer(text)]

    def free(start: int, end: int) -> bool:
        return not any(s < end and start < e for s, e in protected)

    found: list[Span] = []
    for match in _TITLED.finditer(text):
        found.append(Span("name", match.start(), match.end(), 0.95))
    for match in _INITIALS_AFTER_PT.finditer(text):
        found.append(Span("name", match.start("name"), match.end("name"), 0.8))
    for match in _INITIAL_SURNAME.finditer(text):
        found.append(Span("name", match.start(), match.end(), 0.8))
    for match in _NAME_AFTER_PT.finditer(text):
        words = match.group("name").split()
        if _stem(words[0]).lower() in SENTENCE_WORDS or _stem(words[0]).lower() in drugs:
            continue
        if _stem(words[0]).lower() in EPONYMS:
            continue
        found.append(Span("name", match.start("name"), match.end("name"), 0.85))
    for match in _DOTTED_INITIALS.finditer(text):
        if match.group(0).replace(" ", "") not in NOT_INITIALS:
            found.append(Span("name", match.start(), match.end(), 0.7))
    for match in _SURNAME_SUBJECT.finditer(text):
        word = _stem(match.group("name")).lower()
        if _unknown(match.group("name"), drugs) or (
                word in last_names() and word not in drugs and word not in EPONYMS
                and word not in ORGANISATIONS and word not in SENTENCE_WORDS
                and word not in COMMON_WORDS):
            found.append(Span("name", match.start("name"), match.end("name"), 0.6))
    for pattern in (_WITH_AGE, _POSSESSIVE):
        for match in pattern.finditer(text):
            if _unknown(match.group("name"), drugs) and not _PLACE_AFTER.match(text, match.end()):
                found.append(Span("name", match.start("name"), match.end("name"), 0.6))
    for match in _LOWER_AFTER_CUE.finditer(text):
        word = match.group("name")
        if word in first_names() and word not in drugs:
            found.append(Span("name", match.start("name"), match.end("name"), 0.6))
    for match in _IN_PARENTHESES.finditer(text):
        word = match.group("name").lower()
        if word not in drugs and word not in SENTENCE_WORDS and word not in EPONYMS:
            found.append(Span("name", match.start("name"), match.end("name"), 0.6))
    for match in _CAPITALISED.finditer(text):
        if not _is_name_word(match.group(0), drugs) or _PLACE_AFTER.match(text, match.end()):
            continue
        end = match.end()
        surname = re.match(rf"\s+({_TITLE_CASE})(?:['\u2019]s)?", text[end:])
        if surname and _stem(surname.group(1)).lower() not in drugs:
            end += surname.end()
        found.append(Span("name", match.start(), end, 0.7))
    return [span for span in found if free(span.start, span.end)]
