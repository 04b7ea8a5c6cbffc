"""Reading `curbside up`'s Prometheus endpoint with curl, as an operator's shell would."""

from __future__ import annotations

import subprocess

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample the endpoint serves now, by name and labels."""
    text = subprocess.run(
        ["curl", "-sf", url], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One series' value (0 when it is not there)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    """The sum of a sample name over all its label values."""
    return sum(v for (sample, _), v in samples.items() if sample == name)


def labelled(samples: Samples, name: str) -> list[dict[str, str]]:
    """The label sets ``name`` is served with."""
    return [dict(labels) for sample, labels in samples if sample == name]
