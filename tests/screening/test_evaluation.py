"""The issue's "Must show" thresholds on every labelled set, one test per set and measure.

The table is printed (run with ``-s``, or ``python -m tests.screening.evaluation``).
A measure a set does not label (the older medinfo sets label only some) is skipped.
"""

from __future__ import annotations

from functools import cache

import pytest

from tests.screening import evaluation

# Measures the held-out half misses after honest work on the tuning half, recorded
# here instead of lowering a threshold; strict, so a fix turns them into failures to
# remove from this table. Values are the measured numbers at the time of writing.
KNOWN_SHORTFALLS: dict[tuple[str, str], str] = {}


@cache
def _results() -> dict[str, evaluation.Counts]:
    results = {name: evaluation.score(load()) for name, load in evaluation.SETS.items()}
    print("\n" + evaluation.table(results))
    return results


CASES = [(name, measure) for name in evaluation.SETS for measure in evaluation.THRESHOLDS]


@pytest.mark.parametrize(("set_name", "measure"), [
    pytest.param(name, measure, marks=pytest.mark.xfail(
        strict=True, reason=KNOWN_SHORTFALLS[(name, measure)]))
    if (name, measure) in KNOWN_SHORTFALLS else (name, measure)
    for name, measure in CASES
])
def test_the_screens_meet_the_sponsor_threshold(set_name: str, measure: str) -> None:
    value = _results()[set_name].measures()[measure]
    if value is None:
        pytest.skip(f"{set_name} does not label {measure}")
    assert evaluation.failures({**dict.fromkeys(evaluation.THRESHOLDS), measure: value}) == [], (
        f"{set_name}: {measure} = {value}, needs {evaluation.THRESHOLDS[measure]}")


def test_the_independent_halves_are_the_size_the_issue_asks_for() -> None:
    sizes = {name: _results()[name].cases for name in ("set_a", "set_b")}
    assert sizes == {"set_a": 170, "set_b": 170}
