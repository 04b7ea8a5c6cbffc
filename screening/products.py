"""Which medicinal products a message mentions: any product, not only the sponsor's.

    text ──words and word pairs──> drug-named-entity-recognition's dictionary
         ──the caller's own names (a sponsor's catalogue)──> [Span("product")]
         ──product kinds in plain words ("the pen", "her inhaler", "a vaccine")──┘

The sponsor's pharmacovigilance decides relevance, so the screen must see
products it was never told about. drug-named-entity-recognition ships a drug
dictionary (DrugBank, MeSH, Wikipedia names and brand synonyms, about 107 000
variants); we read its dictionary file directly, keeping only the names,
because importing its finder also builds a fuzzy-match index we do not use
(about 300 MB and 4 s). Entries that are ordinary English words ("iron",
"today") are dropped so that a word alone is not a product.
"""

from __future__ import annotations

import bz2
import importlib.util
import os
import pickle
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

from screening.spans import Span, merge, terms_pattern

# Dictionary entries that are common words in clinicians' chat, not products here.
NOT_PRODUCTS = frozenset({
    "today", "water", "oxygen", "air", "iron", "salt", "sugar", "alcohol", "ice", "gold",
    "silver", "copper", "zinc", "sodium", "potassium", "calcium", "magnesium", "glucose",
    "level", "levels", "protein", "cell", "cells", "blood", "plasma", "serum", "ca", "na",
    "k", "mg", "ml", "iv", "im", "po", "bid", "tid", "qid", "prn", "ok", "pt", "pts", "hi",
    "care", "control", "plan", "health", "acid", "base", "light", "fire", "red", "yellow",
    "white", "blue", "green", "orange", "rest", "sleep", "hope", "vitamin", "vit", "lab",
    "labs", "test", "urine", "stool", "fat", "milk", "food", "diet", "exercise", "heat",
    "cold", "stress", "pain", "fever", "cough", "rash", "hiv", "hbv", "hcv", "tb",
    "dna", "rna", "ab", "ag", "cd", "ed", "er", "icu", "or", "ct", "mri", "ecg", "ekg",
    "bp", "hr", "rr", "pa", "np", "md", "rn", "dr", "ms", "mr", "mrs", "al", "di", "ii",
})

# Product kinds said in plain words: the product is there even if unnamed.
PRODUCT_WORDS = (
    "pen", "pens", "inhaler", "inhalers", "vaccine", "vaccines", "shot", "shots",
    "injection", "injections", "infusion", "infusions", "syringe", "syringes", "vial",
    "vials", "patch", "patches", "tablet", "tablets", "tabs", "pills", "capsules",
    "insulin", "pump", "cartridge", "autoinjector", "prefilled", "dose", "doses",
    "nebs", "chemo", "biosimilar", "generic", "brand", "medication", "med", "meds", "drug",
)

# Chat shorthand, combination brands and newer products the dictionary lacks.
CHAT_NAMES = (
    "augmentin", "pembro", "nivo", "ipi", "levo", "levothyrox", "vanco", "amio", "clarithro",
    "azithro", "doxy", "keflex", "norco", "percocet", "vicodin", "booster", "mmr", "tdap",
    "dtap", "hpv vaccine", "flu shot", "flu vaccine", "covid shot", "covid vaccine",
    "covid booster", "rsv vaccine", "depo", "depo-provera", "nexplanon", "iud", "ocp", "ocps",
    "birth control", "the pill", "steroids", "steroid", "immunotherapy", "biologic",
    "biologics", "contrast", "iv iron", "iv contrast", "chemo", "leqembi", "arexvy",
    "kanjinti", "abx", "antibiotic", "antibiotics", "statin", "ssri", "snri", "ppi", "nsaid",
    "nsaids", "glp-1", "glp1", "sglt2", "dmard", "tnf inhibitor", "jak inhibitor",
    "anticoagulant", "blood thinner", "antidepressant", "antipsychotic", "benzo", "benzos",
    "opioid", "opioids", "sleeping pill", "water pill", "vaccine", "vaccination", "jab",
)
# Endings of international non-proprietary names (WHO INN stems).
INN_STEMS = (
    "mab", "nib", "cept", "pril", "sartan", "olol", "statin", "azole", "cillin", "mycin",
    "floxacin", "cycline", "vir", "glutide", "gliptin", "gliflozin", "parin", "xaban",
    "gatran", "dipine", "prazole", "tidine", "triptan", "setron", "lukast", "afil", "oxetine",
    "azepam", "zolam", "profen", "coxib", "dronate", "codone", "morphone", "terol", "tropium",
    "olone", "asone", "semide", "thiazide", "tinib", "ciclib", "parib", "rafenib", "platin",
    "taxel", "rubicin", "mustine", "trexate", "limus", "tide", "formin", "glinide",
)
_STEM = re.compile(r"\b[a-z]{3,}(?:" + "|".join(INN_STEMS) + r")\b", re.I)
_CHAT = re.compile(terms_pattern(CHAT_NAMES), re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9/-]*[A-Za-z0-9]|[A-Za-z]")


@cache
def dictionary() -> frozenset[str]:
    """Lower-case product names from drug-named-entity-recognition's shipped dictionary.

    Its file holds far more than names (structures, links), and decompressing it
    takes seconds; the names alone are kept in a cache file beside the user's other
    caches, keyed by the dictionary file's size and time, so later processes read a
    plain list. The cache is only ever derived from the installed package.
    """
    spec = importlib.util.find_spec("drug_named_entity_recognition")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("drug-named-entity-recognition is not installed (see pyproject.toml)")
    path = Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2"
    stat = path.stat()
    cached = _cache_dir() / f"drug-names-{stat.st_size}-{int(stat.st_mtime)}.txt"
    try:
        return frozenset(cached.read_text(encoding="utf-8").split("\n"))
    except OSError:
        pass
    with bz2.open(path, "rb") as handle:
        variants = pickle.load(handle)["drug_variant_to_canonical"]
    names = frozenset(v for v in variants if len(v) > 2 and v not in NOT_PRODUCTS
                      and "\n" not in v)
    _write_cache(cached, names)
    return names


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "curbside"


def _write_cache(path: Path, names: frozenset[str]) -> None:
    """Best effort: a read-only home only means the next process builds the list again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text("\n".join(sorted(names)), encoding="utf-8")
        partial.replace(path)
    except OSError:
        return


_PRODUCT_WORDS = re.compile(terms_pattern(PRODUCT_WORDS), re.I)
# A capitalised word where chat puts a product ("sprayed with Kanjinti", "started on X"):
# a product the dictionary does not know yet, at low confidence.
_PRODUCT_SLOT = re.compile(
    r"\b(?i:on|with|started|starting|switched to|took|taking|gave|given|got|prescribed|"
    r"received|dose of|shot of|injection of|infusion of)\s+(?P<name>[A-Z][a-z]{3,}[A-Za-z]*)")
_NOT_SLOT = frozenset({"the", "this", "that", "his", "her", "their", "monday", "tuesday",
                       "wednesday", "thursday", "friday", "saturday", "sunday", "january",
                       "february", "march", "april", "june", "july", "august", "september",
                       "october", "november", "december", "call", "dialysis", "chemo"})


def find(text: str, known: Iterable[str] = ()) -> list[Span]:
    """Product mentions: dictionary names (confidence 0.9), the caller's names (1.0),
    chat names (0.9), INN stems (0.6), product words such as "the pen" (0.5) and a
    capitalised word where a product goes (0.4)."""
    return list(_find(text, tuple(known)))


@lru_cache(maxsize=256)
def _find(text: str, known: tuple[str, ...]) -> tuple[Span, ...]:
    names = dictionary()
    words = list(_WORD.finditer(text))
    found: list[Span] = []
    for index, word in enumerate(words):
        pair = words[index + 1] if index + 1 < len(words) else None
        if pair is not None and f"{word.group(0)} {pair.group(0)}".lower() in names:
            found.append(Span("product", word.start(), pair.end(), 0.9))
        lowered = word.group(0).lower()
        if lowered in names or lowered.split("/")[0] in names:
            found.append(Span("product", word.start(), word.end(), 0.9))
    for name in known:
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.I):
            found.append(Span("product", match.start(), match.end(), 1.0))
    found.extend(Span("product", m.start(), m.end(), 0.9) for m in _CHAT.finditer(text))
    found.extend(Span("product", m.start(), m.end(), 0.6) for m in _STEM.finditer(text))
    found.extend(Span("product", m.start(), m.end(), 0.5) for m in _PRODUCT_WORDS.finditer(text))
    found.extend(Span("product", m.start("name"), m.end("name"), 0.4)
                 for m in _PRODUCT_SLOT.finditer(text) if m.group("name").lower() not in _NOT_SLOT)
    return tuple(merge(found))
