"""Adverse events: something untoward happened to a patient on or after a product.

    text ──event lexicon (clinicians' and lay words)──┐
         ──abnormal lab values (screening.labs)───────┼──> candidate spans
         ──outcomes (admitted, transfused, ICU, died)─┘
                     │ medspaCy ConText (screening.context)
                     ▼
         negated ──> dropped ("no bleeding so far")
         hypothetical ──> dropped ("if a patient got hives")
         uncertain ──> kept, confidence lowered ("possible")
                     │
         + subject cues ("my pt", "she", "a 70yo", "one of my pts") and temporal
           cues ("after the 2nd dose", "since starting") raise confidence

Rules alone do not reach a sponsor's recall on chat, so the screen is built
recall first: any asserted event term counts, and the decision
(``screening.decision``) sends what is in doubt as "possible". A sponsor may
load its licensed MedDRA lowest-level terms at deploy time with
:func:`load_terms` (one term a line); they join the lexicon.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from screening import complaints, context, labs
from screening.spans import Span, TermIndex, terms_pattern

# Clinicians' terms and lay words for untoward medical occurrences.
EVENT_TERMS: tuple[str, ...] = (
    # skin and allergy
    "rash", "rashes", "hives", "urticaria", "itching", "itchy", "pruritus", "angioedema",
    "anaphylaxis", "anaphylactic", "swelling", "swollen", "swelled up", "swelled", "flushing",
    "blisters", "blistering", "peeling", "stevens-johnson", "sjs", "ten", "dress",
    "broke out", "welts", "lips got huge", "face swelled", "red and crusty", "reaction",
    "reactions", "allergic", "infusion reaction", "injection site reaction", "site reaction",
    # gut and liver
    "nausea", "nauseous", "nauseated", "vomiting", "vomited", "threw up", "throwing up",
    "puking", "diarrhea", "diarrhoea", "constipation", "constipated", "abdominal pain",
    "stomach pain", "belly pain", "cramps", "pancreatitis", "jaundice",
    "hepatitis", "liver injury", "transaminitis", "colitis", "gi bleed", "melena",
    "mouth sores", "ulcers", "sores", "bloody stools", "dark urine", "lost weight",
    "weight loss", "weight gain", "weight went up", "gained weight", "feeding poorly",
    # muscles, nerves, mind
    "myalgia", "muscle pain", "muscles killing", "muscle aches", "rhabdo", "rhabdomyolysis",
    "weakness", "weak", "fatigue", "tired", "exhausted", "lethargic", "drowsy", "sleepy",
    "hard to wake", "sedated", "somnolent", "headache", "headaches", "migraine", "dizziness",
    "dizzy", "lightheaded", "vertigo", "syncope", "fainted", "passed out", "blacked out",
    "fall", "fell", "falling", "falls", "seizure", "seizures", "seized", "convulsion",
    "confusion", "confused", "loopy", "delirium", "altered", "hallucinations",
    "hallucinating", "insomnia", "nightmares", "depression", "depressed", "suicidal",
    "suicide", "doesn't want to live", "self-harm", "aggressive", "aggression",
    "irritable", "agitated", "hitting", "crying", "mood", "anxiety", "tremor", "shaking",
    "numbness", "tingling", "neuropathy", "slurred speech", "trouble chewing",
    "trouble swallowing", "guillain-barre", "guillain-barré", "gbs", "paralysis",
    "bell's palsy", "palsy", "stroke", "tia", "memory loss",
    # heart, lungs, blood
    "bradycardia", "tachycardia", "tachy", "brady", "palpitations", "arrhythmia", "afib",
    "qt prolongation", "hypotension", "hypertension", "orthostatic", "chest pain",
    "chest tightness", "myocardial infarction", "heart attack", "mi", "cardiac arrest",
    "coded", "bleeding", "bleed", "bled", "hemorrhage", "haemorrhage", "nosebleed",
    "nosebleeds", "epistaxis", "bruising", "bruises", "bruise", "subdural", "hematoma",
    "dvt", "pe", "clot", "clots", "thrombosis", "embolism", "anemia", "anaemia",
    "neutropenia", "febrile neutropenia", "thrombocytopenia", "agranulocytosis",
    "sob", "shortness of breath", "short of breath", "dyspnea", "dyspnoea", "wheezing",
    "cough", "crackles", "infiltrates", "pneumonitis", "edema", "oedema",
    # kidney, metabolic, endocrine
    "hypoglycemia", "hypoglycaemia", "low sugar", "hyperglycemia", "dka", "ketones",
    "ketoacidosis", "hyperkalemia", "hyponatremia", "kidney injury", "aki",
    "renal failure", "acute kidney", "nephropathy", "peeing all the time", "thyroiditis",
    "thyrotoxicosis", "hypothyroid", "hyperthyroid", "lactic acidosis",
    # infections and others
    "infection", "infections", "yeast infections", "yeast infection", "uti", "utis",
    "sore throat", "fever", "reactivated", "reactivation", "sepsis", "conjunctivitis",
    "hair loss", "alopecia", "blurred vision", "vision loss", "halos", "eyes got",
    "fracture", "fractured", "fx", "osteoporosis", "accident", "injury", "burning",
    "pain", "death", "died", "passed away", "side effect", "side effects",
    "adverse event", "adverse reaction", "toxicity", "overdose", "breakthrough seizures",
    "lack of efficacy", "did not work", "stopped working", "rebound", "irae", "iraes",
    # more lay and clinical words, by body system
    "heart racing", "racing", "pounding", "shingles", "zoster", "peeing blood",
    "blood in urine", "blood in her urine", "blood in his urine", "hematuria", "gallstones",
    "cholecystitis", "cholecystectomy", "can't sleep", "cant sleep", "couldn't sleep",
    "coughing", "die", "dies", "dying", "myocarditis", "pericarditis", "through the roof",
    "puffy", "throat was closing", "throat closing", "jaundiced", "lows", "low blood sugar",
    "low sugars", "numb", "tingly", "pins and needles", "tendon rupture", "tendonitis",
    "rupture", "ruptured", "liver numbers", "vomiting blood", "hematemesis", "black stools",
    "tarry stools", "shaky", "jittery", "wheezy", "sore", "achy", "aches", "joint pain",
    "arthralgia", "back pain", "cramping", "bloating", "bloated", "heartburn", "reflux",
    "dry mouth", "hoarse", "bleeding gums", "gums bleeding", "petechiae", "purpura",
    "blurry", "double vision", "tinnitus", "ringing in", "hearing loss", "metallic taste",
    "loss of taste", "lost her taste", "night sweats", "sweating", "hot flashes", "chills",
    "rigors", "flu-like", "flu like", "injection site", "redness", "warm to the touch",
    "cellulitis", "abscess", "lump", "nodule", "tumor", "cancer", "lymphoma", "melanoma",
    "malignancy", "pneumonia", "sepsis", "thrush", "c diff", "c. diff", "cdiff",
    "diverticulitis", "perforation", "obstruction", "ileus", "gastroparesis",
    "hepatotoxicity", "liver failure", "kidney stones", "kidney failure", "nephritis",
    "proteinuria", "hypokalemia", "hypomagnesemia", "hypocalcemia", "hypercalcemia",
    "low potassium", "high potassium", "low sodium", "low platelets", "low white count",
    "low counts", "anemic", "pancytopenia", "neutropenic", "febrile", "serotonin syndrome",
    "torsades", "long qt", "heart block", "a-fib", "heart failure", "chf", "cardiomyopathy",
    "syncopal", "collapsed", "unresponsive", "hard to rouse", "altered mental status",
    "psychosis", "psychotic", "manic", "mania", "paranoid", "suicidal thoughts",
    "erectile dysfunction", "impotence", "gynecomastia", "breast tenderness", "spotting",
    "acne", "photosensitivity", "sunburn", "hyperpigmentation", "mouth ulcers",
    "twitching", "tics", "spasms", "akathisia", "tardive", "dyskinesia", "stiffness",
    "rigidity", "osteonecrosis", "onj", "eye pain", "floaters", "dry eyes", "red eyes",
    "pink eye", "hair thinning", "hair falling out", "falling out", "lost weight",
    "gained", "out of breath", "winded", "chest pressure", "fluttering", "skipped beats",
    "heart pounding", "blood pressure dropped", "bp dropped", "pressure dropped",
    "sleepwalking", "vivid dreams", "memory problems", "foggy", "brain fog", "dazed",
    "slurring", "drooling", "choking", "gagging", "itch", "burns", "burned", "stinging",
    "welt", "bumps", "hematoma", "swallowing", "vomit", "nausea and vomiting", "sick",
    "really sick", "very sick", "unwell", "symptoms", "complication", "complications",
    "hospitalization", "hospitalisation", "intubated", "ventilator", "code blue",
    "arrested", "stopped breathing", "not breathing", "anaphylactoid", "allergy",
    "intolerance", "intolerant", "toxic", "poisoning",
    # verb forms and common misspellings in chat
    "fainting", "faints", "vomits", "vomitting", "vommiting", "vomitted", "diarhea",
    "diarreah", "diarrhoea", "nausious", "nauseus", "headach", "dizzyness", "siezure",
    "siezures", "seizing", "anaphalaxis", "anaphylaxsis", "swolen", "brusing", "bleeds",
    "itches", "swells", "collapsing", "fell down", "passing out", "blacking out", "throwing",
    "hurling", "runs", "the runs", "loose stools", "can't eat", "not eating", "won't eat",
    "can't keep anything down", "lethargy", "wiped out", "zonked", "out of it", "groggy",
    "woozy", "off balance", "unsteady", "wobbly", "spaced out", "not himself",
    "not herself", "acting weird", "meltdowns", "tantrums", "rage", "moody", "weepy",
    "panic attacks", "racing thoughts", "hearing voices", "seeing things",
)
# "lost 10 lbs", "gained 8 kg", "two lows in the 40s": events said with a number.
EVENT_PATTERNS = (
    r"\b(?:lost|gained|dropped|put on)\s+(?:about\s+|like\s+|~)?\d+\s*(?:lbs?|pounds|kg|kilos)\b",
    r"\b(?:lows?|sugars?|bgs?|glucoses?)\s+in the\s+[1-5]0s\b",
    r"\bbp\s*(?:of\s+|was\s+|is\s+)?(?:2\d\d|1[89]\d|[4-7]\d)/\d{2,3}\b",
    r"\b(?:lfts?|liver (?:enzymes|numbers|tests)|transaminases|counts|white count|"
    r"platelet count|creat(?:inine)?|kidney function|renal function)\b[^.;!?]{0,20}?"
    r"\b(?:up|high|elevated|through the roof|tanked|dropped|down|bumped|climbing|worse)\b",
    r"\bbroke (?:her|his|their|a) (?:hip|wrist|arm|leg|ankle|rib|femur|back)\b",
)

# Seriousness as outcomes (ICH E2A): each criterion, its words.
SERIOUSNESS_TERMS: dict[str, tuple[str, ...]] = {
    "death": ("died", "death", "fatal", "passed away", "coded"),
    "life-threatening": ("anaphylaxis", "anaphylactic", "life-threatening", "cardiac arrest",
                         "coded", "intubated", "pressors", "narcan", "epi", "rosc"),
    "hospitalisation": ("hospitalized", "hospitalised", "admitted", "adm", "icu", "picu",
                        "nicu", "ccu", "emergency room", "er", "ed", "urgent care",
                        "transfused", "transfusion", "needed dialysis", "surgery", "ems"),
    "disability": ("disability", "permanent", "vision loss", "paralysis"),
    "congenital anomaly": ("birth defect", "congenital"),
}
# Outcomes that are events in themselves ("ended up in the ER").
OUTCOME_TERMS = (
    *(term for terms in SERIOUSNESS_TERMS.values() for term in terms
      if term not in {"epi", "er", "ed", "adm", "surgery", "permanent", "ems", "dialysis"}),
    "ended up in the er", "went to er", "went to the er", "to the ed", "went to ed",
    "in the er", "to the er", "needed dialysis", "got packed", "gave vit k", "narcan given",
    "got epi", "ivig", "iv steroids",
)

TEMPORAL_CUES = re.compile(
    r"\b(?:after (?:the |her |his |their |my )?(?:\d+(?:st|nd|rd|th)|first|second|third|"
    r"last|next)?\s*(?:dose|shot|injection|infusion|cycle|session|jab)|since (?:starting|"
    r"switching|the|we|his|her|being)|once (?:we|she|he)|after (?:starting|switching|we)|"
    r"(?:started|starting|switched)\b|dose (?:went up|increase)|when (?:we|she|he) (?:started|"
    r"increased|went up)|days? (?:later|after)|weeks? (?:later|after)|within (?:minutes|hours))",
    re.I)
SUBJECT_CUES = re.compile(
    r"\b(?:my|our|a|one of (?:my|our)|the)\s+(?:pts?|patients?|resident|client)\b|"
    r"\b(?:pt|patient)\b|\b(?:he|she|they|him|her|his|hers)\b|\b(?:mr|mrs|ms|miss)\b\.?|"
    r"\b\d{1,3}\s?(?:yo|y/o|y\.o\.|year[- ]old|M|F|m|f)\b|"
    r"\b(?:baby|infant|child|son|daughter|mom|dad|man|woman|guy|lady|boy|girl)\b",
    re.I)
# A sentence asking about a risk in general, not telling of a patient (per sentence).
GENERAL_QUESTION = re.compile(
    r"\b(?:general (?:q|question)|in general|asking in general|hypothetical|journal club|"
    r"lit(?:erature)? (?:review|search|request|on)|for a lit|case reports?|any data|"
    r"(?:refs|references|papers|articles|studies|data|evidence|a review) (?:on|about|for)|"
    r"what(?:'s| is) the (?:real )?(?:risk|rate|incidence)|how (?:often|common)|incidence|"
    r"for our (?:protocol|residents)|none of my pts|in your experience|asking before|"
    r"is (?:there )?(?:a |an )?(?:known )?(?:risk|link|association)|known (?:side effect|"
    r"adverse|reaction|risk)|could (?:it|this|\w+) cause|can \w+ cause|does \w+ cause|"
    r"in (?:the )?(?:trials?|studies|label)|what should i (?:watch|monitor)|worried about|"
    r"to avoid|counsel|before starting|which \w+ do you prefer|"
    r"(?:pts|patients) (?:on \w+ )?get (?:more )?)", re.I)
# Words before a term that make it the indication ("on topiramate for migraine").
INDICATION = re.compile(r"\bfor (?:a |an |the |her |his |their |my |mild |severe |chronic )?"
                        r"(?:[\w-]+ )?$", re.I)
# A relative's history, not the patient's event ("her dad had an MI at 50").
FAMILY_HISTORY = re.compile(
    r"\b(?:mom|mother|dad|father|brother|sister|grandma|grandmother|grandpa|grandfather|"
    r"aunt|uncle|cousin|family|fhx|fh)(?:'s)?\s+(?:had|has|have|with|history|hx|died|"
    r"passed)\b[^.;!?]*$", re.I)
_SENTENCE_END = re.compile(r"[.!?;\n]")

_extra_terms: list[str] = []


def load_terms(path: Path) -> int:
    """Add a sponsor's licensed MedDRA term list (one term a line); returns how many."""
    terms = [line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    _extra_terms.extend(terms)
    _compiled.clear()
    _candidates.cache_clear()
    return len(terms)


_compiled: dict[str, TermIndex] = {}


def _index(name: str) -> TermIndex:
    if not _compiled:
        _compiled["events"] = TermIndex((*EVENT_TERMS, *_extra_terms))
        _compiled["outcomes"] = TermIndex(OUTCOME_TERMS)
    return _compiled[name]


@dataclass(frozen=True, slots=True)
class Event:
    """One candidate event and what ConText said about it."""

    span: Span
    term: str
    assertion: context.Assertion

    @property
    def asserted(self) -> bool:
        return not (self.assertion.negated or self.assertion.hypothetical)


_EVENT_PATTERNS = re.compile("|".join(f"(?:{p})" for p in EVENT_PATTERNS), re.I)
# "her legs feel heavy", "his gums are growing", "her periods stopped", "food tastes like metal"
BODY_CHANGED = re.compile(
    r"\b(?:her|his|their|my pt'?s|the pt'?s|pt'?s)\s+(?:\w+\s+)?(?:legs?|arms?|hands?|feet|"
    r"foot|face|skin|eyes?|gums|hair|periods?|mouth|stomach|belly|chest|head|throat|tongue|"
    r"lips|joints?|muscles?|back|heart|breathing|urine|pee|stools?|poop|vision|hearing|"
    r"memory|mood|sleep|appetite|weight|sugars?|bp|pressure|nails|teeth|voice|ankles|knees?)"
    r"\s+(?:\w+\s+){0,2}?(?:feels?|felt|are|is|got|gets|went|stopped|started|turned|became|"
    r"hurts?|ache|aches|changed|keeps?|won't|can't)\b"
    r"|\b(?:food|everything|water)\s+tastes?\b", re.I)
WELL = re.compile(r"\b(?:fine|great|well|good|better|happy|tolerat\w*|no (?:issues|problems|"
                  r"side effects)|improv\w*|wants|asks|asked|interested)\b", re.I)
# The lexicon's safety net: a patient who "says", "noticed", "started having"
# something with a product in the same message is a possible event even when the
# words for it are not in the lexicon ("her legs feel heavy since starting X").
EXPERIENCED = re.compile(
    r"\b(?:he|she|they|pt|patient|my pt|the pt|my patient|kid|child|baby)(?:'s| is| has)?\s+"
    r"(?:\w+\s+){0,2}?(?:complains|complained|c/o|noticed|notices|"
    r"feels|felt|feeling|started having|been having|is having|keeps having|keeps getting|"
    r"experiencing|experienced|woke up with|came in with|presented with|showed up with|"
    r"now has|now having|got really|became|gets really|seems|is now|been really|"
    r"been super|been very|been so|been more)\b", re.I)


def candidates(text: str) -> list[tuple[Span, str]]:
    """Event, lab and outcome spans with their matched words, before any assertion check."""
    return list(_candidates(text))


@lru_cache(maxsize=256)
def _candidates(text: str) -> tuple[tuple[Span, str], ...]:
    found = [(Span("event", start, end, 0.8), words.lower())
             for start, end, words in _index("events").finditer(text)]
    found += [(Span("event", m.start(), m.end(), 0.8), m.group(0).lower())
              for m in _EVENT_PATTERNS.finditer(text)
              if not any(s.overlaps(m.start(), m.end()) for s, _ in found)]
    found += [(Span("outcome", start, end, 0.8), words.lower())
              for start, end, words in _index("outcomes").finditer(text)
              if not any(s.overlaps(start, end) for s, _ in found)]
    found += [(span, text[span.start:span.end].lower()) for span in labs.find(text)]
    if not found and not complaints.candidates(text):
        found += [(Span("event", m.start(), m.end(), 0.4), m.group(0).lower())
                  for pattern in (EXPERIENCED, BODY_CHANGED) for m in pattern.finditer(text)
                  if not WELL.search(_sentence(text, m.start(), m.end()))]
    return tuple(sorted(found, key=lambda pair: pair[0].start))


def find_events(text: str) -> list[Event]:
    """Every candidate with its ConText assertion."""
    pairs = candidates(text)
    assertions = context.assertions(text, [span for span, _ in pairs])
    return [Event(span, term, assertion) for (span, term), assertion in zip(pairs, assertions,
                                                                         strict=True)]


def _sentence(text: str, start: int, end: int) -> str:
    before = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    after = _SENTENCE_END.search(text, end)
    return text[before[-1] if before else 0:after.end() if after else len(text)]


def _told(text: str, event: Event) -> bool:
    """Asserted, not the indication, not history, not a sentence asking in general."""
    if not event.asserted or event.assertion.historical:
        return False
    before = text[max(0, event.span.start - 60):event.span.start]
    if event.span.kind == "event" and INDICATION.search(before[-30:]):
        return False
    if event.assertion.family and FAMILY_HISTORY.search(before):
        return False
    return GENERAL_QUESTION.search(_sentence(text, event.span.start, event.span.end)) is None


def find(text: str) -> list[Span]:
    """Asserted adverse-event spans; confidence says how sure (uncertain ones lower)."""
    if GENERAL_QUESTION.search(text) and not identifiable_patient(text):
        return []
    cue = 0.1 if TEMPORAL_CUES.search(text) else 0.0
    spans: list[Span] = []
    for event in find_events(text):
        if not _told(text, event):
            continue
        confidence = event.span.confidence + cue - (0.3 if event.assertion.uncertain else 0.0)
        spans.append(Span(event.span.kind, event.span.start, event.span.end,
                          round(min(1.0, max(0.1, confidence)), 2)))
    return spans


def seriousness(text: str) -> tuple[str, ...]:
    """Seriousness criteria the words describe, in ICH E2A order."""
    lowered = text.lower()
    return tuple(criterion for criterion, terms in SERIOUSNESS_TERMS.items()
                 if re.search(terms_pattern(terms), lowered))


def identifiable_patient(text: str) -> bool:
    """ICSR criterion 1: the message is about a specific patient (pronoun, age, "my pt")."""
    return SUBJECT_CUES.search(text) is not None


_AGE = re.compile(r"\b(\d{1,3})[- ]?(?:year[- ]old|yo|y/o|years? of age)\b|\baged? (\d{1,3})\b|"
                  r"\b(\d{1,3}) ?(?:M|F)\b", re.I)
_SEX = (
    ("female", re.compile(r"\b(?:woman|female|she|her|girl|mrs|ms|miss|\d{1,3} ?F)\b", re.I)),
    ("male", re.compile(r"\b(?:man|male|he|his|boy|mr|\d{1,3} ?M)\b", re.I)),
)


def patient_age_and_sex(text: str) -> tuple[str | None, str | None]:
    """Age (capped as "90+" per Safe Harbor) and sex, if the message gives them."""
    match = _AGE.search(text)
    age = None
    if match is not None:
        years = int(match.group(1) or match.group(2) or match.group(3))
        age = "90+" if years > 89 else str(years)
    sex = next((label for label, pattern in _SEX if pattern.search(text)), None)
    return age, sex


def terms(events: Iterable[Event]) -> tuple[str, ...]:
    """The matched words, first occurrence order, without repeats."""
    return tuple(dict.fromkeys(event.term for event in events))
