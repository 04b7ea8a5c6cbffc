"""Screening clinicians' messages for adverse events and product complaints.

    message ──patient cue?──┐
            ──product?──────┼──> potential AE when all four minimum criteria hold:
            ──event term,───┘    identifiable patient, identifiable reporter (the
              not negated,       verified clinician — always), suspect product, event
              not hypothetical
            ──quality term + product──> product complaint

Negation follows NegEx (Chapman et al. 2001): a pre-negation trigger ("no",
"denies", "without") negates event terms within a window of words after it,
up to a termination term ("but", "however"); a post-negation trigger ("was
ruled out") negates the words before it. Hypothetical phrasing ("is rash a
known side effect?", "could it cause") describes no event that happened. All
of it is tables below; ``tests/medinfo/ae_cases.py`` measures them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVENT_TERMS = (
    "rash", "hives", "urticaria", "itching", "pruritus", "angioedema", "anaphylaxis",
    "anaphylactic", "swelling", "nausea", "vomiting", "diarrhea", "diarrhoea", "constipation",
    "abdominal pain", "pancreatitis", "jaundice", "hepatitis", "liver injury",
    "elevated alt", "elevated ast", "elevated liver enzymes", "raised liver enzymes",
    "transaminitis", "myalgia", "muscle pain", "rhabdomyolysis", "weakness", "fatigue",
    "headache", "dizziness", "dizzy", "syncope", "fainted", "fall", "fell", "seizure",
    "seizures", "convulsion", "confusion", "hallucinations", "insomnia", "depression",
    "suicidal", "bradycardia", "tachycardia", "palpitations", "arrhythmia", "qt prolongation",
    "hypotension", "hypertension", "orthostatic", "chest pain", "myocardial infarction",
    "heart attack", "stroke", "bleeding", "hemorrhage", "bruising", "hypoglycemia",
    "hypoglycaemia", "hyperkalemia", "kidney injury", "renal failure", "acute kidney",
    "hair loss", "alopecia", "blurred vision", "vision loss", "cough", "shortness of breath",
    "dyspnea", "edema", "oedema", "neutropenia", "thrombocytopenia", "stevens-johnson",
    "overdose", "died", "death", "hospitalized", "hospitalised", "admitted", "side effect",
    "side effects", "reaction", "adverse event", "toxicity", "breakthrough seizures",
    "weight gain", "tremor", "lack of efficacy", "did not work", "stopped working",
)

SERIOUSNESS_TERMS = {
    "death": ("died", "death", "fatal"),
    "life-threatening": ("anaphylaxis", "anaphylactic", "life-threatening", "cardiac arrest"),
    "hospitalisation": ("hospitalized", "hospitalised", "admitted", "icu", "emergency room"),
    "disability": ("disability", "permanent", "vision loss"),
    "congenital anomaly": ("birth defect", "congenital"),
}

COMPLAINT_TERMS = (
    "cracked", "broken", "leaking", "leaked", "leak", "discolored", "discoloured",
    "discoloration", "particles", "particulate", "foreign matter", "cloudy", "crumbled",
    "crumbling", "defective", "malfunction", "malfunctioned", "jammed", "did not dispense",
    "wouldn't dispense", "mislabeled", "mislabelled", "wrong label", "wrong strength",
    "missing tablets", "counterfeit", "tampered", "odd smell", "strange smell",
    "expired on arrival", "damaged packaging",
)

PATIENT_CUES = (
    r"\bmy patient\b", r"\bour patient\b", r"\ba patient of (?:mine|ours)\b",
    r"\bthe patient\b", r"\bpatient\b(?= (?:who|developed|had|has|is|was|on|reports?|"
    r"presented|experienced|started|took))", r"\b\d{1,3}[- ]?(?:year[- ]old|yo|y/o)\b",
    r"\b(?i:mr|mrs|ms|miss)\.? [A-Z]", r"\b(?:he|she) (?:developed|had|has|experienced|"
    r"reported|was admitted|was hospitali[sz]ed|died)\b", r"\b(?i:pt|patient)[:,]? [A-Z]",
    r"\bresident\b", r"\b(?:man|woman|boy|girl|child|infant) (?:on|taking|who)\b",
)

PRE_NEGATION = (
    "no", "not", "denies", "denied", "without", "no evidence of", "no sign of",
    "no signs of", "negative for", "free of", "never", "absence of", "none", "nor",
    "no complaints of", "did not have", "didn't have", "has not had", "hasn't had",
)
POST_NEGATION = ("was ruled out", "were ruled out", "ruled out", "unlikely", "absent",
                 "not seen", "not observed")
TERMINATION = ("but", "however", "although", "though", "yet", "except", "apart from",
               "which", "who", "since")
HYPOTHETICAL = (
    r"\bis (?:there )?(?:a |an )?(?:known )?(?:risk|link|association)\b",
    r"\bknown (?:side effect|adverse|reaction|risk)\b", r"\bcould (?:it|this|\w+) cause\b",
    r"\bcan \w+ cause\b", r"\bdoes \w+ cause\b", r"\bwhat is the (?:incidence|rate|risk)\b",
    r"\bhow common\b", r"\bin (?:the )?(?:trials?|studies|label)\b", r"\bif (?:a|my|the)\b",
    r"\bwhat should i (?:watch|monitor)\b", r"\bworried about\b", r"\bto avoid\b",
    r"\bcounsel\b", r"\bbefore starting\b",
)
NEGATION_WINDOW = 6  # words after a pre-negation trigger that it reaches


@dataclass(frozen=True, slots=True)
class Screening:
    """What the screen found in one message."""

    patient: bool
    product: bool
    events: tuple[str, ...]
    negated: tuple[str, ...]
    complaint_terms: tuple[str, ...]
    seriousness: tuple[str, ...]
    hypothetical: bool

    @property
    def adverse_event(self) -> bool:
        """All four minimum criteria (the reporter is the verified clinician)."""
        return self.patient and self.product and bool(self.events) and not self.hypothetical

    @property
    def complaint(self) -> bool:
        return self.product and bool(self.complaint_terms)

    @property
    def flagged(self) -> bool:
        return self.adverse_event or self.complaint


_TOKEN = re.compile(r"[a-z0-9'/-]+|[.;!?]")


def _term_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(terms, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in ordered) + r")\b")


_EVENTS = _term_pattern(EVENT_TERMS)
_COMPLAINTS = _term_pattern(COMPLAINT_TERMS)
_PRE = _term_pattern(PRE_NEGATION)
_POST = _term_pattern(POST_NEGATION)
_TERM = _term_pattern(TERMINATION)
_PATIENT = re.compile("|".join(PATIENT_CUES))
_HYPOTHETICAL = re.compile("|".join(HYPOTHETICAL))


def _negated(lowered: str, start: int, end: int) -> bool:
    """NegEx: is the term at [start, end) inside a negation trigger's scope?"""
    sentence_start = max(lowered.rfind(c, 0, start) for c in ".;!?") + 1
    before = lowered[sentence_start:start]
    for trigger in _PRE.finditer(before):
        between = before[trigger.end():]
        if _TERM.search(between):
            continue
        if len(_TOKEN.findall(between)) <= NEGATION_WINDOW:
            return True
    ends = [lowered.find(c, end) for c in ".;!?"]
    sentence_end = min((e for e in ends if e >= 0), default=len(lowered))
    after = lowered[end:sentence_end]
    post = _POST.search(after)
    return post is not None and not _TERM.search(after[:post.start()]) and len(
        _TOKEN.findall(after[:post.start()])) <= NEGATION_WINDOW


def screen(text: str, *, names_product: bool) -> Screening:
    """Screen one message; ``names_product`` says whether it names (or is about) a product."""
    lowered = text.lower()
    events: list[str] = []
    negated: list[str] = []
    for match in _EVENTS.finditer(lowered):
        (negated if _negated(lowered, match.start(), match.end()) else events).append(
            match.group(0)
        )
    complaints = [m.group(0) for m in _COMPLAINTS.finditer(lowered)
                  if not _negated(lowered, m.start(), m.end())]
    seriousness = tuple(
        criterion for criterion, terms in SERIOUSNESS_TERMS.items()
        if any(re.search(rf"\b{re.escape(t)}\b", lowered) for t in terms)
    )
    return Screening(
        patient=_PATIENT.search(text) is not None or _PATIENT.search(lowered) is not None,
        product=names_product,
        events=tuple(dict.fromkeys(events)),
        negated=tuple(dict.fromkeys(negated)),
        complaint_terms=tuple(dict.fromkeys(complaints)),
        seriousness=seriousness if events else (),
        hypothetical=_HYPOTHETICAL.search(lowered) is not None,
    )


_AGE = re.compile(r"\b(\d{1,3})[- ]?(?:year[- ]old|yo|y/o|years? of age)\b|\baged? (\d{1,3})\b",
                  re.I)
_SEX = (
    ("female", re.compile(r"\b(?:woman|female|she|her|girl|mrs|ms|miss)\b", re.I)),
    ("male", re.compile(r"\b(?:man|male|he|his|boy|mr)\b", re.I)),
)


def patient_age_and_sex(text: str) -> tuple[str | None, str | None]:
    """Age (capped as "90+" per Safe Harbor) and sex, if the message gives them."""
    match = _AGE.search(text)
    age = None
    if match is not None:
        years = int(match.group(1) or match.group(2))
        age = "90+" if years > 89 else str(years)
    sex = next((label for label, pattern in _SEX if pattern.search(text)), None)
    return age, sex
