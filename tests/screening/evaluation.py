"""The screens measured on labelled sets, as a PV auditor would: one table, one place.

    python -m tests.screening.evaluation      # prints the table for every set

Sets: the independent halves ``tests/data/pv_screening/set_a.jsonl`` (tuned on)
and ``set_b.jsonl`` (held out: only ever scored, never read while tuning), and
the two older sets in ``tests/medinfo/`` (``ae_cases`` labels AE / complaint /
none, ``phi_cases`` labels identifiers). A measure a set does not label is
left out (None). Only numbers are printed, never a message, so scoring the
held-out half shows nothing to tune to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from screening import decision

DATA = Path(__file__).resolve().parents[1] / "data" / "pv_screening"

# The "Must show" thresholds: measure → (minimum or maximum, bound).
THRESHOLDS: dict[str, tuple[str, float]] = {
    "ae_recall": ("min", 0.95),
    "ae_precision": ("min", 0.6),
    "pv_recall": ("min", 0.95),
    "complaint_recall": ("min", 0.9),
    "special_recall": ("min", 0.9),
    "identifiers_left": ("max", 0),
    "false_block_rate": ("max", 0.10),
}


@dataclass(frozen=True)
class Case:
    """One labelled message; a label the set does not give is None."""

    text: str
    adverse_event: bool | None = None
    complaint: bool | None = None
    special_situation: str | None = None
    labels_special: bool = False
    pv: bool | None = None
    phi: tuple[str, ...] | None = None
    names_product: bool = False  # the sponsor catalogue recognised a product (medinfo sets)


@dataclass
class Counts:
    """Tallies for one set."""

    cases: int = 0
    tallies: dict[str, list[int]] = field(default_factory=dict)
    identifiers_left: int | None = None
    clean_texts: int = 0
    false_blocks: int = 0

    def count(self, measure: str, hit: bool) -> None:
        pair = self.tallies.setdefault(measure, [0, 0])
        pair[0] += int(hit)
        pair[1] += 1

    def rate(self, measure: str) -> float | None:
        pair = self.tallies.get(measure)
        return None if not pair or not pair[1] else pair[0] / pair[1]

    def measures(self) -> dict[str, float | int | None]:
        return {
            "ae_recall": self.rate("ae_recall"),
            "ae_precision": self.rate("ae_precision"),
            "pv_recall": self.rate("pv_recall"),
            "complaint_recall": self.rate("complaint_recall"),
            "special_recall": self.rate("special_recall"),
            "special_kind_agreement": self.rate("special_kind_agreement"),
            "identifiers_left": self.identifiers_left,
            "false_block_rate": (self.false_blocks / self.clean_texts
                                 if self.clean_texts else None),
        }


def jsonl_cases(path: Path) -> Iterator[Case]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        yield Case(row["text"], row["adverse_event"], row["complaint"], row["special_situation"],
                   True, row["pv"], tuple(span["text"] for span in row["phi"]))


def ae_cases() -> Iterator[Case]:
    from bots.medinfo.products import Catalog
    from tests.medinfo import ae_cases as cases
    from tests.medinfo.sponsor_fixtures import directory

    catalog = Catalog(directory())
    for text, label in cases.CASES:
        yield Case(text, label == cases.AE, label == cases.COMPLAINT,
                   pv=label in (cases.AE, cases.COMPLAINT),
                   names_product=bool(catalog.recognise(text)))


def phi_cases() -> Iterator[Case]:
    from tests.medinfo import phi_cases as cases

    for text, identifiers in cases.CASES:
        yield Case(text, phi=tuple(identifiers))


SETS = {
    "set_a": lambda: jsonl_cases(DATA / "set_a.jsonl"),
    "set_b": lambda: jsonl_cases(DATA / "set_b.jsonl"),
    "medinfo ae_cases": ae_cases,
    "medinfo phi_cases": phi_cases,
}
# The measures each set labels (the older medinfo sets label only some).
LABELLED: dict[str, tuple[str, ...]] = {
    "set_a": tuple(THRESHOLDS),
    "set_b": tuple(THRESHOLDS),
    "medinfo ae_cases": ("ae_recall", "ae_precision", "pv_recall", "complaint_recall"),
    "medinfo phi_cases": ("identifiers_left", "false_block_rate"),
}


def score(cases: Iterable[Case]) -> Counts:
    counts = Counts()
    for case in cases:
        counts.cases += 1
        result = decision.assess(case.text, names_product=case.names_product)
        got = result.screening
        if case.adverse_event:
            counts.count("ae_recall", got.adverse_event)
        if case.adverse_event is not None and got.adverse_event:
            counts.count("ae_precision", case.adverse_event)
        if case.pv:
            counts.count("pv_recall", got.flagged)
        if case.complaint:
            counts.count("complaint_recall", got.complaint)
        if case.labels_special and case.special_situation:
            counts.count("special_recall", case.special_situation in got.special_situations)
            counts.count("special_kind_agreement",
                         got.special_situation == case.special_situation)
        if case.phi is not None:
            left = sum(1 for identifier in case.phi if identifier in result.redacted)
            counts.identifiers_left = (counts.identifiers_left or 0) + left
            if not case.phi:
                counts.clean_texts += 1
                counts.false_blocks += int(result.blocked)
    return counts


def failures(measures: dict[str, float | int | None]) -> list[str]:
    """Measures below (or above) the issue's thresholds; unlabelled ones are not judged."""
    failed = []
    for name, (side, bound) in THRESHOLDS.items():
        value = measures[name]
        if value is not None and (value < bound if side == "min" else value > bound):
            failed.append(name)
    return failed


def table(results: dict[str, Counts]) -> str:
    """One row per measure, one column per set, thresholds beside."""
    names = list(results)
    header = f"{'measure':<24}" + "".join(f"{n:>19}" for n in names) + f"{'needs':>10}"
    lines = [header, "-" * len(header)]
    lines.append(f"{'messages':<24}" + "".join(f"{results[n].cases:>19}" for n in names))
    every = [*THRESHOLDS, "special_kind_agreement"]
    for measure in every:
        cells = []
        for name in names:
            value = results[name].measures()[measure]
            cell = "-" if value is None else (f"{value}" if isinstance(value, int)
                                              else f"{value:.3f}")
            cells.append(f"{cell:>19}")
        side, bound = THRESHOLDS.get(measure, ("", 0.0))
        need = "" if not side else (f">= {bound}" if side == "min" else f"<= {bound}")
        lines.append(f"{measure:<24}" + "".join(cells) + f"{need:>10}")
    return "\n".join(lines)


def main() -> None:
    results = {name: score(load()) for name, load in SETS.items()}
    print(table(results))


if __name__ == "__main__":
    main()
