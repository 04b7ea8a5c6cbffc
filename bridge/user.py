"""The Matrix user the bridge serves, as far as sending faxes is concerned.

Only a clinician with an active verified credential (written by the
gatekeeper) may fax through the bridge; everyone else is told why and how to
become verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from curbside.credentials import active_credential

NOT_VERIFIED = (
    "Only verified clinicians can send faxes through Curbside, and your account has no "
    "active verified credential. Ask the gatekeeper bot to verify your licence (send it "
    "!help), then send the document again."
)


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    display_name: str | None

    @classmethod
    def verified(cls, session: Session, user_id: str) -> User | None:
        """The user if their credential is active now, else None."""
        credential = active_credential(session, user_id)
        if credential is None:
            return None
        return cls(user_id, credential.display_name)
