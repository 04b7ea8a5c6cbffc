"""Lab abnormalities as clinicians type them: "K 5.9", "AST 4x ULN", "INR 7.5",
"creatinine doubled", "plt dropped to 40", "cr went from 1.0 to 2.3".

    analyte ──value──> outside the table's reference range? ──> Span("lab")
            ──"Nx ULN" (N ≥ 2) or a direction word (dropped, doubled, rose)──┘

A value inside the range, or an analyte that measures the disease being treated
(A1c, viral load), is no adverse event on its own. The ranges are adult
reference intervals rounded outward, so only a clearly abnormal value fires.
"""

from __future__ import annotations

import re

from screening.spans import Span

# analyte aliases → (low, high): a value below low or above high is abnormal.
RANGES: dict[tuple[str, ...], tuple[float, float]] = {
    ("k", "k+", "potassium"): (3.0, 5.5),
    ("na", "sodium"): (130, 150),
    ("inr",): (0, 4.0),
    ("alt", "ast", "sgpt", "sgot"): (0, 120),
    ("alk phos", "alp"): (0, 300),
    ("bili", "bilirubin", "tbili", "t bili"): (0, 2.5),
    ("cr", "creat", "creatinine", "scr"): (0, 1.6),
    ("ck", "cpk"): (0, 1000),
    ("lipase",): (0, 200),
    ("hgb", "hb", "hemoglobin", "haemoglobin"): (8.0, 18.5),
    ("plt", "plts", "platelets", "platelet"): (100, 600),
    ("wbc",): (3.0, 15),
    ("anc",): (1.0, 100),
    ("glucose", "bg", "bs", "blood sugar", "sugar", "fsbg"): (60, 300),
    ("tsh",): (0.1, 10),
    ("qtc", "qt"): (0, 500),
    ("hr", "heart rate", "pulse"): (45, 130),
    ("rr", "resp rate"): (10, 30),
    ("spo2", "sat", "sats", "o2 sat"): (88, 100),
    ("temp", "fever", "t"): (0, 100.4),
    ("lactate",): (0, 4),
    ("troponin", "trop"): (0, 0.1),
    ("digoxin level", "dig level", "level"): (0, 2.0),
    ("lithium level", "li level"): (0, 1.2),
    ("anti-xa", "anti xa"): (0, 1.2),
    ("phos", "phosphate", "phosphorus"): (2.0, 5.0),
    ("mg", "magnesium"): (1.2, 3.0),
    ("ca", "calcium"): (7.5, 11.0),
    ("igg",): (500, 2000),
    ("t-score", "t score"): (-2.5, 10),
    ("pth",): (0, 200),
}
# Analytes whose single value says more about the patient than the product: trends only.
TREND_ONLY = ("egfr", "gfr", "crcl")
_ALIASES = {alias: limits for aliases, limits in RANGES.items() for alias in aliases}
_ANALYTE = "|".join(re.escape(a) for a in sorted(_ALIASES, key=len, reverse=True))
_NUMBER = r"-?\d+(?:[.,]\d+)*"

_VALUE = re.compile(
    rf"(?<![\w-])(?P<analyte>{_ANALYTE})(?:\s+(?:was|is|of|at|now|came back|level|only|"
    rf"went to|up to|down to|dropped to|to)){{0,3}}\s*[:=]?\s*(?P<cmp>[<>]\s*)?"
    rf"(?P<value>{_NUMBER})(?!\s*(?:mg|mcg|units|%|x\b|/\d))", re.I)
_ULN = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?)\s*(?:x|\u00d7|times)\s*(?:the\s+)?(?:ULN|upper limit|normal)", re.I)
_TRENDING = "|".join(re.escape(a) for a in sorted((*_ALIASES, *TREND_ONLY), key=len,
                                                   reverse=True))
_DECADE = re.compile(rf"(?<![\w-])(?P<analyte>{_ANALYTE})(?:['\u2019]s)?(?:\s+(?:has|have|had|been|"
                     rf"is|was|running|staying|now))*\s+in the (?P<value>\d+)s\b", re.I)
_TREND = re.compile(
    rf"(?<![\w-])(?P<analyte>{_TRENDING})\b[^.;!?]{{0,30}}?\b(?:doubled|tripled|dropped|fell|"
    rf"rose|spiked|jumped|climbed|went up|went down|shot up|tanked|crashed|plummeted|"
    rf"halved|went from|from\s+{_NUMBER}\s+to|increased|decreased|elevated|high|low|up to|"
    rf"down to)\b", re.I)
_AS_DIRECTION = re.compile(rf"(?P<value>{_NUMBER})\s+from\s+(?P<before>{_NUMBER})")


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def find(text: str) -> list[Span]:
    """Abnormal lab values and lab trends, each a ``Span("lab")``."""
    found: list[Span] = []
    for match in _VALUE.finditer(text):
        low, high = _ALIASES[match.group("analyte").lower()]
        value = _number(match.group("value"))
        if value is None:
            continue
        below = (match.group("cmp") or "").strip() == "<" and value <= low
        if value < low or value > high or below:
            found.append(Span("lab", match.start(), match.end(), 0.9))
    for match in _DECADE.finditer(text):
        low, high = _ALIASES[match.group("analyte").lower()]
        value = float(match.group("value"))
        if value < low or value + 9 > high:
            found.append(Span("lab", match.start(), match.end(), 0.8))
    for match in _ULN.finditer(text):
        if float(match.group("n")) >= 2:
            found.append(Span("lab", match.start(), match.end(), 0.9))
    for match in _TREND.finditer(text):
        if match.group("analyte").lower() not in {"t", "level", "sugar", "temp"}:
            found.append(Span("lab", match.start(), match.end(), 0.7))
    for match in _AS_DIRECTION.finditer(text):
        found.append(Span("lab", match.start(), match.end(), 0.6))
    return found
