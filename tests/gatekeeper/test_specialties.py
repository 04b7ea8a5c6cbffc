"""Specialty names follow the taxonomy: a credential issued before its code was
known gets the name when a taxonomy with the code is imported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from bots.gatekeeper.registry.models import Taxonomy
from bots.gatekeeper.specialties import SHIPPED_TAXONOMY, ensure_taxonomy, load_taxonomy
from curbside.credentials import VerifiedCredential, active_credential


def _credential(user_id: str, code: str, specialty: str) -> VerifiedCredential:
    now = datetime.now(UTC)
    return VerifiedCredential(
        user_id=user_id, npi="1234567893", legal_name="Dana Whitfield", credential_text="MD",
        specialty=specialty, taxonomy_code=code, licence_state="MA", licence_number="1",
        verified_by="@v:x", evidence="", verified_at=now, expires_at=now + timedelta(days=9))


def test_importing_a_taxonomy_names_the_specialties_of_existing_credentials(
        engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        session.execute(delete(Taxonomy))
        session.add(_credential("@old:x", "207RC0000X", ""))           # issued with no name
        session.add(_credential("@code:x", "207Q00000X", "207Q00000X"))  # an older release
        session.add(_credential("@odd:x", "999999999X", ""))            # a code nobody lists
        session.commit()
    assert ensure_taxonomy(engine) > 40
    assert ensure_taxonomy(engine) == 0, "a loaded taxonomy is kept"
    with Session(engine) as session:
        assert active_credential(session, "@old:x").specialty == "Cardiovascular Disease"
        assert active_credential(session, "@code:x").specialty == "Family Medicine"
        assert active_credential(session, "@odd:x").specialty == ""
        assert active_credential(session, "@old:x").display_name == (
            "Dana Whitfield, MD · Cardiovascular Disease")

    renamed = tmp_path / "nucc.csv"
    renamed.write_text(SHIPPED_TAXONOMY.read_text().replace(
        ",Internal Medicine,Cardiovascular Disease,", ",Internal Medicine,Cardiology,"))
    assert load_taxonomy(engine, renamed)[1] == 1
    with Session(engine) as session:
        assert active_credential(session, "@old:x").specialty == "Cardiology"
