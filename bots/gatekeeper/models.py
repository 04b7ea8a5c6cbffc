"""The gatekeeper's own tables (the credential records themselves are the kernel's).

``gatekeeper_requests``: one row per ``!verify`` conversation, holding where it
stands and the evidence gathered so far, so a restart resumes it.
``gatekeeper_contacts``: the direct-message room the bot talks to a clinician
in, so reminders and removal notices reach them.
``gatekeeper_notices``: a notice (reminder, removal) that was sent, keyed so
the sweeper sends each one once however often it runs.
``gatekeeper_verifiers``: the credentialing team (``curbside verifiers add``),
and the credentialing room each was invited to.
``gatekeeper_credentialing``: the credentialing room the gatekeeper created
(one row), when the config names none.
``gatekeeper_faxed_codes``: one-time codes faxed to an NPI's practice fax for
``!verify``; only a keyed hash of each code is kept (see fax_code.py).

These hold professional identity from the public registry, never patient data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base


class VerificationRequest(Base):
    __tablename__ = "gatekeeper_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    room_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    npi: Mapped[str | None] = mapped_column(String(10))
    registry_name: Mapped[str | None] = mapped_column(Text)
    legal_name: Mapped[str | None] = mapped_column(Text)
    credential_text: Mapped[str | None] = mapped_column(String(64))
    name_given: Mapped[str | None] = mapped_column(Text)
    licence_state: Mapped[str | None] = mapped_column(String(2))
    licence_number: Mapped[str | None] = mapped_column(String(64))
    taxonomy_code: Mapped[str | None] = mapped_column(String(10))
    specialty: Mapped[str | None] = mapped_column(Text)
    # The credentialing room the evidence was posted to; None until it is posted.
    posted_room_id: Mapped[str | None] = mapped_column(String(255))
    #: When the clinician typed back the code faxed to the NPI's NPPES practice fax.
    faxed_code_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Contact(Base):
    __tablename__ = "gatekeeper_contacts"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SentNotice(Base):
    __tablename__ = "gatekeeper_notices"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JoinRequest(Base):
    """A verified clinician's ``!join``: waits for one of the room's owners to decide.

    ``dm_room_id`` is where the requester is told the outcome; ``notice_event_id``
    is the notice in the room that owners can answer with a reaction.
    """

    __tablename__ = "gatekeeper_join_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    dm_room_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), index=True)
    notice_event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)


class Verifier(Base):
    __tablename__ = "gatekeeper_verifiers"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    invited_room_id: Mapped[str | None] = mapped_column(String(255))


class CredentialingRoom(Base):
    __tablename__ = "gatekeeper_credentialing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FaxCode(Base):
    __tablename__ = "gatekeeper_faxed_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    npi: Mapped[str] = mapped_column(String(10), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    gateway_job_id: Mapped[str | None] = mapped_column(String(32))
    wrong_tries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
