"""What goes to pharmacovigilance, and how it is labelled: the decisions a PV lead signs.

    message ──products.find──────────┐ any product, not only the sponsor's
            ──adverse_events.find────┤
            ──complaints.find────────┼──> to PV when a product is mentioned and an
            ──special_situations.find┘    AE, complaint or special situation is asserted
                     │
      every span certain (confidence ≥ CERTAIN)? ──no──> sent as "possible"
                     │
      ICSR minimum criteria (identifiable patient, identifiable reporter, suspect
      product, event) all present? ──yes──> "valid case", else "needs follow-up"
      (they decide the label, never whether it is sent)

    message ──identifiers.find──> any span? ──> block: the clinician rephrases or
                                                accepts the redaction (no identifier left)

Recall comes first: a flag in doubt costs a PV reviewer a minute; a missed
adverse event is a regulatory failure. So nothing here drops an uncertain
finding; it only labels it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from screening import (
    adverse_events,
    complaints,
    context,
    identifiers,
    products,
    special_situations,
)
from screening.spans import Span

CERTAIN = 0.7  # a report whose strongest finding is below this is "possible"


@dataclass(frozen=True, slots=True)
class Screening:
    """What the PV screen found in one message (medinfo routes on this)."""

    patient: bool
    product: bool
    events: tuple[str, ...]
    negated: tuple[str, ...]
    complaint_terms: tuple[str, ...]
    seriousness: tuple[str, ...]
    hypothetical: bool
    special_situations: tuple[str, ...] = ()
    certain: bool = True

    @property
    def adverse_event(self) -> bool:
        """An asserted event and a product: reportable; the ICSR criteria only label it."""
        return self.product and bool(self.events)

    @property
    def complaint(self) -> bool:
        return self.product and bool(self.complaint_terms)

    @property
    def special_situation(self) -> str | None:
        """The special situation to report first, if any (``special_situations.PRIORITY``)."""
        return self.special_situations[0] if self.special_situations else None

    @property
    def flagged(self) -> bool:
        """Goes to pharmacovigilance."""
        return self.adverse_event or self.complaint or (
            self.product and self.special_situation is not None)

    @property
    def possible(self) -> bool:
        """Sent, but marked "possible": some finding is uncertain."""
        return self.flagged and not self.certain

    def missing_criteria(self, *, reporter: bool = True) -> tuple[str, ...]:
        """ICSR minimum criteria not met (the reporter is the verified clinician by default)."""
        present = {"identifiable patient": self.patient, "identifiable reporter": reporter,
                   "suspect product": self.product,
                   "adverse event": bool(self.events or self.complaint_terms
                                         or self.special_situations)}
        return tuple(criterion for criterion, met in present.items() if not met)

    def validity(self, *, reporter: bool = True) -> str:
        """"valid case" when all four ICSR minimum criteria hold, else "needs follow-up"."""
        return "valid case" if not self.missing_criteria(reporter=reporter) else "needs follow-up"


def screen(text: str, *, names_product: bool = False, known: Iterable[str] = ()) -> Screening:
    """Screen one message. ``names_product`` is the caller's own product recognition
    (a sponsor's catalogue); ``known`` are extra product names to look for."""
    context.prepare(text, [*(span for span, _ in adverse_events.candidates(text)),
                           *complaints.candidates(text), *special_situations.candidates(text)])
    found = adverse_events.find_events(text)
    asserted = adverse_events.find(text)
    asserted_at = {(s.start, s.end): s for s in asserted}
    events = [e for e in found if (e.span.start, e.span.end) in asserted_at]
    complaint_spans = complaints.find(text)
    situation_spans = special_situations.find(text)
    product_spans = products.find(text, tuple(known))
    spans: list[Span] = [*asserted, *complaint_spans, *situation_spans]
    return Screening(
        patient=adverse_events.identifiable_patient(text),
        product=names_product or bool(product_spans),
        events=adverse_events.terms(events),
        negated=adverse_events.terms(e for e in found if e.assertion.negated),
        complaint_terms=tuple(dict.fromkeys(text[s.start:s.end].lower()
                                            for s in complaint_spans)),
        seriousness=adverse_events.seriousness(text) if events else (),
        hypothetical=bool(found) and not events and any(e.assertion.hypothetical
                                                        for e in found),
        special_situations=tuple(kind for kind in special_situations.PRIORITY
                                 if any(s.kind == kind for s in situation_spans)),
        certain=max((s.confidence for s in spans), default=0.0) >= CERTAIN,
    )


@dataclass(frozen=True, slots=True)
class Assessment:
    """One message's full result: PV screen, identifiers and the redacted text."""

    screening: Screening
    identifiers: tuple[Span, ...]
    redacted: str

    @property
    def blocked(self) -> bool:
        """PHI: when in doubt, block and ask the clinician to rephrase."""
        return bool(self.identifiers)

    def as_record(self, message_id: object = None) -> dict[str, object]:
        """The JSON line ``curbside medinfo screen`` writes for this message."""
        result = self.screening
        return {
            "id": message_id,
            "adverse_event": result.adverse_event,
            "complaint": result.complaint,
            "special_situation": result.special_situation,
            "pv": result.flagged,
            "possible": result.possible,
            "validity": result.validity() if result.flagged else None,
            "phi": [{"kind": s.kind, "start": s.start, "end": s.end} for s in self.identifiers],
            "redacted": self.redacted,
        }


def assess(text: str, *, names_product: bool = False, known: Iterable[str] = ()) -> Assessment:
    """Screen ``text`` for PV and for identifiers; no sponsor configuration is needed
    (``names_product`` and ``known`` add a sponsor's own product recognition)."""
    found = identifiers.find(text)
    return Assessment(screen(text, names_product=names_product, known=known), tuple(found),
                      identifiers.redact(text, found))
