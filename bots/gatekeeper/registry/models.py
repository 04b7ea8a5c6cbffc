"""Tables of the provider registry (a copy of the public CMS NPPES data).

``registry_providers`` holds one row per NPI with what verification needs;
``registry_licences`` holds the up-to-15 taxonomy slots of each NPI with the
licence paired to each; ``registry_taxonomies`` is the NUCC code set with our
clinical/non-clinical decision. The Alembic scripts in
``bots/gatekeeper/migrations/versions`` create exactly these tables; a test
compares the migrated schema with this metadata.

Free text is ``Text``, not ``String(n)``: NPPES has widened fields before
(the v2 file), and on PostgreSQL one over-long value would abort a whole
import batch. The tables keep SQLite's rowid: the wide provider rows then
append in file order and only the narrow NPI index takes random inserts,
which matters for the nine-million-row monthly file.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base


class Provider(Base):
    """One NPI as last published by NPPES."""

    __tablename__ = "registry_providers"
    __table_args__ = (
        Index("ix_registry_providers_practice_state", "practice_state"),
    )

    npi: Mapped[str] = mapped_column(String(10), primary_key=True)
    #: 1 individual, 2 organisation; NULL for a deactivated NPI first seen
    #: deactivated (NPPES publishes only the NPI and dates for those).
    entity_type: Mapped[int | None] = mapped_column(SmallInteger)
    organization_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    middle_name: Mapped[str | None] = mapped_column(Text)
    name_prefix: Mapped[str | None] = mapped_column(Text)
    name_suffix: Mapped[str | None] = mapped_column(Text)
    credential: Mapped[str | None] = mapped_column(Text)
    sex: Mapped[str | None] = mapped_column(Text)
    practice_state: Mapped[str | None] = mapped_column(Text)
    practice_postal_code: Mapped[str | None] = mapped_column(Text)
    #: The practice location's fax as NPPES publishes it (10 digits, US), for
    #: verification by fax; public registry data, not PHI.
    practice_fax: Mapped[str | None] = mapped_column(Text)
    enumeration_date: Mapped[dt.date | None] = mapped_column(Date)
    last_update_date: Mapped[dt.date | None] = mapped_column(Date)
    deactivation_date: Mapped[dt.date | None] = mapped_column(Date)
    reactivation_date: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean)


class Licence(Base):
    """One taxonomy slot of an NPI and the state licence reported with it."""

    __tablename__ = "registry_licences"
    __table_args__ = (
        Index("ix_registry_licences_taxonomy_code", "taxonomy_code"),
    )

    npi: Mapped[str] = mapped_column(
        String(10), ForeignKey("registry_providers.npi", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    taxonomy_code: Mapped[str] = mapped_column(String(10))
    licence_number: Mapped[str | None] = mapped_column(Text)
    licence_state: Mapped[str | None] = mapped_column(Text)
    is_primary: Mapped[bool] = mapped_column(Boolean)


class Taxonomy(Base):
    """One NUCC Health Care Provider Taxonomy code and whether it is clinical."""

    __tablename__ = "registry_taxonomies"

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    grouping: Mapped[str] = mapped_column(Text)
    classification: Mapped[str] = mapped_column(Text)
    specialization: Mapped[str | None] = mapped_column(Text)
    display_name: Mapped[str | None] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(Text)
    clinical: Mapped[bool] = mapped_column(Boolean)
