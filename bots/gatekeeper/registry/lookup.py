"""Queries over the registry: one NPI for verification, a directory search.

Handlers call these and get frozen values back; no SQL leaves this module.
Every function accepts an :class:`~sqlalchemy.Engine`, a
:class:`~sqlalchemy.Connection` or an ORM :class:`~sqlalchemy.orm.Session`, so
the bot can reuse the unit of work it already has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, or_, select
from sqlalchemy.orm import Session

from bots.gatekeeper.registry.models import Licence, Provider, Taxonomy
from bots.gatekeeper.registry.taxonomy import classify

Database = Engine | Connection | Session

DEFAULT_SEARCH_LIMIT = 20

#: Words people type for a speciality, mapped to the NUCC wording they mean.
SPECIALTY_SYNONYMS: dict[str, str] = {
    "cardiology": "cardiovascular disease",
    "cardiologist": "cardiovascular disease",
    "gi": "gastroenterology",
    "gastro": "gastroenterology",
    "ob/gyn": "obstetrics & gynecology",
    "obgyn": "obstetrics & gynecology",
    "ortho": "orthopaedic surgery",
    "orthopedics": "orthopaedic surgery",
    "peds": "pediatrics",
    "paediatrics": "pediatrics",
    "psych": "psychiatry",
    "np": "nurse practitioner",
    "pa": "physician assistant",
    "dental": "dentist",
    "primary care": "family medicine",
}


@dataclass(frozen=True, slots=True)
class LicenceRecord:
    """One taxonomy slot of an NPI, with its name and clinical decision."""

    slot: int
    taxonomy_code: str
    specialty: str | None
    clinical: bool
    licence_number: str | None
    licence_state: str | None
    is_primary: bool


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    """An NPI as the registry knows it, with its licences in slot order."""

    npi: str
    entity_type: int | None
    organization_name: str | None
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    name_prefix: str | None
    name_suffix: str | None
    credential: str | None
    sex: str | None
    practice_state: str | None
    practice_postal_code: str | None
    practice_fax: str | None
    enumeration_date: dt.date | None
    last_update_date: dt.date | None
    deactivation_date: dt.date | None
    reactivation_date: dt.date | None
    active: bool
    licences: tuple[LicenceRecord, ...]

    @property
    def is_individual(self) -> bool:
        return self.entity_type == 1

    @property
    def display_name(self) -> str:
        """"JANE Q DOE, MD" for a person, the legal name for an organisation."""
        if self.entity_type == 2:
            return self.organization_name or self.npi
        parts = [p for p in (self.first_name, self.middle_name, self.last_name) if p]
        name = " ".join(parts) or self.npi
        return f"{name}, {self.credential}" if self.credential else name

    @property
    def primary_licence(self) -> LicenceRecord | None:
        """The slot flagged primary, else the first slot (NPPES allows neither)."""
        return next((lic for lic in self.licences if lic.is_primary), None) or next(
            iter(self.licences), None
        )


@contextmanager
def _connection(db: Database) -> Iterator[Connection | Session]:
    if isinstance(db, Engine):
        with db.connect() as connection:
            yield connection
    else:
        yield db


def _specialty_name(classification: str | None, specialization: str | None) -> str | None:
    if classification is None:
        return None
    return f"{classification} - {specialization}" if specialization else classification


def _licences(db: Connection | Session, npis: Sequence[str]) -> dict[str, list[LicenceRecord]]:
    query = (
        select(
            Licence.__table__, Taxonomy.classification, Taxonomy.specialization, Taxonomy.clinical
        )
        .outerjoin(Taxonomy, Taxonomy.code == Licence.taxonomy_code)
        .where(Licence.npi.in_(npis))
        .order_by(Licence.npi, Licence.slot)
    )
    found: dict[str, list[LicenceRecord]] = {npi: [] for npi in npis}
    for row in db.execute(query):
        code = row.taxonomy_code
        found[row.npi].append(
            LicenceRecord(
                slot=row.slot,
                taxonomy_code=code,
                specialty=_specialty_name(row.classification, row.specialization),
                clinical=classify(code).clinical if row.clinical is None else bool(row.clinical),
                licence_number=row.licence_number,
                licence_state=row.licence_state,
                is_primary=bool(row.is_primary),
            )
        )
    return found


def _records(db: Connection | Session, query: Select[Any]) -> list[ProviderRecord]:
    """Run a query over the providers table (as plain rows, so Core and ORM agree)."""
    providers = list(db.execute(query))
    licences = _licences(db, [p.npi for p in providers]) if providers else {}
    return [
        ProviderRecord(
            npi=p.npi,
            entity_type=p.entity_type,
            organization_name=p.organization_name,
            last_name=p.last_name,
            first_name=p.first_name,
            middle_name=p.middle_name,
            name_prefix=p.name_prefix,
            name_suffix=p.name_suffix,
            credential=p.credential,
            sex=p.sex,
            practice_state=p.practice_state,
            practice_postal_code=p.practice_postal_code,
            practice_fax=p.practice_fax,
            enumeration_date=p.enumeration_date,
            last_update_date=p.last_update_date,
            deactivation_date=p.deactivation_date,
            reactivation_date=p.reactivation_date,
            active=bool(p.active),
            licences=tuple(licences[p.npi]),
        )
        for p in providers
    ]


def find_provider(db: Database, npi: str) -> ProviderRecord | None:
    """The registry's record of ``npi`` (active or not), or None if NPPES never listed it."""
    query = select(Provider.__table__).where(Provider.npi == npi.strip())
    with _connection(db) as connection:
        records = _records(connection, query)
    return records[0] if records else None


def specialty_codes(db: Database, specialty: str) -> list[str]:
    """NUCC codes whose name matches ``specialty`` (a code, a word, or a synonym)."""
    term = specialty.strip().casefold()
    if not term:
        return []
    terms = {term, SPECIALTY_SYNONYMS.get(term, term)}
    columns = (Taxonomy.classification, Taxonomy.specialization, Taxonomy.display_name)
    matches = [func.lower(column).contains(t, autoescape=True) for t in terms for column in columns]
    query = select(Taxonomy.code).where(or_(Taxonomy.code == term.upper(), *matches))
    with _connection(db) as connection:
        return sorted(connection.execute(query).scalars())


def search_providers(
    db: Database, specialty: str, state: str, *, limit: int = DEFAULT_SEARCH_LIMIT
) -> list[ProviderRecord]:
    """Active providers practising in ``state`` with a taxonomy matching ``specialty``.

    Backs the directory command (``!find cardiology MA``). Results are ordered
    by name so repeated searches page predictably.
    """
    codes = specialty_codes(db, specialty)
    if not codes:
        return []
    holders = select(Licence.npi).where(Licence.taxonomy_code.in_(codes))
    query = (
        select(Provider.__table__)
        .where(
            Provider.practice_state == state.strip().upper(),
            Provider.active.is_(True),
            Provider.npi.in_(holders),
        )
        .order_by(Provider.last_name, Provider.first_name, Provider.organization_name, Provider.npi)
        .limit(limit)
    )
    with _connection(db) as connection:
        return _records(connection, query)


def first_licensed(db: Database, taxonomy_code: str, *,
                   skip: Sequence[str] = ()) -> ProviderRecord | None:
    """The active individual with the lowest NPI holding a state licence under
    ``taxonomy_code`` (NPIs in ``skip`` left out): how the demo picks its people
    from a synthetic registry without anyone reading the file."""
    holders = select(Licence.npi).where(
        Licence.taxonomy_code == taxonomy_code,
        Licence.licence_state.is_not(None),
        Licence.licence_number.is_not(None),
    )
    query = (
        select(Provider.__table__)
        .where(Provider.active.is_(True), Provider.entity_type == 1,
               Provider.npi.in_(holders), Provider.npi.not_in(list(skip)))
        .order_by(Provider.npi)
        .limit(1)
    )
    with _connection(db) as connection:
        records = _records(connection, query)
    return records[0] if records else None


def has_providers(db: Database) -> bool:
    """Whether any registry has been imported (so a demo must not add a synthetic one)."""
    with _connection(db) as connection:
        return connection.execute(select(Provider.npi).limit(1)).first() is not None
