"""The directory of verified colleagues (``!find cardiology MA``).

It lists *verified credentials*, not the whole registry: only people who can
actually be reached here, who are still verified, and who have not opted out
(``!directory hide``). A search term matches the verified specialty text or,
through the registry's NUCC code set and its synonyms ("cardiology" →
Cardiovascular Disease), the credential's taxonomy code.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bots.gatekeeper.registry import specialty_codes
from curbside.audit import AuditLog
from curbside.credentials import Credential, VerifiedCredential, active_credential


def find_colleagues(
    session: Session, specialty: str, state: str, *, now: datetime, limit: int
) -> list[Credential]:
    """Verified, listed clinicians licensed in ``state`` whose specialty matches."""
    term = specialty.strip().casefold()
    codes = specialty_codes(session, term)
    query = (
        select(VerifiedCredential.user_id)
        .where(
            VerifiedCredential.licence_state == state.strip().upper(),
            VerifiedCredential.revoked_at.is_(None),
            VerifiedCredential.expires_at > now,
            VerifiedCredential.directory_opt_out.is_(False),
            or_(
                func.lower(VerifiedCredential.specialty).contains(term, autoescape=True),
                VerifiedCredential.taxonomy_code.in_(codes),
            ),
        )
        .order_by(VerifiedCredential.legal_name, VerifiedCredential.user_id)
        .limit(limit)
    )
    found = [active_credential(session, user_id, now) for user_id in session.scalars(query)]
    return [c for c in found if c is not None]


def set_listed(
    session: Session, audit: AuditLog, user_id: str, *, listed: bool, now: datetime
) -> bool:
    """Opt in to or out of the directory; False when the user holds no active credential."""
    if active_credential(session, user_id, now) is None:
        return False
    row = session.get(VerifiedCredential, user_id)
    assert row is not None
    row.directory_opt_out = not listed
    session.flush()
    audit.record(
        session, actor=user_id, action="directory.show" if listed else "directory.hide",
        record_type="verified_credential", record_id=user_id,
    )
    return True
