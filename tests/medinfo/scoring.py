"""Recall and precision of the two screens on their labelled sets (shared with the benchmark)."""

from __future__ import annotations

from dataclasses import dataclass

from bots.medinfo.products import Catalog
from screening import decision, identifiers
from tests.medinfo import ae_cases, phi_cases
from tests.medinfo.sponsor_fixtures import directory


@dataclass(frozen=True)
class Score:
    true_positive: int
    false_positive: int
    false_negative: int

    @property
    def recall(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_negative)

    @property
    def precision(self) -> float:
        return self.true_positive / max(1, self.true_positive + self.false_positive)


def phi_score() -> Score:
    """Span level: an identifier counts as found when one finding covers it whole;
    a finding that touches no labelled identifier is a false positive."""
    tp = fp = fn = 0
    for text, labelled in phi_cases.CASES:
        findings = identifiers.find(text)
        spans = [(text.index(i), text.index(i) + len(i)) for i in labelled]
        for start, end in spans:
            if any(f.start <= start and f.end >= end for f in findings):
                tp += 1
            else:
                fn += 1
        fp += sum(1 for f in findings if not any(f.overlaps(s, e) for s, e in spans))
    return Score(tp, fp, fn)


def ae_score() -> tuple[Score, Score]:
    """Message level, for adverse events and for product complaints separately."""
    catalog = Catalog(directory())
    counts = {ae_cases.AE: [0, 0, 0], ae_cases.COMPLAINT: [0, 0, 0]}
    for text, label in ae_cases.CASES:
        result = decision.screen(text, names_product=bool(catalog.recognise(text)))
        got = {ae_cases.AE: result.adverse_event, ae_cases.COMPLAINT: result.complaint}
        for kind, flagged in got.items():
            if flagged and label == kind:
                counts[kind][0] += 1
            elif flagged:
                counts[kind][1] += 1
            elif label == kind:
                counts[kind][2] += 1
    return Score(*counts[ae_cases.AE]), Score(*counts[ae_cases.COMPLAINT])
