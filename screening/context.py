"""Is a found term asserted? medspaCy's ConText on a blank English pipeline.

    text ──blank "en" tokenizer──> sentences (PyRuSH) ──targets = candidate spans──>
    ConText (default rules + ours) ──> per span: negated · hypothetical · uncertain ·
                                                historical · family

ConText (Harkema et al. 2009) generalises NegEx: a trigger ("denies", "if",
"history of", "mother") modifies targets within its scope up to a terminating
term ("but"). medspaCy ships the rule set; it needs no trained model, so nothing
is downloaded at run time. Our few extra rules are the chat phrasings the
default set lacks ("so far", "would you", "in general").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from screening.spans import Span

# (literal, category, direction) — chat phrasings absent from medspaCy's defaults.
# PSEUDO rules stop a trigger firing inside a longer phrase ("if your team needs").
EXTRA_RULES: tuple[tuple[str, str, str], ...] = (
    ("if your", "PSEUDO", "FORWARD"),
    ("if you", "PSEUDO", "FORWARD"),
    ("if that", "PSEUDO", "FORWARD"),
    ("if it matters", "PSEUDO", "FORWARD"),
    ("told him not to", "PSEUDO", "FORWARD"),
    ("told her not to", "PSEUDO", "FORWARD"),
    ("told them not to", "PSEUDO", "FORWARD"),
    ("not to", "PSEUDO", "FORWARD"),
    ("nobody started", "PSEUDO", "FORWARD"),
    ("didn't tell", "PSEUDO", "FORWARD"),
    ("did not tell", "PSEUDO", "FORWARD"),
    ("not in pi", "PSEUDO", "FORWARD"),
    ("not in the pi", "PSEUDO", "FORWARD"),
    ("not in the label", "PSEUDO", "FORWARD"),
    ("not on label", "PSEUDO", "FORWARD"),
    ("now", "TERMINATE", "TERMINATE"),
    ("and now", "TERMINATE", "TERMINATE"),
    ("then", "TERMINATE", "TERMINATE"),
    ("so far", "NEGATED_EXISTENCE", "BACKWARD"),
    ("nobody started prophylaxis", "PSEUDO", "FORWARD"),
    ("no issues", "NEGATED_EXISTENCE", "FORWARD"),
    ("never had", "NEGATED_EXISTENCE", "FORWARD"),
    ("never reacted", "NEGATED_EXISTENCE", "FORWARD"),
    ("not affected", "NEGATED_EXISTENCE", "BACKWARD"),
    ("would you", "HYPOTHETICAL", "BIDIRECTIONAL"),
    ("what if", "HYPOTHETICAL", "FORWARD"),
    ("in case", "HYPOTHETICAL", "FORWARD"),
    ("in general", "HYPOTHETICAL", "BIDIRECTIONAL"),
    ("risk of", "HYPOTHETICAL", "FORWARD"),
    ("rate of", "HYPOTHETICAL", "FORWARD"),
    ("incidence of", "HYPOTHETICAL", "FORWARD"),
    ("how often", "HYPOTHETICAL", "FORWARD"),
    ("watch for", "HYPOTHETICAL", "FORWARD"),
    ("monitor for", "HYPOTHETICAL", "FORWARD"),
    ("known side effect", "HYPOTHETICAL", "BACKWARD"),
    ("worried about", "HYPOTHETICAL", "FORWARD"),
    ("to avoid", "HYPOTHETICAL", "FORWARD"),
    ("could it cause", "HYPOTHETICAL", "BIDIRECTIONAL"),
    ("i think", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("maybe", "POSSIBLE_EXISTENCE", "FORWARD"),
    ("?", "POSSIBLE_EXISTENCE", "BACKWARD"),
)


# Words a rule reaches (default: the sentence): "so far" looks back a few words only.
SCOPES = {"so far": 3, "?": 8}


@dataclass(frozen=True, slots=True)
class Assertion:
    """What ConText says about one target span."""

    negated: bool
    hypothetical: bool
    uncertain: bool
    historical: bool
    family: bool


PLAIN = Assertion(False, False, False, False, False)


@cache
def pipeline() -> Any:
    """The blank English pipeline with PyRuSH sentences and ConText, built once per process."""
    import medspacy  # noqa: F401  (registers the medspaCy components with spaCy)
    import spacy
    from medspacy.context import ConTextRule

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    context: Any = nlp.add_pipe("medspacy_context", config={"rules": "default"})
    context.add([ConTextRule(literal, category, direction=direction,
                             max_scope=SCOPES.get(literal))
                 for literal, category, direction in EXTRA_RULES])
    return nlp


_RECENT: OrderedDict[str, dict[tuple[int, int], Assertion]] = OrderedDict()
_RECENT_LOCK = threading.Lock()
RECENT_TEXTS = 64  # texts whose assertions are kept, so the screens of one message share a run


def prepare(text: str, targets: Sequence[Span]) -> None:
    """Run ConText once over every screen's targets of ``text``; later calls for the same
    text and targets are answered from this run (the result is the same, only faster)."""
    results = _run(text, targets)
    with _RECENT_LOCK:
        _RECENT[text] = {(t.start, t.end): a for t, a in zip(targets, results, strict=True)}
        _RECENT.move_to_end(text)
        while len(_RECENT) > RECENT_TEXTS:
            _RECENT.popitem(last=False)


def assertions(text: str, targets: Sequence[Span]) -> list[Assertion]:
    """One assertion per target, in order (overlapping targets share the first one's)."""
    if not targets:
        return []
    with _RECENT_LOCK:
        known = _RECENT.get(text)
        if known is not None and all((t.start, t.end) in known for t in targets):
            return [known[(t.start, t.end)] for t in targets]
    return _run(text, targets)


def _run(text: str, targets: Sequence[Span]) -> list[Assertion]:
    if not targets:
        return []
    nlp = pipeline()
    doc = nlp.make_doc(text)
    chosen: dict[int, Any] = {}
    used: set[int] = set()
    for index, target in enumerate(targets):
        span = doc.char_span(target.start, target.end, label=target.kind,
                             alignment_mode="expand")
        if span is None or used & set(range(span.start, span.end)):
            continue
        used.update(range(span.start, span.end))
        chosen[index] = span
    doc.ents = sorted(chosen.values(), key=lambda s: s.start)
    for _, component in nlp.pipeline:
        doc = component(doc)
    by_start = {ent.start: ent for ent in doc.ents}
    results: list[Assertion] = []
    for index, target in enumerate(targets):
        span = chosen.get(index)
        if span is None:
            overlapping = [s for i, s in chosen.items() if targets[i].overlaps(target.start,
                                                                                 target.end)]
            span = overlapping[0] if overlapping else None
        ent = by_start.get(span.start) if span is not None else None
        if ent is None:
            results.append(PLAIN)
            continue
        results.append(_assertion(ent))
    return results


_FLAGS = {"NEGATED_EXISTENCE": "negated", "HYPOTHETICAL": "hypothetical",
          "POSSIBLE_EXISTENCE": "uncertain", "HISTORICAL": "historical", "FAMILY": "family"}


def _assertion(ent: Any) -> Assertion:
    """Flags from the modifiers of ``ent``, less any trigger inside the term itself
    ("won't click", "can't find the expiry" are complaint terms, not negations)."""
    flags = dict.fromkeys(_FLAGS.values(), False)
    for modifier in ent._.modifiers:
        start, end = modifier.modifier_span
        if start >= ent.start and end <= ent.end:
            continue
        name = _FLAGS.get(modifier.category)
        if name:
            flags[name] = True
    return Assertion(**flags)
