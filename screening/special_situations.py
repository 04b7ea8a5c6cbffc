"""Special situations (EU GVP Module VI): reportable even when nothing untoward happened.

    text ──triggers per kind──> ConText: negated or hypothetical ──> dropped
         ──general questions ("any registry?", "in general") with no patient──> dropped
         ──> [Span(kind)], and the one to report first by PRIORITY

Kinds: pregnancy, breastfeeding, overdose, medication_error, misuse_abuse,
off_label_patient, lack_of_efficacy, occupational_exposure,
paediatric_patient. When several apply, PRIORITY picks the one a PV lead
reads first (exposure in pregnancy before a child's use of the product; an
error before the overdose it caused).
"""

from __future__ import annotations

import re
from functools import lru_cache

from screening import context
from screening.spans import Span

PRIORITY = (
    "pregnancy", "breastfeeding", "occupational_exposure", "medication_error", "overdose",
    "misuse_abuse", "off_label_patient", "lack_of_efficacy", "paediatric_patient",
)

TRIGGERS: dict[str, tuple[str, ...]] = {
    "pregnancy": (
        r"\bpregnan(?:t|cy)\b", r"\b\d+\s*(?:wks?|weeks?)\s+(?:pregnant|gestation|along)\b",
        r"\bat \d+\s*(?:wks?|weeks?)\b(?! (?:ago|later|after))", r"\b(?:her|the) OB\b",
        r"\btrimester\b", r"\bconceived?\b", r"\bexpecting\b", r"\bgestational\b",
        r"\bIVF\b", r"\bgravida\b", r"\bG\dP\d", r"\bpostpartum\b", r"\bmiscarri(?:ed|age)\b",
        r"\bLMP\b", r"\bexpecting a baby\b", r"\bwith child\b", r"\bin utero\b",
    ),
    "breastfeeding": (
        r"\bbreast ?feed(?:ing|s)?\b", r"\bbreast ?fed\b", r"\bnursing (?:mom|mother|her)\b",
        r"\bnursing\b(?= (?:her|a|the) (?:\d|baby|infant))", r"\bpump and dump\b",
        r"\bbreast ?milk\b", r"\blactating\b", r"\blactation\b",
    ),
    "overdose": (
        r"\boverdose[ds]?\b", r"\bOD(?:'?d)?\b", r"\btook (?:\d+|all|a handful|a bunch) of\b",
        r"\b\d+\s*(?:x|times) (?:the|his|her|their)? ?(?:ordered |prescribed |usual )?dose\b",
        r"\b(?:double|triple|twice) (?:the|his|her)? ?dose\b", r"\btoo (?:many|much)\b",
        r"\bmore than (?:prescribed|directed|the max)", r"\binstead of (?:1|one)\b",
        r"\bgot into\b", r"\bingest(?:ed|ion)\b", r"\badded up\b", r"\bsuicide attempt\b",
        r"\bintentional\b", r"\b(?:dad|mom|grandma|grandpa|grandmother|grandfather|"
        r"parent|brother|sister)'s (?:\w+ )?(?:patch|pills?|tabs?|tablets?|meds?|bottle|"
        r"\w+(?:ine|ol|am|pam|done|pine|fen|yl))\b",
        r"\b\d+ of (?:his|her|their|the) \w+\b(?= .{0,20}\b(?:tabs?|pills|caps)\b)",
        r"\bexceed(?:ed|ing)? the max", r"\bsupratherapeutic\b",
        r"\bwhole (?:bottle|box|pack|strip)\b", r"\bdoubled? up\b", r"\bextra (?:dose|doses|pill|"
        r"pills|tabs?|tablets?)\b", r"\bhandful\b", r"\btoxic (?:level|dose)\b",
    ),
    "medication_error": (
        r"\bby mistake\b", r"\bin error\b", r"\berror\b", r"\bmistaken(?:ly)?\b",
        r"\bwrong (?:drug|dose|med|medication|patient|pt|route|strength|product|vaccine|"
        r"pen|insulin)\b", r"\bmix-?up\b", r"\bmixed up\b",
        r"\b(?:dispensed|filled|gave|given|pulled|received|got|administered|took)\b"
        r"[^.;]{0,40}\binstead of\b", r"\binstead of (?:IM|IV|SC|subq|PO)\b",
        r"\bexpired (?:dose|vial|pen|product|vaccine)\b", r"\bmeant to (?:give|order)\b",
        r"\b(?:label|sig) said\b", r"\bunits vs\.? mg\b", r"\bconfusion\b", r"\bnear[- ]miss\b",
        r"\bcaught it\b", r"\bshould (?:be|have been)\b", r"\bnot (?:supposed|meant) to\b",
        r"\btoo (?:early|soon)\b", r"\bprogramming\b", r"\blook-?alike\b",
        r"\bwrong (?:eye|arm|leg|side|site|time|day|syringe|vial|concentration)\b",
        r"\b(?:took|given|gave) (?:it )?twice\b", r"\bdouble[- ]dosed?\b", r"\bexpired\b",
        r"\bsound-?alike\b", r"\b(?:his|her) (?:wife|husband|mom|dad|son|daughter)'s\b",
    ),
    "misuse_abuse": (
        r"\bsnort(?:s|ing|ed)?\b", r"\bcrush(?:es|ing|ed)? and snort", r"\bselling\b",
        r"\bsold\b", r"\bfor the high\b", r"\bto get high\b", r"\bfeel (?:drunk|high)",
        r"\brecreational(?:ly)?\b", r"\babus(?:e|ing|ed)\b", r"\bmisus(?:e|ing|ed)\b",
        r"\b(?:from|sees) \d+ (?:different )?(?:docs|doctors|prescribers)\b",
        r"\bdoctor shopping\b", r"\bdiverted\b", r"\bdiversion\b", r"\binject(?:ing|ed) (?:the|his|"
        r"her) (?:pills|tabs)\b", r"\bused her\b.{0,30}\bto pick up\b", r"\bwith alcohol\b",
        r"\bto (?:study|stay awake|party|lose weight fast|get through)\b", r"\boff the street\b",
        r"\bstreet (?:drug|version|pills)\b", r"\bbuying\b", r"\bborrow(?:ed|ing)? (?:his|her|a)\b",
        r"\bsomeone else'?s\b", r"\bnot prescribed\b", r"\bearly refills?\b",
        r"\bget(?:ting)? high\b", r"\binject(?:s|ing|ed) (?:it|them)\b", r"\bdivert(?:ing|ed)\b",
    ),
    "off_label_patient": (
        r"\boff[- ]label\b", r"\bnot in (?:the )?(?:PI|label|labeling)\b",
        r"\bnot (?:approved|indicated) for\b", r"\boutside (?:the|its) (?:label|indication)\b",
        r"\bunapproved (?:use|indication)\b",
        r"\busing \w+(?: \w+)? for (?:my|her|his|their|a|the) (?:pt'?s?|patient'?s?)?\b",
        r"\b(?:higher|lower) than (?:the )?(?:label|labeled|approved|recommended) dose\b",
    ),
    "lack_of_efficacy": (
        r"\bstill (?:having|seizing|bleeding|getting|has|high|elevated|uncontrolled|"
        r"symptomatic|flaring|\d)", r"\b(?:didn'?t|did not|doesn'?t|does not) (?:work|help|"
        r"budge|respond|change)\b", r"\bno (?:change|effect|response|improvement|benefit)\b",
        r"\bnot working\b", r"\bstopped working\b", r"\bfailed\b", r"\bfailure\b(?! to)",
        r"\bbasically nothing\b", r"\black of (?:efficacy|effect|response)\b",
        r"\bineffective\b", r"\bno better\b", r"\bunchanged\b", r"\bbreakthrough\b",
        r"\bnot controlled\b", r"\bnon-?respon(?:der|se)\b", r"\bisn'?t (?:working|helping)\b",
        r"\bstill (?:febrile|positive|seizing|in pain|symptomatic|uncontrolled|flaring|"
        r"wheezing|high|low|elevated|hypertensive|depressed|itching|bleeding|vomiting)\b",
        r"\bnot (?:responding|helping|touching|effective)\b", r"\bno (?:relief|difference)\b",
        r"\bwore off\b", r"\bwearing off\b", r"\bdidn'?t (?:do (?:anything|much)|make a "
        r"difference)\b", r"\bno improvement\b", r"\bstill the same\b",
    ),
    "occupational_exposure": (
        r"\bneedle ?stick\b", r"\bstuck (?:myself|herself|himself)\b", r"\bsplash(?:ed)?\b",
        r"\bsprayed\b", r"\bgot (?:in|on) (?:my|her|his) (?:eye|eyes|face|skin|arms|hands)\b",
        r"\bwhile (?:compounding|preparing|reconstituting|spiking|drawing)\b",
        r"\b(?:nurse|pharmacist|tech|technician|staff|colleague|aide)\b[^.;]{0,60}\b(?:exposed|"
        r"exposure|inhaled|got splashed|got sprayed|spilled)\b", r"\bpowder got\b",
    ),
    "paediatric_patient": (
        r"\b(?:[1-9]|1[0-7])\s?(?:yo|y/o|y\.o\.|year[- ]old|yr[- ]old|months? old|mo old|"
        r"wks? old|weeks? old)\b", r"\b(?:[1-9]|1[0-7])yo\b",
        r"\b(?:baby|infant|newborn|neonate|toddler|kid|child|my son|my daughter|boy|girl)\b",
        r"\b[A-Z][a-z]+ (?:is |\()(?:[1-9]|1[0-7])\)?(?: and| yo|\b)",
        r"\b(?:peds|pediatric|paediatric) (?:pt|patient)\b", r"\b(?:teen|teenager|adolescent|"
        r"preemie|neonate|kindergartener|high schooler|middle schooler|grade schooler)\b",
        r"\b(?:age|aged) (?:[1-9]|1[0-7])\b", r"\b(?:[1-9]|1[0-7])-year-old\b",
        r"\b\d{1,2} ?(?:mo|m/o|mos)\b(?! ago)", r"\bin (?:a|an|my) (?:[1-9]|1[0-7])"
        r"\b",
    ),
}
_COMPILED = {kind: re.compile("|".join(f"(?:{t})" for t in triggers), re.I)
             for kind, triggers in TRIGGERS.items()}
# The patterns whose capitals matter (names followed by an age) are matched case-sensitively.
_COMPILED["paediatric_patient"] = re.compile(
    "|".join(f"(?:{t})" if "[A-Z]" in t else f"(?i:{t})" for t in TRIGGERS["paediatric_patient"]))
GENERAL = re.compile(
    r"\b(?:general (?:q|question)|in general|asking in general|registry for|any data|"
    r"is there (?:any )?data|literature|lit review|how do i report|is there a form|"
    r"for our (?:protocol|residents)|one of my residents asked|just curious)\b", re.I)
PATIENT = re.compile(r"\b(?:my|our|a|the|one of my)\s+(?:pts?|patients?)\b|\b(?:pt|she|he|"
                     r"her|his|him|they)\b|\b\d+\s?(?:yo|y/o|M|F)\b|\bmom\b|\bbaby\b", re.I)


def candidates(text: str) -> list[Span]:
    """Trigger spans of every kind, before ConText."""
    return list(_candidates(text))


@lru_cache(maxsize=256)
def _candidates(text: str) -> tuple[Span, ...]:
    if GENERAL.search(text) and not PATIENT.search(text):
        return ()
    spans = [Span(kind, m.start(), m.end(), 0.8)
             for kind, pattern in _COMPILED.items() for m in pattern.finditer(text)]
    return tuple(sorted(spans, key=lambda s: s.start))


def find(text: str) -> list[Span]:
    """Every special-situation trigger that is asserted about a real patient or exposure."""
    spans = candidates(text)
    kept: list[Span] = []
    for span, assertion in zip(spans, context.assertions(text, spans), strict=True):
        if assertion.negated and span.kind not in {"lack_of_efficacy", "medication_error"}:
            continue
        if assertion.hypothetical:
            continue
        kept.append(Span(span.kind, span.start, span.end, 0.5 if assertion.uncertain else 0.8))
    return kept


def kinds(text: str) -> tuple[str, ...]:
    """Kinds found, most important first (``PRIORITY``)."""
    found = {span.kind for span in find(text)}
    return tuple(kind for kind in PRIORITY if kind in found)
