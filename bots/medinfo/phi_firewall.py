"""The PHI firewall: nothing that identifies a patient leaves for a sponsor.

    clinician text ──screen──> [Finding(kind, span)] ──empty?──> may be routed
                                      │ not empty
                                      ▼
                  clinician rephrases, or accepts ``redact`` (each span → [KIND])

Recognisers are a table: one row per identifier kind of the HIPAA Safe Harbor
list that occurs in questions to a medical-information desk (patient names in
clinical context, dates of birth and other full dates, ages over 89, MRNs and
account numbers, phone numbers, e-mail, street addresses, SSNs). Phone numbers
are found by Google's libphonenumber (``phonenumbers``), the rest by patterns.

Why not a library end to end: presidio-analyzer needs a spaCy model and
philter-ucsf needs NLTK tagger data, both downloaded from outside the package
registry at run time, which this deployment cannot do. The table is measured
instead: ``tests/medinfo/phi_cases.py`` is a labelled set, and the test and
``benchmarks/medinfo_load.py`` print recall and precision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import phonenumbers

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|"
    r"Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_NAME = r"(?:[A-Z]'[A-Z][a-z]+|[A-Z][a-z]+(?:-[A-Z][a-z]+)?)"
_FULL_NAME = rf"{_NAME}(?:\s+[A-Z]\.?)?\s+{_NAME}"
_STREET = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
    r"Place|Pl|Terrace|Circle|Highway|Hwy)\b\.?"
)

# Capitalised words that start "names" but are not people.
_NOT_NAMES = frozenset({
    "The", "This", "That", "These", "Those", "My", "Our", "Your", "His", "Her", "Their", "A",
    "An", "Is", "Are", "Was", "Were", "Has", "Have", "What", "When", "Which", "Who", "How",
    "Why", "Does", "Do", "Did", "Can", "Could", "Should", "Would", "Will", "Any", "In", "On",
    "At", "For", "With", "After", "Before", "During", "Since", "Patient", "Patients", "Doctor",
    "Hospital", "Clinic", "Medical", "Center", "Type", "Stage", "Grade", "Class", "New",
    "Saint", "St", "Dear", "Hi", "Hello", "Thanks", "Please", "Question", "Mr", "Mrs", "Ms",
    "Dr", "Miss", "Medicare", "Medicaid",
})


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    start: int
    end: int

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True, slots=True)
class Rule:
    """One identifier recogniser: a pattern, and the group that is the identifier."""

    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0
    accept: Callable[[re.Match[str]], bool] = lambda m: True


def _is_person(match: re.Match[str]) -> bool:
    return all(word.rstrip(".") not in _NOT_NAMES for word in match.group("name").split())


RULES: tuple[Rule, ...] = (
    Rule("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    Rule("SSN", re.compile(r"\b(?:SSN|social security(?: number)?)\s*[:#]?\s*(?P<id>\d{9})\b",
                           re.I), "id"),
    Rule("MRN", re.compile(
        r"\b(?:MRN|medical record(?: number| no\.?| #)?|chart(?: number| no\.?| #)|"
        r"acct|account(?: number| no\.?| #)?|member id|insurance id|policy(?: number| #)?)"
        r"\s*(?:is|was|of)?\s*[:#]?\s*(?P<id>[A-Z]{0,3}-?\d[\d-]{4,})", re.I), "id"),
    Rule("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    Rule("DATE", re.compile(
        r"\b(?:DOB|D\.O\.B\.|date of birth|born(?: on)?|birthday)\s*(?:is|was|of)?\s*[:]?\s*"
        rf"(?P<d>\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?"
        r"\s+\d{4}|\d{4}-\d{2}-\d{2})", re.I), "d"),
    Rule("DATE", re.compile(r"\b\d{1,2}/\d{1,2}/(?:19|20)\d{2}\b|\b(?:19|20)\d{2}-\d{2}-\d{2}\b")),
    Rule("DATE", re.compile(rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b")),
    Rule("DATE", re.compile(rf"\b\d{{1,2}}\s+{_MONTHS}\.?\s+(?:19|20)\d{{2}}\b")),
    Rule("AGE", re.compile(
        r"\b(?P<age>(?:9\d|1[01]\d))(?:\s*|-)(?:years?(?:\s*|-)old|y/?o\b|yrs?\b|y\.o\.|"
        r"year-old|M\b|F\b)", re.I), "age"),
    Rule("AGE", re.compile(r"\b(?:aged?|age of)\s+(?P<age>9\d|1[01]\d)\b", re.I), "age"),
    Rule("ADDRESS", re.compile(rf"\b\d{{1,6}}\s+(?:[A-Z][a-z]+\s+){{1,3}}{_STREET}")),
    Rule("ADDRESS", re.compile(
        r"\b(?:lives at|address is|resides at)\s+(?P<a>(?!\[)[^,.;]+)", re.I), "a"),
    Rule("NAME", re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+(?P<name>{_NAME}(?:\s+{_NAME})?)"),
         "name"),
    Rule("NAME", re.compile(
        r"\b(?i:patient|pt|named|called|name is|case of|son|daughter|wife|husband|"
        r"mother|father)(?:[:,]|\s+is)?\s+"
        rf"(?P<name>{_FULL_NAME}|{_NAME}(?=[,(]))"), "name", _is_person),
    Rule("NAME", re.compile(
        rf"(?P<name>{_FULL_NAME})(?=\s*(?:,\s*(?:a|an|age|aged|\d)|\(\d|\s+(?:is|was|has|had|"
        r"presented|developed|came|started|reports?|complains?)\b|'s\s))"), "name", _is_person),
)


def _phones(text: str) -> Iterable[Finding]:
    for match in phonenumbers.PhoneNumberMatcher(text, "US"):
        yield Finding("PHONE", match.start, match.end)


def screen(text: str) -> list[Finding]:
    """Every patient identifier found in ``text``, sorted, overlaps merged."""
    findings = list(_phones(text))
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            if rule.accept(match):
                findings.append(Finding(rule.kind, match.start(rule.group), match.end(rule.group)))
    return _merge(findings)


def _merge(findings: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Finding(last.kind, last.start, max(last.end, finding.end))
        else:
            merged.append(finding)
    return merged


def redact(text: str, findings: list[Finding] | None = None) -> str:
    """``text`` with every identifier replaced by its kind in brackets."""
    spans = screen(text) if findings is None else findings
    out, last = [], 0
    for finding in spans:
        out.append(text[last:finding.start])
        out.append(f"[{finding.kind}]")
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def describe(findings: list[Finding]) -> str:
    """Kinds found, for the clinician ("a date, a phone number") — never the values."""
    labels = {
        "NAME": "a patient name", "DATE": "a date (birth or other full date)",
        "AGE": "an exact age over 89", "MRN": "a record or account number",
        "PHONE": "a phone number", "EMAIL": "an e-mail address",
        "ADDRESS": "a street address", "SSN": "a social security number",
    }
    kinds = dict.fromkeys(f.kind for f in findings)
    return ", ".join(labels[k] for k in kinds)
