"""Patient identifiers: nothing that identifies a patient leaves for a sponsor.

    clinician text ──find──> [Span(kind, start, end, confidence)] ──empty?──> may be routed
                                      │ not empty: block (when in doubt, block)
                                      ▼
                  clinician rephrases, or accepts ``redact`` (each span → [KIND])

One recogniser per HIPAA Safe Harbor kind that occurs in chat: names
(``screening.person_names``), dates more specific than a year in any chat
format, ages over 89 and birth years implying them, phone and fax numbers
(libphonenumber via ``curbside.phones``, plus the 555-style numbers it
rejects), e-mail, URLs, IP addresses, street addresses, ZIP codes and small
places, SSNs, and every labelled number (MRN, chart, account, member, policy,
prescription, device serial, licence, plate). What is not a patient's is left
alone: lot and NDC numbers, expiry dates, doses and lab values, and the
clinician's own office or callback number.

Why not presidio or philter: both need models or tagger data downloaded at run
time. The tables are measured instead (``tests/screening/evaluation.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from curbside import phones
from screening import person_names
from screening.spans import Span, merge

CURRENT_YEAR = date.today().year
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
    r"Place|Pl|Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq)\b\.?"
)
_STATES = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|"
    r"NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC)"
)
# Words just before a number that make it the product's (lot, expiry) or a study's.
_PRODUCT_NUMBER = re.compile(
    r"\b(?i:lot|lots|batch|ndc|exp|expiry|expires|expiration|sku|ref|catalog|model|"
    r"version|protocol|study|trial|nct|cpt|icd)\W{0,3}(?:[\w-]+\W{1,3}){0,2}$")
# Words before a number that make it the clinician's or the sponsor's, not the patient's.
_CLINICIAN_NUMBER = re.compile(
    r"\b(?i:office|my cell|my pager|call me|reach me|callback|call back|hotline|"
    r"company'?s?|your|toll-free|my fax|our fax|clinic)\W{0,3}(?:[\w-]+\W{1,3}){0,3}$")
# Words just before a 5-digit number that make it a measurement, not a ZIP code.
_MEASURED = re.compile(r"\b(?i:ck|cpk|plt|plts|platelets|wbc|count|level|titer|titre|dose|"
                       r"units|iu|copies|load|ldh|bnp|ferritin|glucose|x|about|over|under|than)\W{0,3}$")
_LABELLED_ID = re.compile(
    r"\b(?P<label>MRN|medical record(?: number| no\.?)?|chart|acct|account|member|"
    r"member id|insurance id|health plan id|plan id|policy|subscriber|group|rx|"
    r"prescription|script|serial|s/n|sn|device id|lic|licen[cs]e|driver'?s lic(?:ense)?|"
    r"dl|plate|tag|vin|case|claim|ssn|social security(?: number)?|passport|badge|"
    r"patient id|pt id|id)\b\.?"
    r"(?:\s*(?:number|no\.?|num|#|id))?\s*(?:is|was|of|=)?\s*[:#]?\s*"
    r"(?P<id>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}[A-Z0-9])\b", re.I)


@dataclass(frozen=True, slots=True)
class Rule:
    """One identifier recogniser: a pattern, the group that is the identifier, a check."""

    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0
    confidence: float = 0.9
    accept: Callable[[str, re.Match[str]], bool] = lambda text, m: True


def _patients(text: str, match: re.Match[str]) -> bool:
    """False when the words before the match make it a lot number, an expiry..."""
    return _PRODUCT_NUMBER.search(text[max(0, match.start() - 30):match.start()]) is None


def _old_birth_year(text: str, match: re.Match[str]) -> bool:
    return CURRENT_YEAR - int(match.group("year")) > 89


def _valid_slash_date(text: str, match: re.Match[str]) -> bool:
    """m/d(/y) with a real month and day, not a dose ("24/26"), BP ("190/110") or expiry."""
    month, day = int(match.group("m")), int(match.group("d") or match.group("d2"))
    dose = re.match(r"\s*(?:mg|mcg|g|ml|units?|iu|mmhg|mm|tabs?|tablets?|pills?|caps?|of|"
                    r"strength|dose|pain)\b", text[match.end():], re.I)
    score = day == 10 and re.search(r"\bpain\b", text[max(0, match.start() - 20):match.end() + 20],
                                    re.I)
    return (1 <= month <= 12 and 1 <= day <= 31 and not dose and not score
            and _patients(text, match))


RULES: tuple[Rule, ...] = (
    Rule("ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), accept=_patients),
    Rule("mrn", _LABELLED_ID, "id", 0.95),
    Rule("email", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    Rule("url", re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.I)),
    Rule("ip", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")),
    Rule("date", re.compile(
        r"(?<![\d/.,])(?P<m>\d{1,2})(?:/(?P<d>\d{1,2})(?:/(?:19|20)?\d{2})?|"
        r"[.-](?P<d2>\d{1,2})[.-](?:19|20)?\d{2})(?![\d/]|\.\d)"),
        accept=_valid_slash_date),
    Rule("date", re.compile(r"\b(?:19|20)\d{2}-[01]\d-[0-3]\d\b")),
    Rule("date", re.compile(rf"\b{_MONTHS}\.?\s+{_DAY}\b(?:,?\s+(?:19|20)\d{{2}})?"),
         accept=_patients),
    Rule("date", re.compile(rf"\b{_DAY}(?:\s+of)?\s+{_MONTHS}\b\.?(?:,?\s+(?:19|20)\d{{2}})?"),
         accept=_patients),
    Rule("date", re.compile(
        r"\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\b"
        r"|\b(?i:on|since|until|from|by) the \d{1,2}(?:st|nd|rd|th)\b"), confidence=0.7),
    Rule("age_over_89", re.compile(
        r"\b(?P<age>9\d|1[01]\d)(?:\s*|-)(?:years?(?:\s*|-)old|y/?o\b|yrs?\b|y\.o\.|yo\b|"
        r"M\b|F\b|m\b|f\b)", re.I), "age"),
    Rule("age_over_89", re.compile(
        r"\b(?:aged?|age of|she'?s|he'?s|is|turned|turns)\s+(?P<age>9\d|1[01]\d)\b(?!\s*(?:%|"
        r"mg|kg|lb|lbs|bpm|mmhg|/|\.\d))", re.I), "age"),
    Rule("age_over_89", re.compile(r"[(,]\s*(?P<age>9\d|1[01]\d)\s*\)"), "age", 0.7),
    Rule("age_over_89", re.compile(
        r"\b(?:born(?: in)?|b\.|DOB|birth year|year of birth)\s*:?\s*(?P<year>1[89]\d\d)\b",
        re.I), "year", accept=_old_birth_year),
    Rule("address", re.compile(
        rf"\b\d{{1,6}}\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET}"
        rf"(?:,?\s+(?:Apt|Unit|#)\s*\w+)?(?:,?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)?"
        rf"(?:,?\s+{_STATES})?(?:\s+\d{{5}}(?:-\d{{4}})?)?")),
    Rule("address", re.compile(
        r"\b(?:lives at|address is|resides at|home address)\s+(?P<a>(?!\[)[^,.;]+)", re.I),
        "a"),
    Rule("address", re.compile(
        r"\b(?i:lives|living|resides|staying|moved)\s+(?i:(?:over|out|down|up)\s+)?"
        r"(?i:in|at|near|to)\s+"
        r"(?P<a>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"), "a", 0.7),
    Rule("address", re.compile(r"(?<![\w#,.-])\d{5}(?:-\d{4})?(?![\w-]|[.,]\d)"),
         confidence=0.7, accept=lambda text, m: _patients(text, m) and not _CLINICIAN_NUMBER.search(
             text[max(0, m.start() - 40):m.start()]) and not _MEASURED.search(
             text[max(0, m.start() - 15):m.start()]) and not re.match(
             r"\s*(?:mg|mcg|ml|units?|iu|/|%|x|cells|copies)", text[m.end():], re.I)),
    Rule("photo", re.compile(
        r"\b(?:a |the )?(?:pic|picture|photo|image|selfie)s?\s+of\s+(?:his|her|their|the "
        r"(?:pt|patient)'?s?|my (?:pt|patient)'?s?)\s+(?:face|head|eyes)\b", re.I)),
)

# Words right after a number that make it the clinician's ("(our clinic fax)").
_CLINICIAN_AFTER = re.compile(r"\W{0,3}(?i:\(?(?:our|my) (?:office|clinic|practice|unit|"
                              r"floor|pharmacy|desk|cell|pager|fax|line))")
_PHONE_LIKE = re.compile(r"(?<!\d)(?:\+?1[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]\d{4}(?!\d)")
_FAX_WORD = re.compile(r"(?i:fax)\w*\W{0,20}$")


def _phones(text: str) -> list[Span]:
    """Phone and fax numbers: libphonenumber's, plus 555-style numbers it rejects,
    less the clinician's own office or callback number and the sponsor's hotline."""
    found = phones.find_in_text(text)
    found += [(m.start(), m.end()) for m in _PHONE_LIKE.finditer(text)]
    spans: list[Span] = []
    for start, end in found:
        before = text[max(0, start - 40):start]
        if (_CLINICIAN_NUMBER.search(before) or _PRODUCT_NUMBER.search(before)
                or _CLINICIAN_AFTER.match(text, end)
                or re.match(r"1-?8[0-9]{2}", text[start:end])):
            continue
        kind = "fax" if _FAX_WORD.search(before) else "phone"
        spans.append(Span(kind, start, end, 0.95))
    return spans


def find(text: str) -> list[Span]:
    """Every patient identifier in ``text``, sorted, overlaps merged."""
    from screening import products

    found: list[Span] = []
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            if rule.accept(text, match):
                found.append(Span(rule.kind, match.start(rule.group), match.end(rule.group),
                                  rule.confidence))
    found += _phones(text)
    named = [s for s in products.find(text) if s.confidence >= 0.9]
    found += [span for span in person_names.find(text, products.dictionary())
              if not any(p.covers(span.start, span.end) for p in named)]
    return merge(found)


def redact(text: str, spans: list[Span] | None = None) -> str:
    """``text`` with every identifier replaced by its kind in brackets."""
    out, last = [], 0
    for span in find(text) if spans is None else spans:
        out.append(text[last:span.start])
        out.append(f"[{span.kind.upper()}]")
        last = span.end
    out.append(text[last:])
    return "".join(out)


LABELS = {
    "name": "a patient name", "date": "a date (birth or other full date)",
    "age_over_89": "an exact age over 89", "mrn": "a record, account or other patient number",
    "phone": "a phone number", "fax": "a fax number", "email": "an e-mail address",
    "url": "a web address", "ip": "an IP address", "address": "an address, town or ZIP code",
    "ssn": "a social security number", "photo": "a photo of the patient",
}


def describe(spans: list[Span]) -> str:
    """Kinds found, for the clinician ("a date, a phone number") — never the values."""
    return ", ".join(LABELS[kind] for kind in dict.fromkeys(s.kind for s in spans))
