"""Tables of the fax gateway.

``fax_jobs``          one outbound fax, its state and lease (see status.py)
``fax_job_events``    every state change, in order: the feed callers poll
``fax_destinations``  per-destination submission window (rate limit)
``fax_routes``        called number -> owner (Matrix user, room, referral desk)
``fax_inbound``       received faxes, unique per (transport, provider fax id)
``fax_dispositions``  what became of each received fax (dispositions.py), a feed
``fax_feed_heads``    the last seq of each feed above (``fax_job_events``,
                      ``fax_inbound``, ``fax_dispositions``); see feed.py for why
                      seqs come from here

Fax numbers and recipient names are PHI-adjacent and stored encrypted; where
we must look a number up or group by it we keep a keyed hash beside it
(:func:`number_hash`), never the number itself. Documents live encrypted in
the document store; rows hold only references.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from curbside.database import Base
from curbside.phi import EncryptedText


def number_hash(pepper: bytes, number: str) -> str:
    """Keyed hash of a normalised fax number, for lookups without plaintext."""
    return hmac.new(pepper, number.encode(), hashlib.sha256).hexdigest()


class FeedHead(Base):
    __tablename__ = "fax_feed_heads"

    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)


class FeedRow:
    """A row of a commit-ordered feed: ``seq`` is set by :func:`fax_gateway.feed.append`.

    No database default: a row inserted any other way fails on the missing key
    instead of taking a number that could commit out of order.
    """

    __tablename__: str

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class FaxJob(Base):
    __tablename__ = "fax_jobs"
    __table_args__ = (UniqueConstraint("transport", "provider_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    transport: Mapped[str] = mapped_column(String(32), nullable=False)
    to_number: Mapped[str] = mapped_column(EncryptedText("fax_jobs.to_number"), nullable=False)
    destination_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    recipient_name: Mapped[str | None] = mapped_column(EncryptedText("fax_jobs.recipient_name"))
    caller_ident: Mapped[str] = mapped_column(String(64), nullable=False)
    document_ref: Mapped[str] = mapped_column(String(64), nullable=False)
    document_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    pages: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempt_key: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FaxJobEvent(FeedRow, Base):
    __tablename__ = "fax_job_events"

    job_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class FaxDestination(Base):
    __tablename__ = "fax_destinations"

    destination_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class FaxRoute(Base):
    __tablename__ = "fax_routes"

    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(EncryptedText("fax_routes.number"), nullable=False)
    owner_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_id: Mapped[str] = mapped_column(String(255), nullable=False)


class FaxInbound(FeedRow, Base):
    __tablename__ = "fax_inbound"
    __table_args__ = (UniqueConstraint("transport", "provider_fax_id"),)

    id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    transport: Mapped[str] = mapped_column(String(32), nullable=False)
    provider_fax_id: Mapped[str] = mapped_column(String(128), nullable=False)
    from_number: Mapped[str | None] = mapped_column(EncryptedText("fax_inbound.from_number"))
    to_number: Mapped[str] = mapped_column(EncryptedText("fax_inbound.to_number"), nullable=False)
    owner_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    owner_id: Mapped[str] = mapped_column(String(255), nullable=False)
    pages: Mapped[int] = mapped_column(Integer, nullable=False)
    document_ref: Mapped[str] = mapped_column(String(64), nullable=False)
    original_ref: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class FaxDisposition(FeedRow, Base):
    __tablename__ = "fax_dispositions"
    __table_args__ = (UniqueConstraint("inbound_id", "disposition"),)

    inbound_id: Mapped[str] = mapped_column(String(32), nullable=False)
    disposition: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
