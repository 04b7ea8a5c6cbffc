"""Product quality complaints: a product, its packaging, labelling or device may be defective.

    text ──complaint terms (device, packaging, appearance, storage, authenticity),
           in technical and lay words ("won't click", "the counter just spins")──>
         ConText: negated ("no leaks") ──> dropped; uncertain ──> kept, lower confidence

A lot number alone is not a complaint, and nor is a broken web link: the
terms describe the physical product. Asking whether something "is normal"
("is it normal for the pen to look cloudy?") still reports what was seen, so
it stays a complaint.
"""

from __future__ import annotations

import re
from functools import lru_cache

from screening import context
from screening.spans import Span, TermIndex

COMPLAINT_TERMS: tuple[str, ...] = (
    # device
    "won't click", "wont click", "didn't click", "doesn't click", "not clicking", "spins",
    "just spins", "didn't fire", "did not fire", "won't fire", "misfired", "jammed", "stuck",
    "is stuck", "got stuck", "didn't pull back", "didn't retract", "won't retract",
    "did not retract", "never activated", "didn't activate", "safety sleeve", "plunger",
    "bent", "window never", "never showed", "never turned", "counter is stuck",
    "counter reads", "counter not moving", "counter stuck", "alarmed", "occlusion",
    "light turned red", "beeped", "malfunction", "malfunctioned", "malfunctioning",
    "defective", "faulty", "not working", "stopped working", "won't dispense",
    "wouldn't dispense", "did not dispense", "didn't dispense", "stiff", "hard to open",
    "can't open", "won't open", "already open", "came open", "fell off", "popped off",
    "needle broke", "broke off", "wasted the dose", "lost the dose", "most of the med",
    # packaging and labelling
    "cracked", "crack", "broken", "leaking", "leaked", "leak", "leaks", "seal broken",
    "damaged", "dented", "torn", "missing", "leaflet missing", "mislabeled", "mislabelled",
    "wrong label", "label says", "label inside", "carton says", "box says",
    "but the label", "labeled as", "doesn't match", "does not match",
    "can't find the expiration", "no expiration", "no lot", "wrong strength",
    "missing tablets", "short count", "empty",
    # appearance
    "discolored", "discoloured", "discoloration", "different color", "different colour",
    "wrong color", "tint", "yellowish", "brownish", "bluer", "cloudy", "hazy", "flakes",
    "floating", "particles", "particulate", "specks", "foreign matter", "foreign object",
    "crumbled", "crumbling", "crumbs", "broken in half", "chipped", "powdery",
    "different imprint", "imprint", "smells", "smell", "odor", "odour", "taste different",
    "tastes different", "gritty", "clumped", "sticky", "melted", "separated", "air bubble",
    # storage and authenticity
    "temp logger", "temperature excursion", "cold chain", "arrived warm", "room temp",
    "ice pack", "frozen", "out of the fridge", "counterfeit", "fake", "tampered",
    "expired on arrival",
    # more device, packaging and appearance words
    "isn't moving", "not moving", "won't move", "no leaflet", "no insert", "was warm",
    "arrived hot", "got hot", "not cold", "crumble", "crumbles", "won't come off",
    "wouldn't come off", "can't get the cap", "giving an error", "error message",
    "stopped delivering", "won't stick", "doesn't stick", "not sticking", "falls off",
    "fell apart", "came apart", "loose", "rattling", "rattles", "no click", "clogged",
    "blocked", "dripping", "half empty", "underfilled", "under-filled", "overfilled",
    "broken seal", "seal was broken", "seal missing", "unsealed", "turned brown",
    "turned yellow", "changed color", "changed colour", "precipitate", "crystals",
    "froze", "left out", "sediment", "mold", "mould", "swollen blister", "peeled off",
    "bubbles", "won't prime", "wouldn't prime", "doesn't work", "didn't work", "not dispensing",
    "no medicine came out", "nothing came out", "wet", "soggy", "misprinted", "smudged",
    "illegible", "wrong tablets", "wrong pills", "extra tablets", "fewer tablets",
    "short", "recalled", "recall", "tampering", "knockoff", "knock-off", "not genuine",
    "different shape", "different size", "looks different", "look different", "weird color",
    "doesn't spray", "won't spray", "no spray", "won't inject", "wouldn't inject", "won't turn",
    "can't turn", "dial won't", "knob", "needle bent", "vial broke", "broken vial",
    "stuck together", "label peeling", "strange taste", "tastes weird", "smells like",
    "hair in", "something floating", "discolouration", "won't dissolve", "didn't dissolve",
    "won't reconstitute", "foamy", "leaky", "chunks", "wrong count", "double sealed",
)
_COMPLAINTS = TermIndex(COMPLAINT_TERMS)
_NOT_PRODUCT = re.compile(r"\b(?:link|website|portal|app|email|site|newsletter|url)\b", re.I)


def candidates(text: str) -> list[Span]:
    """Complaint-term spans, before ConText."""
    return list(_candidates(text))


@lru_cache(maxsize=256)
def _candidates(text: str) -> tuple[Span, ...]:
    return tuple(Span("complaint", start, end, 0.8)
                 for start, end, _ in _COMPLAINTS.finditer(text)
                 if not _NOT_PRODUCT.search(text[max(0, start - 30):start]))


def find(text: str) -> list[Span]:
    """Asserted complaint spans ("possible" ones, ConText-uncertain, with lower confidence)."""
    spans = candidates(text)
    out: list[Span] = []
    for span, assertion in zip(spans, context.assertions(text, spans), strict=True):
        if assertion.negated or (assertion.hypothetical and not assertion.uncertain):
            continue
        out.append(Span(span.kind, span.start, span.end, 0.5 if assertion.uncertain else 0.8))
    return out


def terms(text: str) -> tuple[str, ...]:
    """The complaint words found, in order, without repeats."""
    return tuple(dict.fromkeys(text[s.start:s.end].lower() for s in find(text)))
