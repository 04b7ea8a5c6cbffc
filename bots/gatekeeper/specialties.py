"""Specialty names from the NUCC taxonomy, and keeping stored ones in step with it.

    NUCC code set (shipped excerpt, or the full file) ──import──► registry_taxonomies
          │                                                           │
          └── refresh_specialties ◄───────────────────────────────────┘
                 verified credentials and open requests get the name of their code

A credential keeps the specialty *name* people read ("Cardiovascular
Disease"), never the code: the directory, the verified display name, the
referral letter and the MSL's view of a requester all show it. The name is
the code's NUCC Specialization, or its Classification when it has none. A
credential issued before its code was known (no taxonomy loaded) has an
empty specialty, and gets its name here as soon as a taxonomy that has the
code is imported — ``curbside init`` loads the shipped excerpt, and
``curbside registry import-taxonomy`` the full file.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, func, select

from bots.gatekeeper.models import VerificationRequest
from bots.gatekeeper.registry.models import Taxonomy
from bots.gatekeeper.registry.taxonomy import import_taxonomy
from curbside.credentials import VerifiedCredential
from curbside.database import session_scope

#: The NUCC rows of every code the synthetic registry and the demo use.
SHIPPED_TAXONOMY = Path(__file__).resolve().parent / "registry" / "data" / "nucc_shipped.csv"


def specialty_name(classification: str, specialization: str | None) -> str:
    """'Internal Medicine' + 'Cardiovascular Disease' -> 'Cardiovascular Disease'."""
    return specialization or classification


def refresh_specialties(engine: Engine) -> int:
    """Give every credential and open request the name of its code; returns how many changed."""
    changed = 0
    with session_scope(engine) as session:
        names = {
            row.code: specialty_name(row.classification, row.specialization)
            for row in session.execute(
                select(Taxonomy.code, Taxonomy.classification, Taxonomy.specialization))
        }
        holders: list[VerifiedCredential | VerificationRequest] = [
            *session.scalars(select(VerifiedCredential)),
            *session.scalars(select(VerificationRequest)
                             .where(VerificationRequest.taxonomy_code.is_not(None))),
        ]
        for holder in holders:
            name = names.get(holder.taxonomy_code or "")
            if name is not None and holder.specialty != name:
                holder.specialty = name
                changed += 1
    return changed


def load_taxonomy(engine: Engine, path: str | os.PathLike[str]) -> tuple[int, int]:
    """Import a NUCC file and rename stored specialties; (codes stored, records renamed)."""
    count = import_taxonomy(engine, path)
    return count, refresh_specialties(engine)


def ensure_taxonomy(engine: Engine) -> int:
    """Load the shipped excerpt when no taxonomy is loaded; returns the codes stored (0: kept)."""
    with session_scope(engine) as session:
        if session.scalar(select(func.count()).select_from(Taxonomy)):
            return 0
    return load_taxonomy(engine, SHIPPED_TAXONOMY)[0]
